"""``riskplan network``: the routable road network of a scenario, with its snapping report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._console import EXIT_OK

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario, save_graph
    from maps.qgis_styles import write_qgis_styles

    from ..workflow import build_network, write_snap_report

    scenario = load_scenario(args.scenario)
    run = build_network(
        scenario, road_speeds=args.road_speeds, max_snap_m=args.max_snap_m, cache=not args.no_cache
    )
    out = save_graph(run.graph, args.out)
    write_qgis_styles(out)
    report = run.graph.report
    print(f"Road network of {scenario.label} written to {Path(out).resolve()}")
    if report is not None:
        print(report)
    for layer, ids in run.flagged.items():
        dist = run.snaps[layer].loc[ids, "snap_distance_m"].round(0)
        shown = ", ".join(f"{i} ({d:.0f} m)" for i, d in dist.head(10).items())
        print(f"warning: {layer}: {len(ids)} beyond the snap limit: {shown}", file=sys.stderr)
    if args.snap_report:
        write_snap_report(run, Path(args.snap_report))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``network`` subcommand."""
    p = subparsers.add_parser("network", help="build the routable road network of a scenario")
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage (nodes and edges)")
    p.add_argument("--road-speeds", type=Path, default=None, help="TOML overriding road_speeds.toml")
    p.add_argument("--max-snap-m", type=float, default=None, help="flag points farther from a road")
    p.add_argument("--snap-report", type=Path, default=None, help="write the snapping table as CSV")
    p.add_argument("--no-cache", action="store_true", help="rebuild instead of using the graph cache")
    p.set_defaults(func=_run)
