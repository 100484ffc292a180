"""What ``riskplan place`` and ``riskplan depots`` share: options, the road graph, risk as demand weights."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from planning.names import DEFAULT_STANDARD, DISTANCES

from ._console import STANDARD_HELP

if TYPE_CHECKING:
    from gis import Scenario
    from gis.network import RoadGraph
    from risk_models import RiskResult

__all__ = ["add_options", "community_risk", "road_graph"]


def road_graph(scenario: Scenario, args: argparse.Namespace) -> RoadGraph:
    """The scenario's road graph (from the cache unless ``--no-cache``)."""
    from gis import scenario_graph

    # the road graph also supplies the response times of the risk score, so build it either way
    return scenario_graph(scenario, cache=not args.no_cache)


def community_risk(
    scenario: Scenario, graph: RoadGraph, args: argparse.Namespace, *, with_risk: bool
) -> RiskResult | None:
    """Risk by community with each community's road response time, as the demand weights (or None).

    A scenario TOML's ``[natural_hazards]`` joins the score, as in ``riskplan run``.
    """
    if not with_risk:
        return None
    from planning import layer_coverage, reached_times
    from risk_models import score_scenario

    from ..natural_run import natural_inputs

    natural, natural_table = natural_inputs(scenario)

    table = layer_coverage(
        graph,
        scenario["fire_stations"],
        scenario["communities"],
        standard=args.standard,
        layer="communities",
        max_snap_m=args.max_snap_m,
    )
    return score_scenario(
        scenario,
        units="communities",
        response_time_s=reached_times(table),
        learn=False,
        risk_weights=args.risk_weights,
        natural_hazards=natural,
        natural_table=natural_table,
    )


def add_options(p: argparse.ArgumentParser) -> None:
    """The arguments both subcommands take."""
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument(
        "--distance",
        choices=DISTANCES,
        default="network",
        help="road travel (default) or straight line at a documented speed, comparable with other tools",
    )
    p.add_argument("--standard", default=DEFAULT_STANDARD, help=STANDARD_HELP)
    p.add_argument("--planning-norms", type=Path, default=None, help="TOML overriding planning_norms.toml")
    p.add_argument("--risk-weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
