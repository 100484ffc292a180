"""riskplan: urban safety risk maps and emergency-resource planning on road networks.

The main entry points of riskplan's packages in one place, imported on first use::

    import riskplan

    scenario = riskplan.load_scenario("city/scenario.toml")
    graph = riskplan.scenario_graph(scenario)
    coverage = riskplan.analyse_coverage(scenario, graph)
    risk = riskplan.score_scenario(scenario, response_time_s=coverage.communities["response_time_s"])

The packages themselves are the architecture and hold everything else: :mod:`gis` (data in,
validation, the road graph), :mod:`risk_models` (scores), :mod:`planning` (travel times,
coverage, location models, depots), :mod:`maps` (maps and reports) and :mod:`service` (command
line, web API). :mod:`riskplan.errors` is :mod:`gis.errors`, every error riskplan raises.

Examples
--------
>>> import riskplan
>>> riskplan.load_scenario.__module__, issubclass(riskplan.InputError, ValueError)
('gis.scenario', True)
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

from gis.lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "gis.scenario": ("Scenario", "load_scenario", "scenario_graph"),
    "gis.extract": ("scenario_from_osm",),
    "gis.demo": ("demo_city", "write_demo_scenario"),
    "gis.errors": ("InputError", "RiskplanError", "ScenarioError"),
    "planning.coverage": ("analyse_coverage",),
    "planning.stations": ("plan_stations",),
    "planning.depots": ("plan_depots",),
    "risk_models.model": ("score_scenario",),
    "maps.interactive": ("write_map",),
    "maps.report": ("write_report",),
}
_getattr, _dir = attach(__name__, _EXPORTS, absolute=True)


def __dir__() -> list[str]:
    return sorted([*_dir(), "errors"])


def __getattr__(name: str) -> Any:
    if name == "errors":
        module: ModuleType = importlib.import_module("gis.errors")
        return module
    return _getattr(name)


if TYPE_CHECKING:
    from gis import errors
    from gis.demo import demo_city, write_demo_scenario
    from gis.errors import InputError, RiskplanError, ScenarioError
    from gis.extract import scenario_from_osm
    from gis.scenario import Scenario, load_scenario, scenario_graph
    from maps.interactive import write_map
    from maps.report import write_report
    from planning.coverage import analyse_coverage
    from planning.depots import plan_depots
    from planning.stations import plan_stations
    from risk_models.model import score_scenario

__all__ = [
    "InputError",
    "RiskplanError",
    "Scenario",
    "ScenarioError",
    "analyse_coverage",
    "demo_city",
    "errors",
    "load_scenario",
    "plan_depots",
    "plan_stations",
    "scenario_from_osm",
    "scenario_graph",
    "score_scenario",
    "write_demo_scenario",
    "write_map",
    "write_report",
]
