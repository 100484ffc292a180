"""``riskplan validate``: check a scenario and list every problem (or what it holds)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._console import EXIT_OK, add_lang_option, cli_lang, say

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from gis import load_scenario

    scenario = load_scenario(args.scenario)
    lang = cli_lang(args, scenario)
    print(say("valid", lang, scenario=scenario.label, crs=scenario.crs.name))
    print(scenario.summary().to_string())
    for note in scenario.notes:
        print(say("note", lang, note=note))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` subcommand."""
    p = subparsers.add_parser("validate", help="check a scenario and list every problem")
    p.add_argument("scenario", type=Path, help="scenario .gpkg or .toml")
    add_lang_option(p)
    p.set_defaults(func=_run)
