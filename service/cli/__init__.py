"""The ``riskplan`` command line: one module per subcommand.

Exit codes: 0 on success, 2 on invalid input (messages on stderr), 1 on an
unexpected failure. Outputs are written atomically.

Each module of :data:`COMMANDS` (in the order ``riskplan --help`` lists them) defines
``register(subparsers)``, which adds its subcommand and sets ``func`` to a handler
``(argparse.Namespace) -> int`` returning the exit code. At import time a subcommand module
loads only the standard library and the light names of the other packages; its handler
imports what it needs (geopandas, networkx, folium, uvicorn...), so ``riskplan --help``
loads none of them. Exit codes and progress bars are in :mod:`service.cli._console`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from gis import InputError, RiskplanError

from . import (
    communities,
    compare,
    coverage,
    demo,
    depots,
    force,
    init,
    network,
    place,
    register,
    report,
    risk,
    run,
    serve,
    store,
    tiles,
    validate,
    what_if,
)
from . import map as map_  # named after its subcommand; `map` alone would hide the builtin
from ._console import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, cli_lang, error_text

__all__ = ["COMMANDS", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "build_parser", "main"]

#: The subcommand modules, in the order ``riskplan --help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    demo,
    run,
    validate,
    network,
    init,
    coverage,
    what_if,
    force,
    risk,
    map_,
    report,
    place,
    depots,
    register,
    communities,
    compare,
    serve,
    store,
    tiles,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``riskplan`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="riskplan",
        description="Urban safety risk maps and emergency-resource planning on road networks.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _error_text(args: argparse.Namespace, exc: InputError) -> str:
    """``error: ...`` in the command's language (``--lang``, else ``$RISKPLAN_LANG``, else English)."""
    try:
        return error_text(exc, cli_lang(args))
    except InputError:  # a bad $RISKPLAN_LANG: the message itself, in English
        return f"error: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return int(args.func(args))
    except InputError as exc:
        print(_error_text(args, exc), file=sys.stderr)
        return EXIT_INVALID
    except RiskplanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted; no partial output was kept", file=sys.stderr)
        return EXIT_INTERRUPTED
