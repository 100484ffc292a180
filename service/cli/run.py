"""``riskplan run``: every stage on a scenario, with the outputs in one folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from planning.names import DEFAULT_STANDARD, MODELS

from ._assess import add_lang_option
from ._console import EXIT_OK, STANDARD_HELP, Stages, Tasks, add_executor_options, cli_executor, print_run
from .what_if import CLOSE_HELP

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from ..workflow import run_scenario

    stages = Stages(6, quiet=args.quiet)
    tasks = Tasks(quiet=args.quiet)
    try:
        with cli_executor(args) as ex:
            result = run_scenario(
                args.scenario,
                args.out,
                units=args.units,
                standard=args.standard,
                model=args.model,
                n_new=args.new,
                days=args.days,
                risk_weights=args.risk_weights,
                road_speeds=args.road_speeds,
                max_snap_m=args.max_snap_m,
                cache=not args.no_cache,
                progress=stages,
                executor=ex,
                task_progress=tasks,
                lang=args.lang,
                hour=args.hour,
                worst_hour=args.worst_hour,
                close=args.close,
            )
    finally:
        tasks.close()
        stages.close()
    print_run(result, f"Every stage of {args.scenario} written to {Path(args.out).resolve()}/:")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``run`` subcommand."""
    p = subparsers.add_parser(
        "run", help="run every stage on a scenario: network, coverage, risk, plans, map, report, summary"
    )
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml (e.g. from `riskplan init`)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--units",
        default=None,
        help="risk units: communities | h3:RES | grid:METRES (default communities; grid:500 for a province)",
    )
    p.add_argument("--standard", default=DEFAULT_STANDARD, help=STANDARD_HELP)
    p.add_argument("--model", choices=MODELS, default="mclp", help="station location model (default mclp)")
    p.add_argument("--new", type=int, default=3, help="new stations to propose (default 3)")
    p.add_argument("--days", type=int, default=7, help="days of relief supplies to stock (default 7)")
    p.add_argument("--risk-weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument("--road-speeds", type=Path, default=None, help="TOML overriding road_speeds.toml")
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--hour",
        default=None,
        help="hour of day 0-23: coverage, risk and plans at that hour's speeds (over [time_of_day] hour)",
    )
    when.add_argument(
        "--worst-hour",
        action="store_true",
        help="at the hour of the longest residents' P90, with the worst hour's isochrones and districts "
        "next to the free-flow ones",
    )
    p.add_argument(
        "--close",
        type=Path,
        default=None,
        help=f"what if (with the scenario's [what_if]): {CLOSE_HELP}",
    )
    add_lang_option(p)
    add_executor_options(p)
    p.set_defaults(func=_run)
