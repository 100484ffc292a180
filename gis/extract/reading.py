"""Everything ``riskplan init`` needs from an OSM file, in one read, and the drivable roads.

The selections (tag specs) of every derived layer are read together by
:func:`gis.osm.read_osm_layers`; the drivable filter on the road ways is the road graph's own
(:mod:`gis.network._speeds`: ``highway`` classes of ``gis/data/road_speeds.toml``, ``area=yes`` left out).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError
from ..network._speeds import _speeds, _text, speed_table
from ..osm import OsmLayers, TagSpec, read_osm_layers
from ..tables import TableOverrides
from .hazards import HazardRules

__all__ = ["LINE_SELECTIONS", "SENSITIVE_TAGS", "drivable_roads", "read_extract", "selections"]

#: OSM tags of the sensitive sites of GB 51080-2015 (engine exits at least 50 m from the main
#: exits of hospitals, schools, kindergartens, theatres, malls, stadiums), by riskplan kind.
SENSITIVE_TAGS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "school": {"amenity": ("school",)},
    "kindergarten": {"amenity": ("kindergarten",)},
    "hospital": {"amenity": ("hospital",)},
    "theatre": {"amenity": ("theatre",)},
    "mall": {"shop": ("mall", "department_store")},
    "stadium": {"leisure": ("stadium",), "building": ("stadium",)},
}
#: Selections read as lines (ways only, never areas).
LINE_SELECTIONS: tuple[str, ...] = ("roads", "barrier_lines")
#: Tag keys copied into columns besides each selection's own keys.
_COLUMNS = ("maxspeed", "oneway", "junction", "area", "service", "water", "admin_level", "ref")
_BUILDING_COLUMNS = ("building:levels", "height")
PLACE_TYPES: tuple[str, ...] = ("neighbourhood", "quarter", "suburb", "borough", "city_block")


def selections(rules: HazardRules) -> dict[str, TagSpec]:
    """The tag selection of each layer ``init`` derives, by name.

    Examples
    --------
    >>> from gis.extract.hazards import hazard_rules
    >>> s = selections(hazard_rules())
    >>> s["fire_stations"], sorted(s)[:3]
    ({'amenity': 'fire_station'}, ['admin', 'barrier_lines', 'buildings'])
    """
    sensitive: dict[str, set[str]] = {}
    for tags in SENSITIVE_TAGS.values():
        for key, values in tags.items():
            sensitive.setdefault(key, set()).update(values)
    return {
        "roads": {"highway": True},
        "barrier_lines": {"waterway": ["river", "canal"], "railway": ["rail"]},
        "water": {"waterway": ["riverbank"], "natural": ["water"]},
        "fire_stations": {"amenity": "fire_station"},
        "hazards": dict(rules.tag_spec),
        "landuse": {"landuse": ["residential", "commercial", "industrial", "retail"]},
        "places": {"place": list(PLACE_TYPES)},
        "admin": {"boundary": "administrative"},
        "buildings": {"building": True},
        "sensitive": {k: sorted(v) for k, v in sensitive.items()},
    }


def read_extract(path: str | Path, rules: HazardRules) -> OsmLayers:
    """Read every selection of :func:`selections` from ``path`` in one pass.

    Examples
    --------
    >>> from gis.extract.hazards import hazard_rules
    >>> read = read_extract("tests/fixtures/tiny_city.osm.xml", hazard_rules())
    >>> len(read["fire_stations"]), len(read["roads"]), len(read["sensitive"])
    (1, 9, 3)
    """
    return read_osm_layers(
        path, selections(rules), lines=LINE_SELECTIONS, columns=(*_COLUMNS, *_BUILDING_COLUMNS)
    )


def drivable_roads(
    roads: gpd.GeoDataFrame, path: Path, *, road_speeds: TableOverrides = None
) -> gpd.GeoDataFrame:
    """The ways of ``roads`` that the road graph uses; InputError naming the file when there is none.

    Examples
    --------
    >>> from gis.extract.hazards import hazard_rules
    >>> read = read_extract("tests/fixtures/tiny_city.osm.xml", hazard_rules())
    >>> drivable_roads(read["roads"], Path("tiny_city.osm.xml"))["osm_id"].tolist()
    [100, 101, 102, 103, 104, 105, 107, 108]
    """
    n = len(roads)
    if n == 0:
        msg = (
            f"`{path}` has no way with a `highway` tag, so no road network. Fix: use an extract "
            "that covers the city's streets (for example cut with `osmium extract` from a "
            "Geofabrik download)."
        )
        raise InputError(msg)
    highway = _text(roads["highway"], n)
    _, drivable, _ = _speeds(highway, _text(roads["maxspeed"], n), speed_table(road_speeds))
    area = pd.Series(_text(roads["area"], n), dtype=object).str.lower().eq("yes").to_numpy()
    use = drivable & ~area
    if not use.any():
        found = pd.Series(highway, dtype=object).value_counts().head(10).to_dict()
        msg = (
            f"`{path}` has no drivable road: none of its {n} `highway` ways is of a drivable "
            f"class (found {found}). Fix: use an extract that covers the city's streets, or mark "
            "those classes drivable in a speed table (gis/data/road_speeds.toml)."
        )
        raise InputError(msg)
    return roads.loc[np.asarray(use)].reset_index(drop=True)
