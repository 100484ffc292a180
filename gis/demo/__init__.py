"""The synthetic demo city and demo province: scenarios, GeoPackages, OSM files.

:func:`demo_city` generates the layers (roads, hazards, communities, stations, depots, sites,
incidents, study area, barriers), :func:`write_demo_scenario` writes them to a GeoPackage and
:func:`write_demo_osm` writes the city as an OpenStreetMap file for ``riskplan init``.
:func:`demo_province` generates a province of ten such cities at different scales with county
towns, villages, country roads, expressways, coalfields and chemical parks (about 3 million
road nodes by default), :func:`write_demo_province` writes it as a scenario folder
(:func:`write_demo_province_osm` as an OpenStreetMap file).
:func:`synthetic_survey` draws a synthetic community safety survey of the demo city's
communities (``gis/data/demo_survey.toml``; :func:`write_synthetic_survey` writes it). Every
layer and file says it is synthetic. Parameters: ``gis/data/demo_city.toml`` and
``gis/data/demo_province.toml``. The generators' parts are private modules.
"""

from .city import demo_city, load_demo_params, write_demo_osm, write_demo_scenario
from .province import (
    demo_province,
    load_province_params,
    province_summary,
    write_demo_province,
    write_demo_province_osm,
)
from .survey import SYNTHETIC_SOURCE, load_survey_params, synthetic_survey, write_synthetic_survey

__all__ = [
    "SYNTHETIC_SOURCE",
    "demo_city",
    "demo_province",
    "load_demo_params",
    "load_province_params",
    "load_survey_params",
    "province_summary",
    "synthetic_survey",
    "write_demo_osm",
    "write_demo_province",
    "write_demo_province_osm",
    "write_demo_scenario",
    "write_synthetic_survey",
]
