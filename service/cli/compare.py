"""``riskplan compare``: what changes per unit between two result sets, and why."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._console import EXIT_OK

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from planning.compare import compare_results

    comparison = compare_results(args.baseline, args.other)
    out = comparison.write(args.out)
    for line in comparison.summary():
        print(line)
    changed = comparison.units[comparison.units["reasons"] != ""]
    order = changed["score_change"].abs().sort_values(ascending=False).index[: args.top]
    for uid in order:
        row = changed.loc[uid]
        print(f"  {uid}: {row['change']}, score {row['score_change']:+.2f}: {row['reasons']}")
    print(f"Comparison written to {Path(out).resolve()}")
    if args.map is not None:
        from maps.compare_map import write_compare_map

        page = write_compare_map(comparison.units, args.map, title=f"{args.other} against {args.baseline}")
        print(f"Diff map written to {Path(page).resolve()}")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` subcommand."""
    p = subparsers.add_parser("compare", help="before and after: the change per unit of two result sets")
    p.add_argument("baseline", type=Path, help="baseline: a `riskplan run` output folder or a risk .gpkg")
    p.add_argument("other", type=Path, help="the other result set, of the same units")
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage (layer compare_units)")
    p.add_argument("--map", type=Path, default=None, help="also write the diff map (HTML)")
    p.add_argument("--top", type=int, default=10, help="changed units to list (default 10)")
    p.set_defaults(func=_run)
