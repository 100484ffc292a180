"""``riskplan communities``: score a community safety survey, and put its failed items in a register.

Reads the survey (CSV in UTF-8 or GB18030, or Excel; Chinese or English headers) against the
scoring standard (``risk_models/data/community_safety.toml``, or the city's own with
``--safety-standard``) and the scenario's communities, scores every community, and writes the
scores, the item breakdown, the failed items, the summary per district and, for re-surveyed
communities, the change per item and per district to one GeoPackage or Excel workbook. With
``--register DIR`` the failed items also become items of that hidden-danger register (created
if need be), each once however often the survey is imported. A bad survey or standard exits 2,
naming the file, the rows and the fix. With ``--budget`` and ``--compare FILE.gpkg`` the chosen
measures' before and after (the risk today and with the measures done, the reasons naming the
measures) is written too (``--compare-report`` for its HTML section).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gis import InputError

from ._console import EXIT_OK, add_lang_option, cli_lang

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario

    from ..communities import assess_communities, register_survey

    if args.compare is None and args.compare_report is not None:
        msg = "`--compare-report` needs `--compare FILE.gpkg`. Fix: give both, or neither."
        raise InputError(msg)
    if args.compare is not None and args.budget is None:
        msg = "`--compare` compares the measures a budget chooses. Fix: give `--budget CNY` too."
        raise InputError(msg)
    scenario = load_scenario(args.scenario)
    lang = cli_lang(args, scenario)
    communities = scenario["communities"]
    run = assess_communities(
        communities,
        args.survey,
        standard=args.safety_standard,
        sheet=args.sheet,
        budget=args.budget,
        demonstration=args.demonstration if args.budget is not None else 0,
        upgrade_measures=args.upgrade_measures,
        time_limit_s=args.time_limit,
    )
    out = run.write(args.out, communities)
    registered = None
    if args.register is not None:
        registered = register_survey(run, communities, args.register, actor=args.actor)
    safety = run.safety
    tag = " (SYNTHETIC survey)" if safety.synthetic else ""
    print(
        f"Community safety of {scenario.label}{tag}: {len(safety.scores)} surveys of "
        f"{len(safety.latest())} communities scored against {run.standard.where}; "
        f"written to {Path(out).resolve()}"
    )
    for line in run.lines(top=args.top):
        print(line)
    if registered:
        print(registered)
    if args.compare is not None:
        from .compare import write_outputs

        comparison = run.compare(scenario, risk_weights=args.risk_weights, lang=lang)
        outputs = argparse.Namespace(out=args.compare, report=args.compare_report, map=None, top=5)
        write_outputs(comparison, outputs, lang, title=" / ".join(reversed(comparison.labels)))
    return EXIT_OK


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
    p.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="FILE.gpkg",
        help="with --budget: the chosen measures' before and after (risk today and with them done)",
    )
    p.add_argument("--compare-report", type=Path, default=None, help="its HTML section (needs --compare)")
    p.add_argument("--risk-weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    add_lang_option(p)
    p.set_defaults(func=_run)
