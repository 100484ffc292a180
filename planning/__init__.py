"""Travel times, response coverage and location models on the road graph of :mod:`gis`.

The travel-time engine (:mod:`planning.travel`) exports the road graph once to a sparse
matrix and runs Dijkstra in compiled code; :mod:`planning.coverage` answers how long the first
engine takes to reach each place under GB 51080 or NFPA 1710, with isochrones
(:mod:`planning.isochrones`), station districts (:mod:`planning.districts`) and a fast point
query (:mod:`planning.query`).
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "coverage": (
        "CoverageResult",
        "analyse_coverage",
        "area_grid",
        "layer_coverage",
        "reached_times",
        "summarise_coverage",
        "unit_response_times",
    ),
    "depots": (
        "DepotPlan",
        "plan_depots",
        "relocation_demand",
        "stock_needs",
    ),
    "districts": (
        "StationDistricts",
        "station_districts",
    ),
    "isochrones": (
        "band_population",
        "isochrones",
    ),
    "query": ("ResponseQuery",),
    "siting": (
        "apply_siting_rules",
        "generate_candidates",
    ),
    "standards": (
        "ResponseStandard",
        "district_caps_km2",
        "response_standard",
        "standard_names",
    ),
    "stations": (
        "StationPlan",
        "demand_weights",
        "plan_stations",
        "response_matrix",
    ),
    "travel": (
        "RoadMatrix",
        "many_to_many",
        "nearest_sources",
        "road_matrix",
        "snap_layer",
        "snap_stations",
        "travel_times",
    ),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .coverage import (
        CoverageResult,
        analyse_coverage,
        area_grid,
        layer_coverage,
        reached_times,
        summarise_coverage,
        unit_response_times,
    )
    from .depots import DepotPlan, plan_depots, relocation_demand, stock_needs
    from .districts import StationDistricts, station_districts
    from .isochrones import band_population, isochrones
    from .query import ResponseQuery
    from .siting import apply_siting_rules, generate_candidates
    from .standards import ResponseStandard, district_caps_km2, response_standard, standard_names
    from .stations import StationPlan, demand_weights, plan_stations, response_matrix
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
    "DepotPlan",
    "ResponseQuery",
    "ResponseStandard",
    "RoadMatrix",
    "StationDistricts",
    "StationPlan",
    "analyse_coverage",
    "apply_siting_rules",
    "area_grid",
    "band_population",
    "demand_weights",
    "district_caps_km2",
    "generate_candidates",
    "isochrones",
    "layer_coverage",
    "many_to_many",
    "nearest_sources",
    "plan_depots",
    "plan_stations",
    "reached_times",
    "relocation_demand",
    "response_matrix",
    "response_standard",
    "road_matrix",
    "snap_layer",
    "snap_stations",
    "standard_names",
    "station_districts",
    "stock_needs",
    "summarise_coverage",
    "travel_times",
    "unit_response_times",
]
