"""``riskplan map``: the interactive map of a scenario's risk and coverage (works offline)."""

from __future__ import annotations

import argparse
import time

from ._assess import add_options, assess_scenario, map_options
from ._console import EXIT_OK

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from maps import write_map

    start = time.perf_counter()
    scenario, coverage, risk = assess_scenario(args)
    out = write_map(scenario, args.out, risk=risk, coverage=coverage, **map_options(args))
    size_mb = out.stat().st_size / 1e6
    print(
        f"Map of {scenario.label} written to {out.resolve()} ({size_mb:.1f} MB) "
        f"in {time.perf_counter() - start:.1f} s."
    )
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``map`` subcommand."""
    p = subparsers.add_parser("map", help="interactive HTML map of risk and coverage (works offline)")
    add_options(p, "map.html")
    p.set_defaults(func=_run)
