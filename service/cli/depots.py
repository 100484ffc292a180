"""``riskplan depots``: the relief-depot plan of a scenario (assignment, stock needs, unmet demand)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gis.speech import speak, speaks

from ._console import EXIT_OK, add_lang_option, cli_lang, say
from ._planning import add_options, community_risk, road_graph

__all__ = ["register"]


@speaks  # speak(lang) below holds for this command only
def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from gis.errors import InputError
    from maps.qgis_styles import write_qgis_styles
    from planning.depots import plan_depots

    from ..natural_run import natural_inputs

    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    lang = speak(cli_lang(args, scenario))  # the plan's notes and its report speak it too
    graph = road_graph(scenario, args)
    flood_rp = args.flood_return_period
    natural, _ = natural_inputs(scenario)
    if flood_rp is None:  # the scenario TOML's [natural_hazards] relocation_return_period
        flood_rp = natural.relocation_return_period if natural is not None else None
    # delivery times on the roads that flood leaves open (network distances only)
    depth = natural.flood_depth.get(float(flood_rp)) if natural and flood_rp is not None else None
    if flood_rp is not None and args.no_risk:
        msg = "`--flood-return-period` needs the risk score's flood figures. Fix: drop `--no-risk`."
        raise InputError(msg)
    risk = community_risk(scenario, graph, args, with_risk=not args.no_risk)
    plan = plan_depots(
        scenario, graph, risk=risk, days=args.days, distance=args.distance,
        planning_norms=args.planning_norms, flood_return_period=flood_rp,
        flood_depth=depth if args.distance == "network" else None,
    )  # fmt: skip
    out = plan.write(args.out)
    write_qgis_styles(out)
    print(plan.report())
    if plan.unmet_people > 0:
        print(say("depots_unmet", lang, people=f"{plan.unmet_people:,.0f}"), file=sys.stderr)
    seconds = f"{time.perf_counter() - start:.1f}"
    print(say("depots_written", lang, path=Path(out).resolve(), seconds=seconds))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``depots`` subcommand."""
    p = subparsers.add_parser("depots", help="relief depots: assignment, stock needs, unmet demand")
    add_options(p)
    add_lang_option(p)
    p.add_argument("--days", type=int, default=7, help="days of supplies to stock (default 7)")
    p.add_argument("--no-risk", action="store_true", help="one relocation rate for all (no risk score)")
    p.add_argument(
        "--flood-return-period",
        type=float,
        metavar="YEARS",
        help="also relocate the residents this flood displaces (a scenario TOML whose [natural_hazards] "
        "has flood depth rasters of that return period; default its relocation_return_period)",
    )
    p.set_defaults(func=_run)
