"""Travel times, response coverage and location models on the road graph of :mod:`gis`.

The travel-time engine (:mod:`planning.travel`) exports the road graph once to a sparse
matrix and runs Dijkstra in compiled code; :mod:`planning.coverage` answers how long the first
engine takes to reach each place under GB 51080 or NFPA 1710, with isochrones
(:mod:`planning.isochrones`), station districts (:mod:`planning.districts`) and a fast point
query (:mod:`planning.query`).
"""

from .coverage import CoverageResult, analyse_coverage, area_grid, layer_coverage, summarise_coverage
from .districts import StationDistricts, station_districts
from .isochrones import band_population, isochrones
from .query import ResponseQuery
from .standards import ResponseStandard, district_caps_km2, response_standard, standard_names
from .travel import (
    RoadMatrix,
    many_to_many,
    nearest_sources,
    road_matrix,
    snap_layer,
    snap_stations,
    travel_times,
)

__all__ = [
    "CoverageResult",
    "ResponseQuery",
    "ResponseStandard",
    "RoadMatrix",
    "StationDistricts",
    "analyse_coverage",
    "area_grid",
    "band_population",
    "district_caps_km2",
    "isochrones",
    "layer_coverage",
    "many_to_many",
    "nearest_sources",
    "response_standard",
    "road_matrix",
    "snap_layer",
    "snap_stations",
    "standard_names",
    "station_districts",
    "summarise_coverage",
    "travel_times",
]
