"""``riskplan communities``: score a community safety survey, and put its failed items in a register.

Reads the survey (CSV in UTF-8 or GB18030, or Excel; Chinese or English headers) against the
scoring standard (``risk_models/data/community_safety.toml``, or the city's own with
``--safety-standard``) and the scenario's communities, scores every community, and writes the
scores, the item breakdown, the failed items, the summary per district and, for re-surveyed
communities, the change per item and per district to one GeoPackage or Excel workbook. With
``--register DIR`` the failed items also become items of that hidden-danger register (created
if need be), each once however often the survey is imported. A bad survey or standard exits 2,
naming the file, the rows and the fix.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ._console import EXIT_OK

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from risk_models.community_safety import CommunitySafety

__all__ = ["register"]


def _add_to_register(args: argparse.Namespace, safety: CommunitySafety, communities: gpd.GeoDataFrame) -> str:
    from risk_models.community_safety import register_failed_items

    from ..register_files import open_register

    label = f"hidden-danger register {args.register.name}" + (
        " (synthetic survey)" if safety.synthetic else ""
    )
    reg = open_register(args.register, create=True, label=label)
    update = register_failed_items(
        safety,
        communities,
        first_counter=reg.next_counters(),
        existing=reg.events,
        actor=args.actor,
    )
    if update.events:
        reg.append(update.events, update.areas)
    numbers = list(update.items)
    span = f": {numbers[0]} .. {numbers[-1]}" if numbers else ""
    return (
        f"Register {args.register.resolve()}: {len(numbers)} failed items added{span}; "
        f"{len(update.skipped)} already there (not added again)"
    )


def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario
    from risk_models.community_safety import (
        load_safety_standard,
        read_survey,
        score_communities,
        write_safety,
    )

    scenario = load_scenario(args.scenario)
    communities = scenario["communities"]
    standard = load_safety_standard(args.safety_standard)
    survey = read_survey(args.survey, standard, communities=communities, sheet=args.sheet)
    safety = score_communities(survey, standard, communities=communities)
    plan_lines, extra = _plans(args, safety, communities, standard.pass_mark)
    out = write_safety(args.out, safety, communities, extra_tables=extra)
    registered = _add_to_register(args, safety, communities) if args.register is not None else None

    from risk_models.community_safety import safety_summary

    scores = safety.scores
    latest = safety.latest()
    tag = " (SYNTHETIC survey)" if safety.synthetic else ""
    print(
        f"Community safety of {scenario.label}{tag}: {len(scores)} surveys of {len(latest)} communities "
        f"scored against {standard.where}; written to {Path(out).resolve()}"
    )
    print(
        f"Latest surveys: mean score {latest['score'].mean():.1f}, {int(latest['passed'].sum())} of "
        f"{len(latest)} pass (pass mark {standard.pass_mark:g}, no failed veto item)"
    )
    summary = safety_summary(safety)
    grades = [g for g, _, _ in standard.grades]
    cols = ["district", "communities", "mean_score", "passed", "failed_items", "most_failed_item", *grades]
    print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    failed = safety.failed()
    last = failed.set_index(["community_id", "survey_date"]).index.isin(
        list(zip(latest.index, latest["survey_date"], strict=True))
    )
    if last.any():
        top = failed.loc[last, "item"].astype(str).value_counts().head(args.top)
        print("Most failed items (latest surveys): " + ", ".join(f"{item} {n}" for item, n in top.items()))
    for note in survey.notes:
        print(f"note: {note}")
    for line in plan_lines:
        print(line)
    if registered:
        print(registered)
    return EXIT_OK


def _plans(
    args: argparse.Namespace, safety: CommunitySafety, communities: gpd.GeoDataFrame, pass_mark: float
) -> tuple[list[str], dict[str, pd.DataFrame]]:
    """The upgrade plan within ``--budget`` and the ``--demonstration`` communities, as tables."""
    if args.budget is None:
        return [], {}
    import pandas as pd

    from planning import choose_demonstration, plan_upgrades, scores_after_upgrades, upgrade_candidates

    candidates = upgrade_candidates(safety.items, communities, args.upgrade_measures)
    plan = plan_upgrades(candidates, args.budget, time_limit_s=args.time_limit)
    after = scores_after_upgrades(safety.scores, safety.items, plan, pass_mark=pass_mark)
    lines = [
        f"Upgrade plan within {args.budget:,.0f} CNY: {plan.summary()}",
        f"  after the plan {int(after['passed_after'].sum())} of {len(after)} communities pass "
        f"(today {int(safety.latest()['passed'].sum())})",
    ]
    extra = {
        "upgrade_plan": pd.DataFrame(plan.chosen),
        "upgrade_by_community": plan.by_community,
        "scores_after_upgrades": after,
        "upgrade_summary": pd.DataFrame({"line": [plan.summary(), *plan.notes]}),
    }
    if args.demonstration:
        # the survey records each community's type (old town, high-rise, ...): the quotas use it
        latest = safety.latest()
        com = communities.set_index("id") if "id" in communities.columns else communities
        com = com.join(latest[["community_type"]], how="left") if "community_type" in latest else com
        demo = choose_demonstration(after, com, args.demonstration, pass_mark=pass_mark)
        lines.append(f"Demonstration communities: {demo.summary()}")
        extra["demonstration"] = demo.chosen
        extra["demonstration_quotas"] = demo.quotas
    return lines, extra


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``communities`` subcommand."""
    p = subparsers.add_parser(
        "communities", help="score a community safety survey (elevators, gas, e-bikes, fire lanes ...)"
    )
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml (its communities layer)")
    p.add_argument("--survey", type=Path, required=True, help="survey CSV (UTF-8 / GB18030) or .xlsx")
    p.add_argument("--out", type=Path, required=True, help="output .gpkg or .xlsx")
    p.add_argument("--sheet", default=None, help="the survey's Excel sheet (default: the first)")
    p.add_argument(
        "--safety-standard",
        type=Path,
        default=None,
        help='TOML overriding the scoring standard community_safety.toml (base = "none": a whole standard)',
    )
    p.add_argument(
        "--register",
        type=Path,
        default=None,
        help="register directory to add the failed items to (once each)",
    )
    p.add_argument("--actor", default="community-survey", help="account id that imports into the register")
    p.add_argument("--top", type=int, default=5, help="most failed items to list (default 5)")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="CNY: choose the measures that remove the most risk x residents within it (HiGHS, proven gap)",
    )
    p.add_argument(
        "--upgrade-measures",
        type=Path,
        default=None,
        help="TOML overriding the measure costs upgrade_measures.toml",
    )
    p.add_argument(
        "--demonstration",
        type=int,
        default=0,
        help="with --budget: choose this many demonstration communities (quotas by district and type)",
    )
    p.add_argument("--time-limit", type=float, default=30.0, help="seconds for each solve (default 30)")
    p.set_defaults(func=_run)
