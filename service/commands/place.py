"""``riskplan place`` (new fire stations) and ``riskplan depots`` (relief-depot plan) of a scenario."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _risk(scenario: Any, graph: Any, args: argparse.Namespace, *, with_risk: bool) -> Any:
    """Risk by community with each community's road response time, as the demand weights (or None)."""
    if not with_risk:
        return None
    from planning.coverage import layer_coverage, reached_times
    from risk_models import score_scenario

    table = layer_coverage(
        graph,
        scenario["fire_stations"],
        scenario["communities"],
        standard=args.standard,
        layer="communities",
        max_snap_m=args.max_snap_m,
    )
    return score_scenario(
        scenario, units="communities", response_time_s=reached_times(table), learn=False, weights=args.weights
    )


def _graph(scenario: Any, args: argparse.Namespace) -> Any:
    from gis import scenario_graph

    # the road graph also supplies the response times of the risk score, so build it either way
    return scenario_graph(scenario, cache=not args.no_cache)


def _run_place(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from planning.stations import plan_stations

    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    graph = _graph(scenario, args)
    risk = _risk(scenario, graph, args, with_risk=args.demand == "population_x_risk")
    plan = plan_stations(
        scenario,
        graph,
        model=args.model,
        n_new=args.new,
        standard=args.standard,
        demand=args.demand,
        risk=risk,
        wind_from_deg=args.wind_from,
        distance=args.distance,
        time_limit_s=args.time_limit,
        norms=args.norms,
        max_snap_m=args.max_snap_m,
    )
    out = plan.write(args.out)
    print(plan.report())
    print("Trade-off (new stations: demand covered, mean response):")
    for _, row in plan.tradeoff.iterrows():
        mark = "  <- recommended" if row["recommended"] else ""
        print(
            f"  {int(row['n_new']):>2}: {row['coverage_share']:6.1%}  {row['mean_response_s']:6.0f} s  "
            f"(+{row['marginal_gain']:.1%}){mark}"
        )
    if plan.result.status != "optimal":
        print(
            f"warning: the solver stopped early ({plan.result.status}); best plan kept, "
            f"gap {plan.result.gap:.2%}",
            file=sys.stderr,
        )
    print(f"Station plan written to {Path(out).resolve()} in {time.perf_counter() - start:.1f} s.")
    return 0


def _run_depots(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from planning.depots import plan_depots

    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    graph = _graph(scenario, args)
    risk = _risk(scenario, graph, args, with_risk=not args.no_risk)
    plan = plan_depots(scenario, graph, risk=risk, days=args.days, distance=args.distance, norms=args.norms)
    out = plan.write(args.out)
    print(plan.report())
    if plan.unmet_people > 0:
        print(f"warning: {plan.unmet_people:,.0f} people to relocate are not served", file=sys.stderr)
    print(f"Depot plan written to {Path(out).resolve()} in {time.perf_counter() - start:.1f} s.")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument(
        "--distance",
        choices=("network", "euclidean"),
        default="network",
        help="road travel (default) or straight line at a documented speed, comparable with other tools",
    )
    p.add_argument("--standard", default="cn-gb51080", help="response profile (default cn-gb51080)")
    p.add_argument("--norms", type=Path, default=None, help="TOML overriding planning_norms.toml")
    p.add_argument("--weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``place`` and ``depots`` subcommands."""
    p = subparsers.add_parser("place", help="propose new fire stations, with a trade-off curve")
    _common(p)
    p.add_argument(
        "--model",
        choices=("lscp", "mclp", "p-median", "p-center", "backup"),
        default="mclp",
        help="location model (default mclp)",
    )
    p.add_argument("--new", type=int, default=3, help="new stations to propose (default 3; lscp: ignored)")
    p.add_argument(
        "--demand",
        default="population_x_risk",
        help="population_x_risk (default), population, or a community column",
    )
    p.add_argument("--wind-from", type=float, default=None, help="prevailing wind, degrees from north (from)")
    p.add_argument(
        "--time-limit", type=float, default=30.0, help="solver time limit per solve, s (default 30)"
    )
    p.set_defaults(func=_run_place)

    d = subparsers.add_parser("depots", help="relief depots: assignment, stock needs, unmet demand")
    _common(d)
    d.add_argument("--days", type=int, default=7, help="days of supplies to stock (default 7)")
    d.add_argument("--no-risk", action="store_true", help="one relocation rate for all (no risk score)")
    d.set_defaults(func=_run_depots)
