"""``riskplan demo``: the synthetic demo city with every stage run on it, its OSM file, or the province."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gis.errors import InputError
from gis.i18n import Lang

from ._assess import add_lang_option
from ._console import EXIT_OK, Stages, cli_lang, print_run, say

__all__ = ["register"]

#: Stages of ``riskplan demo --province`` (those of gis.demo.demo_province, then writing).
_PROVINCE_STAGES = 6


def _demo_lang(args: argparse.Namespace, section: str) -> Lang:
    """The language of a demo written without a run: the one rule, with the demo's shipped place."""
    import tomllib
    from importlib.resources import files

    params = tomllib.loads(files("gis").joinpath(f"data/demo_{section}.toml").read_text(encoding="utf-8"))
    lon, lat = float(params[section]["centre_lon"]), float(params[section]["centre_lat"])
    return cli_lang(args, bounds_wgs84=(lon, lat, lon, lat))


def _province(args: argparse.Namespace) -> int:
    import pyogrio

    from gis import write_demo_province
    from gis.speech import say as say_text
    from gis.speech import speaking
    from planning.words import tier_word

    if args.osm is not None:
        return _province_osm(args)
    out = args.out if args.out is not None else Path("demo_province")
    lang = _demo_lang(args, "province")
    if not args.quiet:
        size = f"{args.nodes:,}" if args.nodes is not None else say("demo_province_default_size", lang)
        print(say("demo_province_generating", lang, size=size, seed=args.seed), file=sys.stderr)
    stages = Stages(_PROVINCE_STAGES, quiet=args.quiet)
    try:
        toml = write_demo_province(out, seed=args.seed, n_road_nodes=args.nodes, progress=stages)
    finally:
        stages.close()
    gpkg = toml.parent / "demo_province.gpkg"
    table = pyogrio.read_dataframe(gpkg, layer="metadata", read_geometry=False)
    meta = dict(zip(table["key"].astype(str), table["value"].astype(str), strict=True))
    s = json.loads(meta["summary"])
    with speaking(lang):
        sep = say_text("words_list_sep")
        tiers = sep.join(
            say("demo_province_tier", lang, count=n, tier=tier_word(tier)) for tier, n in s["depots"].items()
        )
    print(say("demo_province_written", lang, folder=toml.parent.resolve()))
    print(say("demo_province_scenario", lang, path=toml.resolve()))
    print(say("demo_province_layers", lang, path=gpkg.resolve()))
    print(say("demo_province_cities", lang, count=s["cities"]))
    print(say("demo_province_roads", lang, nodes=f"{s['road_nodes']:,}", lines=f"{s['road_lines']:,}"))
    people, communities = f"{s['population']:,}", f"{s['communities']:,}"
    print(say("demo_province_people", lang, people=people, communities=communities))
    print(say("demo_province_stations", lang, count=s["fire_stations"]))
    print(say("demo_province_depots", lang, count=sum(s["depots"].values()), tiers=tiers))
    print(say("demo_province_mines", lang, count=s["mines"]))
    print(say("demo_province_parks", lang, count=s["chemical_parks"]))
    print(say("demo_try", lang, command=f"riskplan validate {toml}"))
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
        lang = _demo_lang(args, "city")
        print(say("demo_osm_written", lang, path=path.resolve()))
        command = f"riskplan init {path} --out DIR && riskplan run DIR/scenario.toml --out DIR/results"
        print(say("demo_try", lang, command=command))
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
