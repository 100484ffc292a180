"""``riskplan place``: propose new fire stations for a scenario, with a trade-off curve."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from gis.errors import InputError
from gis.speech import speak, speaks
from planning.names import MODELS

from ._console import EXIT_OK, add_lang_option, cli_lang, say
from ._planning import add_options, community_risk, road_graph

if TYPE_CHECKING:
    from gis.i18n import Lang
    from planning.stations import StationPlan

__all__ = ["plan_report", "register"]


def plan_report(plan: StationPlan, lang: Lang) -> str:
    """:meth:`planning.stations.StationPlan.report` in ``lang`` (the reasons as the model words them)."""
    b, a = plan.summary.loc["before"], plan.summary.loc["after"]
    std = plan.standard
    lines = [
        say("plan_head", lang, model=plan.model, distance=plan.distance, standard=std.name,
            response=f"{std.response_s:.0f}", count=len(plan.proposed), recommended=plan.recommended_n),
        say("plan_shares", lang, population_before=f"{b['population_share']:.1%}",
            population_after=f"{a['population_share']:.1%}", demand_before=f"{b['coverage_share']:.1%}",
            demand_after=f"{a['coverage_share']:.1%}", mean_before=f"{b['mean_response_s']:.0f}",
            mean_after=f"{a['mean_response_s']:.0f}"),
        say("plan_solver", lang, summary=plan.result.summary()),
    ]  # fmt: skip
    lines += [f"  + {i} {r['name']}: {r['reason']}" for i, r in plan.proposed.iterrows()]
    if len(plan.uncoverable):
        people = f"{plan.uncoverable['population'].sum():,.0f}"
        lines.append(say("plan_uncoverable", lang, count=len(plan.uncoverable), population=people))
    lines += ["  " + say("note", lang, note=n) for n in plan.notes]
    return "\n".join(lines)


@speaks  # speak(lang) below holds for this command only
def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from maps.qgis_styles import write_qgis_styles
    from planning.stations import plan_stations

    if args.compare_report is not None and args.compare is None:
        msg = "`--compare-report` needs `--compare FILE.gpkg`. Fix: give both, or neither."
        raise InputError(msg)
    start = time.perf_counter()
    scenario = load_scenario(args.scenario)
    lang = speak(cli_lang(args, scenario))  # the plan's notes and reasons speak it too
    graph = road_graph(scenario, args)
    risk = community_risk(scenario, graph, args, with_risk=args.demand == "population_x_risk")
    plan = plan_stations(
        scenario,
        graph,
        model=args.model,
        n_new=args.new,
        standard=args.standard,
        demand=args.demand,
        risk=risk,
        wind_from_deg=args.wind_from,
        distance=args.distance,
        time_limit_s=args.time_limit,
        planning_norms=args.planning_norms,
        max_snap_m=args.max_snap_m,
        busy_fraction=args.busy_fraction,
    )
    out = plan.write(args.out)
    write_qgis_styles(out)
    print(plan.report() if lang == "en" else plan_report(plan, lang))
    expected = "expected_coverage_share" in plan.tradeoff
    head = say("tradeoff_expected", lang) if expected else ""
    print(say("tradeoff", lang, expected=head))
    for _, row in plan.tradeoff.iterrows():
        mark = say("recommended", lang) if row["recommended"] else ""
        exp = f"  {row['expected_coverage_share']:6.1%}" if expected else ""
        print(
            f"  {int(row['n_new']):>2}: {row['coverage_share']:6.1%}{exp}  {row['mean_response_s']:6.0f} s  "
            f"(+{row['marginal_gain']:.1%}){mark}"
        )
    if plan.result.status != "optimal":
        gap = f"{plan.result.gap:.2%}"
        print(say("solver_stopped", lang, status=plan.result.status, gap=gap), file=sys.stderr)
    seconds = f"{time.perf_counter() - start:.1f}"
    print(say("plan_written", lang, path=Path(out).resolve(), seconds=seconds))
    if args.compare is not None:
        _compare(scenario, plan, args, lang)
    return EXIT_OK


def _compare(scenario: object, plan: StationPlan, args: argparse.Namespace, lang: Lang) -> None:
    """``--compare``: the communities before and with the proposed stations (risk, times, coverage)."""
    from planning.compare_uses import compare_station_plan

    from ..natural_run import natural_inputs
    from .compare import write_outputs

    natural, natural_table = natural_inputs(scenario)  # type: ignore[arg-type]
    comparison = compare_station_plan(
        scenario,
        plan,
        risk_weights=args.risk_weights,
        natural_hazards=natural,
        natural_table=natural_table,
        lang=lang,
    )
    outputs = argparse.Namespace(out=args.compare, report=args.compare_report, map=None, top=5)
    write_outputs(comparison, outputs, lang, title=" / ".join(reversed(comparison.labels)))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``place`` subcommand."""
    p = subparsers.add_parser("place", help="propose new fire stations, with a trade-off curve")
    add_options(p)
    p.add_argument(
        "--model",
        choices=MODELS,
        default="mclp",
        help="location model (default mclp)",
    )
    p.add_argument(
        "--busy-fraction",
        type=float,
        default=None,
        help="share of time a station's unit is busy, in [0, 1): the mexclp objective; the trade-off "
        "table then shows expected coverage next to coverage",
    )
    p.add_argument("--new", type=int, default=3, help="new stations to propose (default 3; lscp: ignored)")
    p.add_argument(
        "--demand",
        default="population_x_risk",
        help="population_x_risk (default), population, or a community column",
    )
    p.add_argument("--wind-from", type=float, default=None, help="prevailing wind, degrees from north (from)")
    p.add_argument(
        "--time-limit", type=float, default=30.0, help="solver time limit per solve, s (default 30)"
    )
    p.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="also write the before / after of the proposed stations per community (GeoPackage, "
        "layer compare_units: risk, level, response time, coverage and the reasons)",
    )
    p.add_argument(
        "--compare-report",
        type=Path,
        default=None,
        help='with --compare: also its report section "Before and after" (HTML, with the diff map)',
    )
    add_lang_option(p)
    p.set_defaults(func=_run)
