"""The synthetic demo city, "Demo City (synthetic)": a scenario, a GeoPackage or an OSM file.

:func:`demo_city` generates the layers (roads, hazards, communities, stations, depots, sites,
incidents, study area, barriers), :func:`write_demo_scenario` writes them to a GeoPackage and
:func:`write_demo_osm` writes the city as an OpenStreetMap file for ``riskplan init``. Every
layer and file says it is synthetic. Parameters: ``gis/data/demo_city.toml``. The generator's
parts are private modules: layout and zones, the street lattice, roads, people, hazards and
resources, the OSM writer.
"""

from .city import demo_city, load_demo_params, write_demo_osm, write_demo_scenario

__all__ = ["demo_city", "load_demo_params", "write_demo_osm", "write_demo_scenario"]
