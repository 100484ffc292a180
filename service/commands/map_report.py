"""``riskplan map`` and ``riskplan report``: the interactive map and the HTML report of a scenario.

Both compute coverage (:func:`planning.coverage.analyse_coverage` on the scenario's road graph)
and risk (:func:`risk_models.score_scenario` with the communities' response times) through
:func:`service.pipeline.assess`, then render.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def _map_options(args: argparse.Namespace) -> dict[str, Any]:
    tiles = None if args.tiles == "none" else args.tiles
    return {"tiles": tiles, "gcj02": args.gcj02}


def _run_map(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from maps import write_map

    from ..pipeline import assess

    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    coverage, risk = assess(
        scenario,
        units=args.units,
        standard=args.standard,
        learn=args.learn,
        cache=not args.no_cache,
        weights=args.weights,
        max_snap_m=args.max_snap_m,
    )
    out = write_map(scenario, args.out, risk=risk, coverage=coverage, **_map_options(args))
    size_mb = out.stat().st_size / 1e6
    print(
        f"Map of {scenario.label} written to {out.resolve()} ({size_mb:.1f} MB) "
        f"in {time.perf_counter() - start:.1f} s."
    )
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from maps import write_report

    from ..pipeline import assess

    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    coverage, risk = assess(
        scenario,
        units=args.units,
        standard=args.standard,
        learn=args.learn,
        cache=not args.no_cache,
        weights=args.weights,
        max_snap_m=args.max_snap_m,
    )
    out = write_report(
        scenario, args.out, risk=risk, coverage=coverage, top_n=args.top, map_options=_map_options(args)
    )
    size_mb = out.stat().st_size / 1e6
    print(
        f"Report on {scenario.label} written to {out.resolve()} ({size_mb:.1f} MB) "
        f"in {time.perf_counter() - start:.1f} s."
    )
    return 0


def _common(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, default=Path(default_out), help=f"output HTML (default {default_out})")
    p.add_argument("--units", default="communities", help="communities | h3:RES | grid:METRES")
    p.add_argument("--standard", default="cn-gb51080", help="cn-gb51080 | nfpa-1710 | cn-micro-135")
    p.add_argument(
        "--tiles",
        default="auto",
        choices=["auto", "osm", "gaode", "none"],
        help="online base map offered as a toggle, off by default (default auto)",
    )
    p.add_argument("--gcj02", action="store_true", help="shift overlays to GCJ-02 for Chinese base maps")
    learn = p.add_mutually_exclusive_group()
    learn.add_argument(
        "--learn",
        dest="learn",
        action="store_true",
        default=None,
        help="fit the incident models (default: when the scenario has incidents)",
    )
    learn.add_argument("--no-learn", dest="learn", action="store_false", help="skip the incident models")
    p.add_argument("--weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``map`` and ``report`` subcommands."""
    p = subparsers.add_parser("map", help="interactive HTML map of risk and coverage (works offline)")
    _common(p, "map.html")
    p.set_defaults(func=_run_map)
    p = subparsers.add_parser("report", help="self-contained HTML report: figures, tables and the map")
    _common(p, "report.html")
    p.add_argument("--top", type=int, default=15, help="rows of the top-risk table (default 15)")
    p.set_defaults(func=_run_report)
