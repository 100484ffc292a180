"""``riskplan what-if`` and ``riskplan criticality``: closures' cost to coverage; ``coverage --close``.

``what-if SCENARIO --close FILE --out F.gpkg`` writes the per-community difference of a change
(roads closed, stations out, temporary stations: :func:`planning.read_change`) against the
baseline; ``criticality SCENARIO --out F.gpkg`` ranks the arterial segments and bridges by
what their closure costs. :func:`apply_close` and :func:`write_with_difference` make
``riskplan coverage --close FILE``:
the whole coverage of the changed scenario, plus the difference layers, in one GeoPackage.
A bad change file exits 2 before anything is written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from gis.speech import current_lang, speak, speaks
from planning.names import DEFAULT_STANDARD

from ._console import EXIT_OK, STANDARD_HELP, add_lang_option, cli_lang, say

__all__ = ["CLOSE_HELP", "apply_close", "register", "write_with_difference"]

#: Help of every ``--close`` option.
CLOSE_HELP = (
    "the change: a polygon layer (.geojson / .gpkg: roads crossing it close), a CSV of `edge` / `way_id` / "
    "`name` rows, or a TOML change file ([close], [stations] out / temporary)"
)


def _baseline(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from gis import load_scenario, scenario_graph

    scenario = load_scenario(args.scenario)
    graph = scenario_graph(scenario, cache=not args.no_cache)
    return scenario, graph, _base_of(args, scenario, graph)


def _base_of(args: argparse.Namespace, scenario: Any, graph: Any) -> Any:
    """The what-if baseline of the command's options (standard, speeds, snap limit)."""
    from planning.what_if import what_if_baseline

    return what_if_baseline(
        graph,
        scenario["fire_stations"],
        scenario["communities"],
        standard=args.standard,
        speed_factor=args.speed_factor,
        max_snap_m=args.max_snap_m,
        response_standards=getattr(args, "response_standards", None),
    )


def _print_report(result: Any, top: int) -> None:
    """The what-if's report and the communities losing most, in the command's language."""
    from ..change_words import describe_change

    lang = current_lang()
    print(result.report(change=describe_change(result.change, lang)))
    c = result.communities
    worse = c[c["loses_coverage"] | c["cut_off"]].sort_values("population", ascending=False)
    for cid, row in worse.head(top).iterrows():
        seconds = f"{row['response_after_s']:.0f}"
        after = (
            say("whatif_cut_off", lang) if row["cut_off"] else say("whatif_seconds", lang, seconds=seconds)
        )
        print(
            say(
                "whatif_loser", lang, community=cid, name=row["name"] or "",
                population=f"{row['population']:,.0f}", before=f"{row['response_before_s']:.0f}", after=after,
            )
        )  # fmt: skip
    if len(worse) > top:
        print(say("whatif_more", lang, count=len(worse) - top))


def _flood_closures(args: argparse.Namespace, scenario: Any, graph: Any) -> tuple[int, ...]:
    """The edge positions the scenario's ``T``-year flood closes (``--flood-return-period T``)."""
    from gis.errors import InputError
    from planning.flood_roads import flooded_edges

    from ..natural_run import natural_inputs

    natural, _ = natural_inputs(scenario)
    period = float(args.flood_return_period)
    depth = {} if natural is None else dict(natural.flood_depth)
    if period not in depth:
        have = ", ".join(f"{t:g}" for t in sorted(depth)) or "none"
        msg = (
            f"`--flood-return-period {args.flood_return_period:g}`: the scenario `{args.scenario}` has flood "
            f"depth rasters for the return periods {have} (years). Fix: give one of them, or add the "
            "raster to the scenario TOML's [natural_hazards.flood_depth]."
        )
        raise InputError(msg)
    closed, _ = flooded_edges(graph, depth[period])
    print(
        say("whatif_flood", current_lang(), period=f"{period:g}", closed=f"{int(closed.sum()):,}",
            edges=f"{len(closed):,}")
    )  # fmt: skip
    return tuple(int(i) for i in np.flatnonzero(closed))


@speaks  # speak(lang) below holds for this command only
def _what_if(args: argparse.Namespace) -> int:
    import dataclasses

    from gis.errors import InputError
    from planning.change import ScenarioChange, read_change
    from planning.what_if import what_if

    start = time.perf_counter()
    if args.close is None and args.flood_return_period is None:
        msg = "Nothing to change. Fix: give `--close FILE`, `--flood-return-period YEARS`, or both."
        raise InputError(msg)
    change = read_change(args.close) if args.close is not None else ScenarioChange()
    scenario, graph, base = _baseline(args)
    lang = speak(cli_lang(args, scenario))  # the report and the change's words speak it too
    if args.flood_return_period is not None:
        flooded = _flood_closures(args, scenario, graph)
        change = dataclasses.replace(change, closed_edges=(*change.closed_edges, *flooded))
    result = what_if(base, change)
    out = result.write(args.out)
    _print_report(result, args.top)
    seconds = f"{time.perf_counter() - start:.1f}"
    print(say("whatif_written", lang, path=Path(out).resolve(), seconds=seconds))
    return EXIT_OK


def _criticality(args: argparse.Namespace) -> int:
    from gis.atomic import write_gpkg
    from planning.criticality import ARTERIAL_CLASSES, criticality

    start = time.perf_counter()
    classes = (
        tuple(c.strip() for c in args.classes.split(",") if c.strip()) if args.classes else ARTERIAL_CLASSES
    )
    scenario, _, base = _baseline(args)
    ranking = criticality(base, classes=classes, barriers=scenario.layers.get("barriers"), top=args.top)
    out = write_gpkg(args.out, {"criticality": ranking})
    print(f"Criticality of {len(ranking)} closures (most critical first):")
    for _, row in ranking.head(10).iterrows():
        print(
            f"  #{row['rank']:<3} {row['kind']:<7} {row['name'] or '(unnamed)'} ({row['highway']}): "
            f"{row['residents_cut_off']:,.0f} cut off, "
            f"{row['resident_seconds_lost']:,.0f} resident-seconds lost, "
            f"{row['residents_losing_coverage']:,.0f} lose coverage"
        )
    print(f"Criticality written to {Path(out).resolve()} in {time.perf_counter() - start:.1f} s.")
    return EXIT_OK


def apply_close(args: argparse.Namespace, scenario: Any, graph: Any) -> tuple[Any, Any, Any]:
    """``riskplan coverage --close FILE``: the difference, and the changed scenario and graph to cover.

    The change is read and checked (exit 2) before anything is computed or written; the
    difference is printed.
    """
    from planning.change import read_change
    from planning.what_if import what_if

    change = read_change(args.close)
    changed, closed_graph = change.apply(scenario, graph)
    diff = what_if(_base_of(args, scenario, graph), change)
    _print_report(diff, 10)
    return diff, changed, closed_graph


def write_with_difference(result: Any, diff: Any, path: Path) -> Path:
    """Write a coverage result and a what-if's difference layers to one GeoPackage, atomically."""
    import pyogrio

    from gis.atomic import atomic_path, storable

    spatial, tables = diff.layers()
    with atomic_path(path) as tmp:
        result.write(tmp)
        for name, frame in {**spatial, **tables}.items():
            if len(frame):
                pyogrio.write_dataframe(storable(frame), tmp, layer=name, driver="GPKG")
    return Path(path)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage")
    p.add_argument("--standard", default=DEFAULT_STANDARD, help=STANDARD_HELP)
    p.add_argument("--speed-factor", type=float, default=1.0, help="engine speed / road speed (default 1)")
    p.add_argument(
        "--max-snap-m", type=float, default=None, help="snap limit: farther places count as not covered"
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``what-if`` and ``criticality`` subcommands."""
    p = subparsers.add_parser(
        "what-if", help="close roads, take stations out, add temporary ones: coverage lost per community"
    )
    _common(p)
    add_lang_option(p)
    p.add_argument("--close", type=Path, default=None, help=CLOSE_HELP)
    p.add_argument(
        "--flood-return-period",
        type=float,
        metavar="YEARS",
        default=None,
        help="also close the roads this flood puts under water (a scenario TOML whose [natural_hazards] has "
        "a flood depth raster of that return period; planning_norms.toml [flood_roads] closed_depth_m)",
    )
    p.add_argument("--top", type=int, default=10, help="communities losing coverage to list (default 10)")
    p.set_defaults(func=_what_if)
    p = subparsers.add_parser(
        "criticality", help="arterial segments and bridges ranked by the coverage their closure costs"
    )
    _common(p)
    p.add_argument("--top", type=int, default=None, help="keep the N most critical closures (default all)")
    p.add_argument(
        "--classes",
        default=None,
        help="road classes ranked, comma-separated (default trunk, primary, secondary)",
    )
    p.set_defaults(func=_criticality)
