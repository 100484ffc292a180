"""``riskplan coverage``: response times, coverage, isochrones and station districts of a scenario."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gis import InputError
from gis.i18n import load_glossary
from gis.speech import speak, speaks
from planning.names import DEFAULT_STANDARD

from ._console import (
    EXIT_OK,
    STANDARD_HELP,
    add_executor_options,
    add_lang_option,
    cli_executor,
    cli_lang,
    say,
)
from .what_if import CLOSE_HELP

if TYPE_CHECKING:
    from gis.i18n import Lang
    from planning import CoverageResult

__all__ = ["coverage_report", "register"]


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


def _weight(weight: str, lang: Lang) -> str:
    """What a layer's share counts (population, features, area) in ``lang``; a community column as is."""
    key = f"cli_weight_{weight}"
    return load_glossary().text(key, lang) if key in load_glossary().texts else weight


def coverage_report(result: CoverageResult, lang: Lang) -> str:
    """:meth:`planning.CoverageResult.report` in ``lang``: shares, percentiles, violations."""
    std = result.standard
    lines = [
        say("coverage_head", lang, scenario=result.scenario, standard=std.name,
            turnout=f"{std.turnout_s:.0f}", travel=f"{std.travel_s:.0f}", response=f"{std.response_s:.0f}",
            speed=f"{result.speed_factor:g}")
    ]  # fmt: skip
    for name, row in result.summary.iterrows():
        lines.append(
            say("coverage_line", lang, layer=f"{name:<12}", covered=row["covered"], features=row["features"],
                share=f"{row['share_weight']:.1%}", weight=_weight(str(row["weight"]), lang),
                p50=f"{row['p50_response_s']:.0f}", p90=f"{row['p90_response_s']:.0f}")
            + ("" if row["meets_standard"] else say("standard_not_met", lang))
        )  # fmt: skip
    counts = result.violations["kind"].value_counts().to_dict() if len(result.violations) else {}
    lines.append(say("district_violations", lang, counts=counts or say("none", lang)))
    lines += ["  " + say("note", lang, note=n) for n in result.notes]
    return "\n".join(lines)


@speaks  # speak(lang) below holds for this command only
def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario, scenario_graph
    from maps.qgis_styles import write_qgis_styles
    from planning.coverage import analyse_coverage

    from ..hours_run import prepare_hours, time_of_day_options
    from ..workflow import with_executor

    start = time.perf_counter()
    breaks_s = [60.0 * b for b in _breaks(args.breaks)] if args.breaks else None
    if args.close is not None:  # a bad change file exits 2 before anything is loaded
        from planning.change import read_change

        read_change(args.close)
    scenario = load_scenario(args.scenario)
    lang = speak(cli_lang(args, scenario))  # the coverage's notes and violations speak it too
    if args.reliability:  # bad incidents or tables exit 2 before anything runs
        from planning.reliability import check_reliability_inputs

        check_reliability_inputs(scenario, service_times=args.service_times)
    tod = time_of_day_options(
        scenario,
        hour=args.hour,
        worst=args.worst_hour,
        speed_profiles=args.speed_profiles,
        observed_speeds=args.observed_speeds,
    )
    graph = scenario_graph(scenario, cache=not args.no_cache)
    free_flow, base_scenario = graph, scenario  # the build speeds: the worst hour's layers sit next to theirs
    hours = None
    if tod is not None:  # bad observed rows stop here, before anything is computed or written
        hours = prepare_hours(
            scenario,
            graph,
            tod,
            table=tod.hour == "worst",
            standard=args.standard,
            max_snap_m=args.max_snap_m,
            speed_factor=args.speed_factor,
            response_standards=args.response_standards,
        )
        graph = hours.graph
        if hours.hour is None:
            print(
                "warning: speed profiles or observed speeds change nothing without --hour, "
                "--worst-hour or a [time_of_day] hour",
                file=sys.stderr,
            )
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
    if args.reliability:
        from planning.reliability import analyse_reliability, attach_reliability

        rel = analyse_reliability(
            scenario,
            graph,
            standard=args.standard,
            speed_factor=args.speed_factor,
            calls_per_year=args.calls_per_year,
            service_times=args.service_times,
            response_standards=args.response_standards,
        )
        result = attach_reliability(result, rel)
    if args.force:  # units and crew in time at every community, special-duty gaps at hazards
        from ..force_run import attach_force

        result = attach_force(result, scenario, graph, station_force=args.station_force)
    if hours is not None and hours.worst:  # the free-flow isochrones and districts, the worst hour's too
        if args.close is not None:
            from planning.change import read_change

            _, free_flow = read_change(args.close).apply(base_scenario, free_flow)
        result = hours.with_free_flow(
            result,
            scenario,
            free_flow,
            standard=args.standard,
            speed_factor=args.speed_factor,
            cell_m=args.cell_m,
            districts=not args.no_districts,
            max_snap_m=args.max_snap_m,
            response_standards=args.response_standards,
        )
    if hours is not None:
        result = hours.mark(result)
    if diff is None:
        out = result.write(args.out)
    else:
        from .what_if import write_with_difference

        out = write_with_difference(result, diff, args.out)
    write_qgis_styles(out)
    by_hour = (
        hours.write(Path(out).parent, prefix=f"{Path(out).stem}_", lang=lang) if hours is not None else {}
    )
    print(result.report() if lang == "en" else coverage_report(result, lang))
    if hours is not None and hours.table is not None and hours.hour is not None:
        p90 = hours.table.loc[hours.hour, "p90_response_s"]
        print(f"Worst hour {hours.hour:02d}:00: residents' P90 response {p90:.0f} s")
    for path in by_hour.values():
        print(f"Response by hour written to {path.resolve()}")
    if len(result.violations):
        print(say("violations", lang, count=len(result.violations)))
        for message in result.violations["message"].head(args.top):
            print(f"  - {message}")
        if len(result.violations) > args.top:
            print(say("more_violations", lang, count=len(result.violations) - args.top))
    flagged = {
        name: int(gdf["flagged"].sum())
        for name, gdf in (("communities", result.communities), ("hazards", result.hazards))
        if gdf["flagged"].any()
    }
    for name, count in flagged.items():
        print(say("snap_warning", lang, layer=name, count=count), file=sys.stderr)
    seconds = f"{time.perf_counter() - start:.1f}"
    print(say("coverage_written", lang, path=Path(out).resolve(), seconds=seconds))
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
    when = p.add_mutually_exclusive_group()
    when.add_argument(
        "--hour", default=None, help="hour of day 0-23: travel times at that hour's speeds (speed profiles)"
    )
    when.add_argument(
        "--worst-hour",
        action="store_true",
        help="coverage at the hour of the longest residents' P90; writes OUT_response_by_hour.csv/.png",
    )
    p.add_argument(
        "--speed-profiles", type=Path, default=None, help="TOML overriding speed_profiles.toml (with --hour)"
    )
    p.add_argument(
        "--observed-speeds", type=Path, default=None, help="CSV of observed speeds: edge, hour, speed_kph"
    )
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
    p.add_argument(
        "--reliability",
        action="store_true",
        help="busy stations (hypercube): expected P90 response, first-due busy, station_workload layer",
    )
    p.add_argument(
        "--calls-per-year",
        type=float,
        default=None,
        help="with --reliability and no incidents: the city's calls",
    )
    p.add_argument(
        "--service-times", type=Path, default=None, help="TOML overriding service_times.toml (--reliability)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="effective response force: units and crew within NFPA 1710's full alarm and the Chinese target",
    )
    p.add_argument(
        "--station-force", type=Path, default=None, help="TOML overriding station_force.toml (--force)"
    )
    p.add_argument("--top", type=int, default=10, help="violations to list (default 10)")
    p.add_argument("--close", type=Path, default=None, help=f"what if: {CLOSE_HELP}")
    add_executor_options(p)
    add_lang_option(p)
    p.set_defaults(func=_run)
