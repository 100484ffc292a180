"""``riskplan compare``: what changes per unit between two result sets, and why."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gis.errors import InputError
from planning.names import DEFAULT_STANDARD

from ._console import EXIT_OK, add_lang_option, cli_lang, say

if TYPE_CHECKING:
    from gis.i18n import Lang
    from planning.compare import Comparison

__all__ = ["add_outputs", "register", "say_cmp", "write_outputs"]


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
    print(say("compare_running", cli_lang(args), label=label, path=path, runs=runs))
    run_scenario(path, runs, units=args.units, standard=args.standard)
    return runs


def write_outputs(comparison: Comparison, args: argparse.Namespace, lang: Lang, *, title: str) -> None:
    """Print the summary and the largest changes; write ``--out``, ``--map`` and ``--report``.

    Used by ``compare`` and by the ``--compare`` options of ``place``, ``register assess`` and
    ``communities`` (``args.out`` / ``args.map`` / ``args.report`` / ``args.top``; the last three
    optional).
    """
    comparison = comparison.in_lang(lang)
    for line in comparison.summary():
        print(line)
    changed = comparison.units[comparison.units["reasons"] != ""]
    order = changed["score_change"].abs().fillna(0.0).sort_values(ascending=False, kind="stable").index
    for uid in order[: getattr(args, "top", 10)]:
        row = changed.loc[uid]
        change = say_cmp(f"cmp_change_{row['change']}", lang)
        score = f"{row['score_change']:+.2f}"
        print(
            "  " + say_cmp("cmp_cli_row", lang, unit=uid, change=change, score=score, reasons=row["reasons"])
        )
    out = comparison.write(args.out)
    print(say_cmp("cmp_written", lang, path=Path(out).resolve()))
    if getattr(args, "map", None) is not None:
        from maps.compare_map import write_compare_map

        page = write_compare_map(comparison.units, args.map, title=title, lang=lang)
        print(say_cmp("cmp_map_written", lang, path=Path(page).resolve()))
    if getattr(args, "report", None) is not None:
        from maps.compare_map import write_compare_report

        report = write_compare_report(comparison, args.report, lang=lang, title=title)
        print(say_cmp("cmp_report_written", lang, path=Path(report).resolve()))


def say_cmp(key: str, lang: Lang, **values: object) -> str:
    """The glossary's text ``key`` (of the compare block) in ``lang``."""
    from gis.i18n import load_glossary

    return load_glossary().text(key, lang, **values)


def _run(args: argparse.Namespace) -> int:
    from planning.compare import compare_results, compare_what_if, is_what_if, read_results

    lang = cli_lang(args)
    if args.other is None or is_what_if(args.other):
        what_if = args.baseline if args.other is None else args.other
        if not is_what_if(what_if):
            msg = (
                f"`{what_if}` is not a `riskplan what-if` output (no layer `what_if_communities`). "
                "Fix: give two result sets (BASELINE OTHER), or one what-if GeoPackage."
            )
            raise InputError(msg)
        risk = (
            read_results(_results(args.baseline, "baseline", args)).units if args.other is not None else None
        )
        comparison = compare_what_if(
            what_if, risk=risk, label=str(what_if), baseline_label=str(args.baseline)
        )
        write_outputs(comparison, args, lang, title=str(what_if))
        return EXIT_OK
    if args.units is not None and not (_is_scenario(args.baseline) or _is_scenario(args.other)):
        print("note: --units applies to scenarios run here; both inputs are result sets", file=sys.stderr)
    baseline = _results(args.baseline, "baseline", args)
    other = _results(args.other, "other", args)
    comparison = compare_results(baseline, other, lang=lang)
    write_outputs(comparison, args, lang, title=f"{args.other} / {args.baseline}")
    return EXIT_OK


def add_outputs(p: argparse.ArgumentParser, *, out_required: bool = True) -> None:
    """``--map``, ``--report`` and ``--top`` of a comparison (and ``--out`` when asked)."""
    if out_required:
        p.add_argument("--out", type=Path, required=True, help="output GeoPackage (layer compare_units)")
    p.add_argument("--map", type=Path, default=None, help="also write the diff map (HTML)")
    p.add_argument(
        "--report", type=Path, default=None, help='also write the report section "Before and after" (HTML)'
    )
    p.add_argument("--top", type=int, default=10, help="changed units to list (default 10)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` subcommand."""
    p = subparsers.add_parser("compare", help="before and after: the change per unit of two result sets")
    p.add_argument(
        "baseline",
        type=Path,
        help="baseline: a `riskplan run` output folder, a risk .gpkg, or a scenario (.toml / .gpkg) to run",
    )
    p.add_argument(
        "other",
        type=Path,
        nargs="?",
        default=None,
        help="the other result set or scenario, of the same units; or a `riskplan what-if` output "
        "(its difference layers; the baseline then gives the levels); omitted when BASELINE is "
        "a what-if output",
    )
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
    add_outputs(p)
    add_lang_option(p)
    p.set_defaults(func=_run)
