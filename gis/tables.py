"""Load the TOML data tables shipped in ``gis/data`` (and other packages' ``data``).

Tables are read and parsed once, then handed out as deep copies merged with
per-call overrides, so one caller (one web request) can never change what
another sees.

One convention holds for every shipped table: a function that reads one takes its overrides
in a keyword named after the table (``road_speeds=``, ``building_population=``,
``osm_hazards=``, ``planning_norms=``, ``response_standards=``, ``risk_weights=``,
``map_style=``; ``demo_params=`` for ``demo_city.toml``), typed :data:`TableOverrides`: a
mapping merged over the shipped table, or the path of a TOML file holding the entries to change.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = ["TableOverrides", "deep_merge", "load_table", "read_toml", "toml_path"]

#: Overrides of a shipped table: a mapping merged over it, the path of a TOML file, or None.
TableOverrides = Mapping[str, Any] | str | Path | None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning a syntax error into an :class:`InputError` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        msg = f"TOML file `{path}` does not exist. Fix: check the path."
        raise InputError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"TOML file `{path}` is not valid TOML: {exc}. Fix: correct the syntax at that line."
        raise InputError(msg) from None


@cache
def _packaged(package: str, name: str) -> dict[str, Any]:
    text = resources.files(package).joinpath("data", f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``override`` (neither is modified)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_table(
    name: str,
    overrides: TableOverrides = None,
    *,
    package: str = "gis",
) -> dict[str, Any]:
    """Return the shipped table ``name`` merged with ``overrides``.

    Parameters
    ----------
    name
        Table name: the file ``<package>/data/<name>.toml``.
    overrides
        A mapping, or the path of a TOML file, whose entries replace the defaults.
    package
        Package that ships the table.

    Returns
    -------
    dict
        A fresh copy that the caller may modify.

    Examples
    --------
    >>> speeds = load_table("road_speeds")
    >>> speeds["highway"]["primary"]["speed_kph"]
    50.0
    """
    base = _packaged(package, name)
    if overrides is None:
        return copy.deepcopy(base)
    if isinstance(overrides, (str, Path)):
        overrides = read_toml(overrides)
    return deep_merge(base, overrides)


def toml_path(
    src: Path, where: str, table: Mapping[str, Any], key: str, *, file: bool = False
) -> Path | None:
    """The path ``table[key]`` of a TOML file ``src`` (relative to it), checked to exist; None when absent.

    ``where`` names the TOML and table in the message; ``file`` requires a file (not a folder).

    Raises
    ------
    InputError
        The path does not exist (or is not a file, with ``file``).

    Examples
    --------
    >>> toml_path(Path("scenario.toml"), "Scenario TOML", {}, "survey") is None
    True
    """
    if table.get(key) is None:
        return None
    p = Path(str(table[key]))
    p = p if p.is_absolute() else src.parent / p
    if not (p.is_file() if file else p.exists()):
        msg = f"{where}: `{key}` `{p}` does not exist. Fix: correct the path (relative to the TOML)."
        raise InputError(msg)
    return p
