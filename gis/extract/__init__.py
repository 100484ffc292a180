"""A scenario from any OpenStreetMap extract (``riskplan init``), one job per module.

- :mod:`~gis.extract.reading`: every selection read from the file in one pass; drivable roads.
- :mod:`~gis.extract.hazards`: the OSM hazard rule table (``gis/data/osm_hazards.toml``) and engine.
- :mod:`~gis.extract.area`: study area and barriers.
- :mod:`~gis.extract.communities`: community polygons (residential land, places, admin areas, cells).
- :mod:`~gis.extract.residents`: population (census, raster, buildings, density, a given total).
- :mod:`~gis.extract.sites`: fire stations, sensitive sites, depots.
- :mod:`~gis.extract.writing`: ``scenario.toml`` and ``layers.gpkg``, written atomically.
- :mod:`~gis.extract.build`: :func:`scenario_from_osm`, which strings them together.
"""

from .build import ExtractReport, scenario_from_osm
from .hazards import HazardRule, HazardRules, classify_hazards, hazard_rules
from .residents import building_residents, building_table

__all__ = [
    "ExtractReport",
    "HazardRule",
    "HazardRules",
    "building_residents",
    "building_table",
    "classify_hazards",
    "hazard_rules",
    "scenario_from_osm",
]
