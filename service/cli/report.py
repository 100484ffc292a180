"""``riskplan report``: the self-contained HTML report of a scenario (figures, tables, the map)."""

from __future__ import annotations

import argparse
import time

from ._assess import add_options, assess_scenario, map_options
from ._console import EXIT_OK

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from maps import write_report

    start = time.perf_counter()
    scenario, coverage, risk = assess_scenario(args)
    options = map_options(args)
    lang = options.pop("lang")
    out = write_report(
        scenario, args.out, risk=risk, coverage=coverage, top_n=args.top, map_options=options, lang=lang
    )
    size_mb = out.stat().st_size / 1e6
    print(
        f"Report on {scenario.label} written to {out.resolve()} ({size_mb:.1f} MB) "
        f"in {time.perf_counter() - start:.1f} s."
    )
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` subcommand."""
    p = subparsers.add_parser("report", help="self-contained HTML report: figures, tables and the map")
    add_options(p, "report.html")
    p.add_argument("--top", type=int, default=15, help="rows of the top-risk table (default 15)")
    p.set_defaults(func=_run)
