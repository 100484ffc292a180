"""Where a city's natural-hazard layers are: the ``[natural_hazards]`` table of a scenario TOML.

.. code-block:: toml

    [natural_hazards]
    label = "risk census 2022"          # shown in the notes
    zones = "geohazards.gpkg"           # polygons or points with hazard_type and grade
    zones_layer = "landslides"          # optional: the layer of a multi-layer file
    table = "my_natural_hazards.toml"   # optional: overrides of natural_hazards.toml
    relocation_return_period = 100      # optional: the flood the relief depots plan for
    closure_return_period = 100         # optional: `riskplan run` closes the roads this flood floods
    [natural_hazards.flood_depth]       # return period in years = depth raster in metres
    10 = "flood_10y.tif"
    50 = "flood_50y.tif"
    100 = "flood_100y.tif"

Paths are relative to the TOML file. Every problem names the TOML, the entry and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gis.errors import InputError
from gis.io import LayerSource, read_layer
from gis.tables import read_toml, toml_path

from .exposure import NaturalHazards

__all__ = ["NATURAL_KEYS", "natural_hazards_from_toml", "read_natural_hazards"]

#: The keys of ``[natural_hazards]``.
NATURAL_KEYS = frozenset(
    {"label", "zones", "zones_layer", "flood_depth", "table", "relocation_return_period"}
    | {"closure_return_period"}
)


def natural_hazards_from_toml(table: Any, src: Path) -> tuple[NaturalHazards, Path | None]:
    """The layers and the table override of a ``[natural_hazards]`` table read from ``src``.

    Raises
    ------
    InputError
        Unknown keys, missing files, a return period that is not a number of years, zones that
        cannot be read.
    """
    if not isinstance(table, Mapping):
        msg = (
            f"Scenario TOML `{src}`: `natural_hazards` is not a table. Fix: write it as `[natural_hazards]`."
        )
        raise InputError(msg)
    where = f"Scenario TOML `{src}`, table [natural_hazards]"
    unknown = sorted(set(table) - NATURAL_KEYS)
    if unknown:
        msg = f"{where} has unknown key(s) {unknown}. Fix: use only {sorted(NATURAL_KEYS)}."
        raise InputError(msg)
    floods = table.get("flood_depth", {})
    if not isinstance(floods, Mapping):
        msg = (
            f"{where}: `flood_depth` is not a table. Fix: give `[natural_hazards.flood_depth]` "
            'with one `100 = "depth.tif"` line per return period.'
        )
        raise InputError(msg)
    depth = {}
    for period in floods:
        path = toml_path(src, f"{where}.flood_depth", floods, period, file=True)
        assert path is not None
        depth[period] = path
    zones = None
    zones_path = toml_path(src, where, table, "zones", file=True)
    if zones_path is not None:
        layer = table.get("zones_layer")
        zones = read_layer(LayerSource("natural_hazard_zones", zones_path, file_layer=layer))
    override = toml_path(src, where, table, "table", file=True)
    relocation = table.get("relocation_return_period")
    known = {float(str(t)) for t in depth}
    ok = isinstance(relocation, int | float) and not isinstance(relocation, bool)
    if relocation is not None and not (ok and float(relocation) in known):
        msg = (
            f"{where}: `relocation_return_period` is {relocation!r}. Fix: give one of the flood "
            f"depth rasters' return periods ({sorted(known) or 'none given'}): the relief depots "
            "then plan for the residents that flood displaces."
        )
        raise InputError(msg)
    closure = table.get("closure_return_period")
    if closure is not None and not (
        isinstance(closure, int | float) and not isinstance(closure, bool) and float(closure) in known
    ):
        periods = ", ".join(f"{t:g}" for t in sorted(known)) or "none"
        msg = (
            f"{where}: `closure_return_period` is {closure!r}, and the flood depth rasters have the "
            f"return periods {periods} (years). Fix: give one of those: the run then closes the "
            "roads that flood puts under water."
        )
        raise InputError(
            msg, key="flood_closure_period", values={"file": str(src), "value": closure, "periods": periods}
        )
    hazards = NaturalHazards(
        depth, zones, str(table.get("label", "")),
        relocation_return_period=None if relocation is None else float(relocation),
        closure_return_period=None if closure is None else float(closure),
    )  # fmt: skip
    return hazards, override


def read_natural_hazards(path: str | Path) -> tuple[NaturalHazards, Path | None] | None:
    """The ``[natural_hazards]`` of a TOML file (a scenario or a file of its own); None without one."""
    path = Path(path)
    doc = read_toml(path)
    table = doc.get("natural_hazards")
    if table is None:
        return None
    return natural_hazards_from_toml(table, path)
