"""What ``riskplan map`` and ``riskplan report`` share: their options and the assessment they draw.

Both compute coverage (:func:`planning.coverage.analyse_coverage` on the scenario's road graph)
and risk (:func:`risk_models.score_scenario` with the communities' response times) through
:func:`service.workflow.assess`, then render.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planning.names import DEFAULT_STANDARD

from ._console import STANDARD_HELP

if TYPE_CHECKING:
    from gis import Scenario
    from planning import CoverageResult
    from risk_models import RiskResult

__all__ = ["add_lang_option", "add_options", "assess_scenario", "map_options"]


def map_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`maps.write_map` that the options choose."""
    tiles = None if args.tiles == "none" else args.tiles
    return {"tiles": tiles, "gcj02": args.gcj02, "lang": getattr(args, "lang", None)}


def assess_scenario(args: argparse.Namespace) -> tuple[Scenario, CoverageResult, RiskResult]:
    """Load the scenario of ``args`` and assess it: ``(scenario, coverage, risk)``."""
    from gis import load_scenario

    from ..workflow import assess

    scenario = load_scenario(args.scenario)
    coverage, risk = assess(
        scenario,
        units=args.units,
        standard=args.standard,
        learn=args.learn,
        cache=not args.no_cache,
        risk_weights=args.risk_weights,
        max_snap_m=args.max_snap_m,
    )
    return scenario, coverage, risk


def add_lang_option(p: argparse.ArgumentParser) -> None:
    """``--lang zh|en``: the language of the map, the report and the figures."""
    from gis.i18n import LANGS

    p.add_argument(
        "--lang",
        choices=LANGS,
        default=None,
        help="language of the map, report, figures and summary (default: $RISKPLAN_LANG, else the "
        "scenario's `[scenario] lang`, else its place: Chinese in China; else English)",
    )


def add_options(p: argparse.ArgumentParser, default_out: str) -> None:
    """The arguments both subcommands take; ``default_out`` is the HTML file written by default."""
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    p.add_argument("--out", type=Path, default=Path(default_out), help=f"output HTML (default {default_out})")
    p.add_argument("--units", default="communities", help="communities | h3:RES | grid:METRES")
    p.add_argument("--standard", default=DEFAULT_STANDARD, help=STANDARD_HELP)
    p.add_argument(
        "--tiles",
        default="auto",
        choices=["auto", "osm", "gaode", "none"],
        help="online base map offered as a toggle, off by default (default auto)",
    )
    p.add_argument("--gcj02", action="store_true", help="shift overlays to GCJ-02 for Chinese base maps")
    add_lang_option(p)
    learn = p.add_mutually_exclusive_group()
    learn.add_argument(
        "--learn",
        dest="learn",
        action="store_true",
        default=None,
        help="fit the incident models (default: when the scenario has incidents)",
    )
    learn.add_argument("--no-learn", dest="learn", action="store_false", help="skip the incident models")
    p.add_argument("--risk-weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    p.add_argument("--max-snap-m", type=float, default=None, help="snap limit: farther places are flagged")
    p.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
