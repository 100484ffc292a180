"""``riskplan store``: work on a server's store; ``move-register`` moves its register into PostgreSQL.

``riskplan store move-register --data-dir D --store postgresql://...`` copies the hidden-danger
register a server kept in SQLite (``D/register.sqlite3`` from before the register had a
PostgreSQL backend, or the embedded store's ``D/riskplan.sqlite3``) into the database's own
tables, checked row by row, in one transaction (:func:`service.store.register_transfer.transfer_register`).
Stop the server first; start it again with the same ``--store`` afterwards.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ._console import EXIT_OK, add_lang_option, cli_lang, say

__all__ = ["register"]

STORE_ENV = "RISKPLAN_STORE"


def _move_register(args: argparse.Namespace) -> int:
    from gis import InputError

    from ..store.register_transfer import transfer_register

    lang = cli_lang(args)
    if not args.store:
        msg = (
            "`riskplan store move-register` needs the PostgreSQL database to move the register into. "
            f"Fix: `--store postgresql://user@host/db` (or ${STORE_ENV})."
        )
        raise InputError(msg)
    start = time.perf_counter()

    def progress(table: str, rows: int) -> None:
        if not getattr(args, "quiet", False):
            print(say("store_table_moved", lang, table=table, rows=f"{rows:,}"), flush=True)

    done = transfer_register(args.data_dir, args.store, on_table=progress)
    print(
        say(
            "store_register_moved",
            lang,
            items=f"{done.items:,}",
            events=f"{done.events:,}",
            source=done.source,
            target=done.target,
            seconds=f"{time.perf_counter() - start:.1f}",
        )
    )
    if done.kept_as is not None:
        print(say("store_register_kept", lang, path=done.kept_as))
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``store`` subcommand and its actions."""
    p = subparsers.add_parser("store", help="a server's store: move its SQLite register into PostgreSQL")
    sub = p.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    mv = sub.add_parser(
        "move-register",
        help="copy the hidden-danger register kept in SQLite into PostgreSQL (checked, all or nothing)",
    )
    mv.add_argument(
        "--data-dir",
        type=Path,
        required=True,
        help="the server's data directory (register.sqlite3 or riskplan.sqlite3), or the SQLite file",
    )
    mv.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV),
        metavar="postgresql://USER@HOST/DB",
        help="the PostgreSQL database to move it into (also $RISKPLAN_STORE); its register must be empty",
    )
    add_lang_option(mv)
    mv.set_defaults(func=_move_register)
