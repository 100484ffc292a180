"""``riskplan demo``: the synthetic demo city with every stage run on it, its OSM file, or the province."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gis.errors import InputError

from ._assess import add_lang_option
from ._console import EXIT_OK, Stages, print_run

__all__ = ["register"]

#: Stages of ``riskplan demo --province`` (those of gis.demo.demo_province, then writing).
_PROVINCE_STAGES = 6


def _province(args: argparse.Namespace) -> int:
    import pyogrio

    from gis import write_demo_province

    if args.osm is not None:
        return _province_osm(args)
    out = args.out if args.out is not None else Path("demo_province")
    if not args.quiet:
        size = f"{args.nodes:,}" if args.nodes is not None else "about 3,000,000 (the default)"
        print(
            f"Generating the synthetic demo province: {size} road nodes, seed {args.seed} ...",
            file=sys.stderr,
        )
    stages = Stages(_PROVINCE_STAGES, quiet=args.quiet)
    try:
        toml = write_demo_province(out, seed=args.seed, n_road_nodes=args.nodes, progress=stages)
    finally:
        stages.close()
    gpkg = toml.parent / "demo_province.gpkg"
    table = pyogrio.read_dataframe(gpkg, layer="metadata", read_geometry=False)
    meta = dict(zip(table["key"].astype(str), table["value"].astype(str), strict=True))
    s = json.loads(meta["summary"])
    depots = ", ".join(f"{n} {tier}" for tier, n in s["depots"].items())
    print(f"Demo province written to {toml.parent.resolve()}/ (synthetic data, not a real place):")
    print(f"  scenario   {toml.resolve()}")
    print(f"  layers     {gpkg.resolve()}")
    print(f"  cities          {s['cities']}")
    print(f"  road nodes      {s['road_nodes']:,} ({s['road_lines']:,} road lines)")
    print(f"  people          {s['population']:,} in {s['communities']:,} communities")
    print(f"  fire stations   {s['fire_stations']}")
    print(f"  depots          {sum(s['depots'].values())} ({depots})")
    print(f"  mines           {s['mines']}")
    print(f"  chemical parks  {s['chemical_parks']}")
    print(f"Try: riskplan validate {toml}")
    return EXIT_OK


def _province_osm(args: argparse.Namespace) -> int:
    from gis import write_demo_province_osm

    if args.out is not None:
        msg = "`--out` names a scenario folder, `--osm` the one OSM file written. Fix: drop `--out`."
        raise InputError(msg)
    stages = Stages(_PROVINCE_STAGES, quiet=args.quiet)
    try:
        path = write_demo_province_osm(args.osm, seed=args.seed, n_road_nodes=args.nodes, progress=stages)
    finally:
        stages.close()
    print(f"Demo province written as OpenStreetMap to {path.resolve()} (synthetic data, not a real place).")
    print(f"Try: riskplan init {path} --out DIR && riskplan run DIR/scenario.toml --out DIR/results")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    if args.province:
        return _province(args)
    if args.osm is not None:
        from gis import write_demo_osm

        path = write_demo_osm(args.osm, seed=args.seed, n_road_nodes=args.nodes)
        print(f"Demo city written as OpenStreetMap to {path.resolve()} (synthetic data, not a real city).")
        print(f"Try: riskplan init {path} --out DIR && riskplan run DIR/scenario.toml --out DIR/results")
        return EXIT_OK
    from ..workflow import run_demo

    out = args.out if args.out is not None else Path("demo_output")
    stages = Stages(7, quiet=args.quiet)
    try:
        result = run_demo(out, seed=args.seed, n_road_nodes=args.nodes, progress=stages, lang=args.lang)
    finally:
        stages.close()
    print_run(result, "demo_written")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo", help="generate the synthetic demo city and run every stage on it (or the demo province)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: demo_output, or demo_province with --province)",
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    p.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="approximate number of road nodes (city default 30,000; province default 3,000,000, "
        "from 30,000 to 6,000,000)",
    )
    p.add_argument(
        "--osm",
        type=Path,
        default=None,
        help="only write the demo city (with --province: the province) as an OSM file "
        "(.osm.pbf or .osm), for `riskplan init`",
    )
    p.add_argument(
        "--province",
        action="store_true",
        help="only generate the synthetic demo province (10 cities, about 30 million people, "
        "3 million road nodes by default) as a scenario folder: scenario.toml + demo_province.gpkg",
    )
    add_lang_option(p)
    p.set_defaults(func=_run)
