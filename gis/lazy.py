"""Lazy public APIs for riskplan's packages: a name is imported when it is first used.

``import gis`` (or ``planning``, ``risk_models``, ``maps``) then costs almost nothing, so the
command line starts fast and loads geopandas, networkx, scikit-learn or folium only for the
commands that need them (PEP 562 module ``__getattr__``). Each package's ``__init__`` lists
its public names per module, and imports them for type checkers under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, exports: Mapping[str, Sequence[str]], *, absolute: bool = False
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` exporting ``exports`` lazily.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        ``{submodule: names}``: each name is imported from ``package.submodule`` on first use
        and then kept in the package's namespace.
    absolute
        The keys of ``exports`` are full module names (``"planning.coverage"``), for a facade
        over other packages.

    Examples
    --------
    >>> getattr_, dir_ = attach("gis", {"schema": ["LAYERS"]})
    >>> "fire_stations" in getattr_("LAYERS"), dir_()
    (True, ['LAYERS'])
    """
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook of PEP 562
        module = where.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module if absolute else f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(where)

    return __getattr__, __dir__
