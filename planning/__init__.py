"""Travel times, response coverage and location models on the road graph of :mod:`gis`.

The travel-time engine (:mod:`planning.travel`) exports the road graph once to a sparse
matrix and runs Dijkstra in compiled code, and builds every cost matrix, all oriented
``(targets, sources)`` (:data:`~planning.travel.TargetsBySources`); :func:`snap_points`
(:mod:`planning.snapping`) is the one snapping function; :mod:`planning.coverage` answers how
long the first engine takes to reach each place under a response profile (GB 51080, NFPA 1710:
:mod:`planning.standards`), with isochrones (:mod:`planning.isochrones`), station districts
(:mod:`planning.districts`) and a fast point query (:mod:`planning.query`);
:func:`plan_stations` and :func:`plan_depots` run the location models of
:mod:`planning.location`. Model names, distances and the default profile are defined once in
:mod:`planning.names`. :mod:`planning.upgrades` prices the community safety survey's failed items, plans
the upgrades under a budget and chooses the demonstration communities.
"""

from typing import TYPE_CHECKING

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "area_times": ("area_response_times",),
    "coverage": ("CoverageResult", "analyse_coverage"),
    "response": (
        "OFF_ROAD_RULE",
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
    "flood_roads": ("flood_closed_graph", "flooded_edges"),
    "districts": (
        "StationDistricts",
        "station_districts",
    ),
    "isochrones": (
        "band_population",
        "isochrones",
    ),
    "hours": (
        "TimeOfDay",
        "coverage_at_hour",
        "districts_at_hour",
        "isochrones_at_hour",
        "response_by_hour",
        "time_of_day_from_toml",
        "worst_hour",
    ),
    "names": (
        "DEFAULT_STANDARD",
        "DISTANCES",
        "MODELS",
    ),
    "parallel": ("CsgraphEngine", "SnappedPointEngine", "SourceReduction", "reduce_sources"),
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
    "snapping": (
        "snap_points",
        "snap_stations",
    ),
    "demand": ("demand_weights",),
    "stations": ("StationPlan", "plan_stations"),
    "travel": (
        "RoadMatrix",
        "TargetsBySources",
        "cost_matrix",
        "many_to_many",
        "nearest_sources",
        "road_matrix",
        "travel_times",
    ),
    "upgrades": (
        "Demonstration",
        "UpgradeMeasures",
        "UpgradePlan",
        "choose_demonstration",
        "greedy_upgrades",
        "load_upgrade_measures",
        "plan_upgrades",
        "scores_after_upgrades",
        "upgrade_candidates",
    ),
    "change": ("ScenarioChange", "read_change"),
    "what_if": ("WhatIfBaseline", "WhatIfResult", "what_if", "what_if_baseline"),
    "criticality": ("criticality",),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .area_times import area_response_times
    from .change import ScenarioChange, read_change
    from .coverage import CoverageResult, analyse_coverage
    from .criticality import criticality
    from .demand import demand_weights
    from .depots import DepotPlan, plan_depots, relocation_demand, stock_needs
    from .districts import StationDistricts, station_districts
    from .flood_roads import flood_closed_graph, flooded_edges
    from .hours import (
        TimeOfDay,
        coverage_at_hour,
        districts_at_hour,
        isochrones_at_hour,
        response_by_hour,
        time_of_day_from_toml,
        worst_hour,
    )
    from .isochrones import band_population, isochrones
    from .names import DEFAULT_STANDARD, DISTANCES, MODELS
    from .parallel import CsgraphEngine, SnappedPointEngine, SourceReduction, reduce_sources
    from .query import ResponseQuery
    from .response import (
        OFF_ROAD_RULE,
        area_grid,
        layer_coverage,
        reached_times,
        summarise_coverage,
        unit_response_times,
    )
    from .siting import apply_siting_rules, generate_candidates
    from .snapping import snap_points, snap_stations
    from .standards import ResponseStandard, district_caps_km2, response_standard, standard_names
    from .stations import StationPlan, plan_stations
    from .travel import (
        RoadMatrix,
        TargetsBySources,
        cost_matrix,
        many_to_many,
        nearest_sources,
        road_matrix,
        travel_times,
    )
    from .upgrades import (
        Demonstration,
        UpgradeMeasures,
        UpgradePlan,
        choose_demonstration,
        greedy_upgrades,
        load_upgrade_measures,
        plan_upgrades,
        scores_after_upgrades,
        upgrade_candidates,
    )
    from .what_if import WhatIfBaseline, WhatIfResult, what_if, what_if_baseline

__all__ = [
    "DEFAULT_STANDARD",
    "DISTANCES",
    "MODELS",
    "OFF_ROAD_RULE",
    "CoverageResult",
    "CsgraphEngine",
    "Demonstration",
    "DepotPlan",
    "ResponseQuery",
    "ResponseStandard",
    "RoadMatrix",
    "ScenarioChange",
    "SnappedPointEngine",
    "SourceReduction",
    "StationDistricts",
    "StationPlan",
    "TargetsBySources",
    "TimeOfDay",
    "UpgradeMeasures",
    "UpgradePlan",
    "WhatIfBaseline",
    "WhatIfResult",
    "analyse_coverage",
    "apply_siting_rules",
    "area_grid",
    "area_response_times",
    "band_population",
    "choose_demonstration",
    "cost_matrix",
    "coverage_at_hour",
    "criticality",
    "demand_weights",
    "district_caps_km2",
    "districts_at_hour",
    "flood_closed_graph",
    "flooded_edges",
    "generate_candidates",
    "greedy_upgrades",
    "isochrones",
    "isochrones_at_hour",
    "layer_coverage",
    "load_upgrade_measures",
    "many_to_many",
    "nearest_sources",
    "plan_depots",
    "plan_stations",
    "plan_upgrades",
    "reached_times",
    "read_change",
    "reduce_sources",
    "relocation_demand",
    "response_by_hour",
    "response_standard",
    "road_matrix",
    "scores_after_upgrades",
    "snap_points",
    "snap_stations",
    "standard_names",
    "station_districts",
    "stock_needs",
    "summarise_coverage",
    "time_of_day_from_toml",
    "travel_times",
    "unit_response_times",
    "upgrade_candidates",
    "what_if",
    "what_if_baseline",
    "worst_hour",
]
