"""``riskplan compare``: what changes per unit between two result sets, and why."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from planning.names import DEFAULT_STANDARD

from ._console import EXIT_OK

__all__ = ["register"]


def _is_scenario(path: Path) -> bool:
    """A scenario to run (a TOML, or a GeoPackage without risk units), not a result set."""
    if path.suffix.lower() == ".toml":
        return True
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return False
    import pyogrio

    return "risk_units" not in set(pyogrio.list_layers(path)[:, 0])


def _results(path: Path, label: str, args: argparse.Namespace) -> Path:
    """``path`` itself for a result set; for a scenario, the folder ``riskplan run`` writes for it."""
    if not _is_scenario(path):
        return path
    from ..workflow import run_scenario

    runs = args.out.parent / f"{args.out.stem}_runs" / label
    print(f"Running the {label} scenario {path} into {runs} ...")
    run_scenario(path, runs, units=args.units, standard=args.standard)
    return runs


def _run(args: argparse.Namespace) -> int:
    from planning.compare import compare_results

    if args.units is not None and not (_is_scenario(args.baseline) or _is_scenario(args.other)):
        print("note: --units applies to scenarios run here; both inputs are result sets", file=sys.stderr)
    baseline = _results(args.baseline, "baseline", args)
    other = _results(args.other, "other", args)
    comparison = compare_results(baseline, other)
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
    p.add_argument(
        "baseline",
        type=Path,
        help="baseline: a `riskplan run` output folder, a risk .gpkg, or a scenario (.toml / .gpkg) to run",
    )
    p.add_argument("other", type=Path, help="the other result set or scenario, of the same units")
    p.add_argument(
        "--units",
        default=None,
        help="units of the scenarios run here (communities, grid:500, h3:8; default the run's)",
    )
    p.add_argument(
        "--standard",
        default=DEFAULT_STANDARD,
        help=f"response standard of the runs (default {DEFAULT_STANDARD})",
    )
    p.add_argument("--out", type=Path, required=True, help="output GeoPackage (layer compare_units)")
    p.add_argument("--map", type=Path, default=None, help="also write the diff map (HTML)")
    p.add_argument("--top", type=int, default=10, help="changed units to list (default 10)")
    p.set_defaults(func=_run)
