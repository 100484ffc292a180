"""Geodata in: scenario layers, validation, coordinates, projection, road network.

The public API of :mod:`gis`; everything else is private or reached through
its module (``gis.coords``, ``gis.crs``, ``gis.schema``).
"""

from ._cache import GraphCache
from ._errors import (
    CRSError,
    InputError,
    MissingDependencyError,
    NetworkError,
    Problem,
    RiskplanError,
    ScenarioError,
    SnapError,
)
from .crs import check_coordinates, local_metric_crs, require_metric, require_same_crs, to_metric
from .demo import demo_city, write_demo_scenario
from .io import LayerSource, read_layer
from .network import (
    NetworkReport,
    graph_from_file,
    graph_from_lines,
    graph_from_osm,
    graph_from_query,
    load_graph,
    save_graph,
)
from .osm import read_osm_features
from .scenario import RoadsSource, Scenario, load_scenario, scenario_graph, write_scenario
from .snap import require_snapped, snap_points
from .validate import validate_layer, validate_layers

__all__ = [
    "CRSError",
    "GraphCache",
    "InputError",
    "LayerSource",
    "MissingDependencyError",
    "NetworkError",
    "NetworkReport",
    "Problem",
    "RiskplanError",
    "RoadsSource",
    "Scenario",
    "ScenarioError",
    "SnapError",
    "check_coordinates",
    "demo_city",
    "graph_from_file",
    "graph_from_lines",
    "graph_from_osm",
    "graph_from_query",
    "load_graph",
    "load_scenario",
    "local_metric_crs",
    "read_layer",
    "read_osm_features",
    "require_metric",
    "require_same_crs",
    "require_snapped",
    "save_graph",
    "scenario_graph",
    "snap_points",
    "to_metric",
    "validate_layer",
    "validate_layers",
    "write_demo_scenario",
    "write_scenario",
]
