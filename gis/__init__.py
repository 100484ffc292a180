"""Geodata in: scenario layers, validation, coordinates, projection, road network.

The public API of :mod:`gis`; everything else is private or reached through
its module (``gis.coords``, ``gis.crs``, ``gis.schema``).
"""

from typing import TYPE_CHECKING

from .lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "errors": (
        "CRSError",
        "InputError",
        "MissingDependencyError",
        "NetworkError",
        "Problem",
        "RiskplanError",
        "ScenarioError",
        "SnapError",
        "SolverError",
    ),
    "crs": (
        "check_coordinates",
        "local_metric_crs",
        "require_metric",
        "require_same_crs",
        "to_metric",
    ),
    "census": ("CensusJoin", "join_census", "read_census"),
    "executor": ("Executor", "open_executor"),
    "extract": ("ExtractReport", "scenario_from_osm"),
    "population": ("raster_population",),
    "demo": (
        "demo_city",
        "demo_province",
        "write_demo_osm",
        "write_demo_province",
        "write_demo_province_osm",
        "write_demo_scenario",
    ),
    "io": (
        "LayerSource",
        "read_layer",
    ),
    "network": (
        "GraphCache",
        "NetworkReport",
        "RoadGraph",
        "as_road_graph",
        "graph_from_file",
        "graph_from_lines",
        "graph_from_osm",
        "graph_from_query",
        "load_graph",
        "save_graph",
    ),
    "osm": ("OsmLayers", "has_drivable_way", "read_osm_features", "read_osm_layers"),
    "scenario": (
        "RoadsSource",
        "Scenario",
        "load_scenario",
        "scenario_from_layers",
        "scenario_graph",
        "write_scenario",
    ),
    "snap": ("require_snapped",),
    "speech": ("current_lang", "in_language", "say", "speak", "speaking", "speaks", "spoken_lang"),
    "validate": (
        "validate_layer",
        "validate_layers",
    ),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .census import CensusJoin, join_census, read_census
    from .crs import check_coordinates, local_metric_crs, require_metric, require_same_crs, to_metric
    from .demo import (
        demo_city,
        demo_province,
        write_demo_osm,
        write_demo_province,
        write_demo_province_osm,
        write_demo_scenario,
    )
    from .errors import (
        CRSError,
        InputError,
        MissingDependencyError,
        NetworkError,
        Problem,
        RiskplanError,
        ScenarioError,
        SnapError,
        SolverError,
    )
    from .executor import Executor, open_executor
    from .extract import ExtractReport, scenario_from_osm
    from .io import LayerSource, read_layer
    from .network import (
        GraphCache,
        NetworkReport,
        RoadGraph,
        as_road_graph,
        graph_from_file,
        graph_from_lines,
        graph_from_osm,
        graph_from_query,
        load_graph,
        save_graph,
    )
    from .osm import OsmLayers, has_drivable_way, read_osm_features, read_osm_layers
    from .population import raster_population
    from .scenario import (
        RoadsSource,
        Scenario,
        load_scenario,
        scenario_from_layers,
        scenario_graph,
        write_scenario,
    )
    from .snap import require_snapped
    from .speech import current_lang, in_language, say, speak, speaking, speaks, spoken_lang
    from .validate import validate_layer, validate_layers

__all__ = [
    "CRSError",
    "CensusJoin",
    "Executor",
    "ExtractReport",
    "GraphCache",
    "InputError",
    "LayerSource",
    "MissingDependencyError",
    "NetworkError",
    "NetworkReport",
    "OsmLayers",
    "Problem",
    "RiskplanError",
    "RoadGraph",
    "RoadsSource",
    "Scenario",
    "ScenarioError",
    "SnapError",
    "SolverError",
    "as_road_graph",
    "check_coordinates",
    "current_lang",
    "demo_city",
    "demo_province",
    "graph_from_file",
    "graph_from_lines",
    "graph_from_osm",
    "graph_from_query",
    "has_drivable_way",
    "in_language",
    "join_census",
    "load_graph",
    "load_scenario",
    "local_metric_crs",
    "open_executor",
    "raster_population",
    "read_census",
    "read_layer",
    "read_osm_features",
    "read_osm_layers",
    "require_metric",
    "require_same_crs",
    "require_snapped",
    "save_graph",
    "say",
    "scenario_from_layers",
    "scenario_from_osm",
    "scenario_graph",
    "speak",
    "speaking",
    "speaks",
    "spoken_lang",
    "to_metric",
    "validate_layer",
    "validate_layers",
    "write_demo_osm",
    "write_demo_province",
    "write_demo_province_osm",
    "write_demo_scenario",
    "write_scenario",
]
