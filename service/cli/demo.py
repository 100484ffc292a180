"""``riskplan demo``: the synthetic demo city with every stage run on it, or only its OSM file."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._console import EXIT_OK, Stages, print_run

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    if args.osm is not None:
        from gis import write_demo_osm

        path = write_demo_osm(args.osm, seed=args.seed, n_road_nodes=args.nodes)
        print(f"Demo city written as OpenStreetMap to {path.resolve()} (synthetic data, not a real city).")
        print(f"Try: riskplan init {path} --out DIR && riskplan run DIR/scenario.toml --out DIR/results")
        return EXIT_OK
    from ..workflow import run_demo

    stages = Stages(7, quiet=args.quiet)
    try:
        result = run_demo(args.out, seed=args.seed, n_road_nodes=args.nodes, progress=stages)
    finally:
        stages.close()
    print_run(result, f"Demo city written to {result.out_dir.resolve()}/ (synthetic data, not a real city):")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser("demo", help="generate the synthetic demo city and run every stage on it")
    p.add_argument(
        "--out", type=Path, default=Path("demo_output"), help="output folder (default: demo_output)"
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument("--nodes", type=int, default=None, help="approximate number of road nodes")
    p.add_argument(
        "--osm",
        type=Path,
        default=None,
        help="only write the demo city as an OSM file (.osm.pbf or .osm), for `riskplan init`",
    )
    p.set_defaults(func=_run)
