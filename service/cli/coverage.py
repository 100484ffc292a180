"""``riskplan coverage``: response times, coverage, isochrones and station districts of a scenario."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gis import InputError
from planning.names import DEFAULT_STANDARD

from ._console import EXIT_OK, STANDARD_HELP, add_executor_options, cli_executor
from .what_if import CLOSE_HELP

__all__ = ["register"]


def _breaks(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"`--breaks` is {text!r}. Fix: give minutes separated by commas, such as 3,5,8."
        raise InputError(msg) from None
    if not values or min(values) <= 0:
        msg = f"`--breaks` is {text!r}. Fix: give positive minutes separated by commas, such as 3,5,8."
        raise InputError(msg)
    return values


def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario, scenario_graph
    from maps.qgis_styles import write_qgis_styles
    from planning.coverage import analyse_coverage

    from ..workflow import with_executor

    start = time.perf_counter()
    breaks_s = [60.0 * b for b in _breaks(args.breaks)] if args.breaks else None
    if args.close is not None:  # a bad change file exits 2 before anything is loaded
        from planning.change import read_change

        read_change(args.close)
    scenario = load_scenario(args.scenario)
    graph = scenario_graph(scenario, cache=not args.no_cache)
    diff = None
    if args.close is not None:  # what if: the changed scenario's coverage, and the difference
        from .what_if import apply_close

        diff, scenario, graph = apply_close(args, scenario, graph)
    with cli_executor(args) as ex:
        result = with_executor(
            analyse_coverage,
            ex,
            scenario,
            graph,
            standard=args.standard,
            speed_factor=args.speed_factor,
            breaks_s=breaks_s,
            cell_m=args.cell_m,
            districts=not args.no_districts,
            max_snap_m=args.max_snap_m,
            response_standards=args.response_standards,
        )
    if diff is None:
        out = result.write(args.out)
    else:
        from .what_if import write_with_difference

        out = write_with_difference(result, diff, args.out)
    write_qgis_styles(out)
    print(result.report())
    if len(result.violations):
        print(f"District violations ({len(result.violations)}):")
        for message in result.violations["message"].head(args.top):
            print(f"  - {message}")
        if len(result.violations) > args.top:
            print(f"  ... and {len(result.violations) - args.top} more (layer `violations`)")
    flagged = {
        name: int(gdf["flagged"].sum())
        for name, gdf in (("communities", result.communities), ("hazards", result.hazards))
        if gdf["flagged"].any()
    }
    for name, count in flagged.items():
        print(f"warning: {name}: {count} beyond the snap limit, counted as not covered", file=sys.stderr)
    print(f"Coverage written to {Path(out).resolve()} in {time.perf_counter() - start:.1f} s.")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``coverage`` subcommand."""
    p = subparsers.add_parser(
        "coverage", help="first-engine response times, coverage, isochrones and station districts"
    )
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--standard", default=DEFAULT_STANDARD, help=STANDARD_HELP)
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument("--speed-factor", type=float, default=1.0, help="engine speed / road speed (default 1)")
    p.add_argument("--breaks", default="3,5,8", help="isochrone breaks, minutes of response (default 3,5,8)")
    p.add_argument("--cell-m", type=float, default=500.0, help="grid cell of the area units (default 500 m)")
    p.add_argument(
        "--response-standards", type=Path, default=None, help="TOML overriding response_standards.toml"
    )
    p.add_argument("--no-districts", action="store_true", help="skip the station districts")
    p.add_argument(
        "--max-snap-m", type=float, default=None, help="snap limit: farther places count as not covered"
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
    p.add_argument("--top", type=int, default=10, help="violations to list (default 10)")
    p.add_argument("--close", type=Path, default=None, help=f"what if: {CLOSE_HELP}")
    add_executor_options(p)
    p.set_defaults(func=_run)
