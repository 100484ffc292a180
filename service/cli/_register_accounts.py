"""``riskplan register account``: the accounts of the web service's register (private).

Accounts live in the service's data directory (``riskplan serve --data-dir DIR``), in its
SQLite database, beside the register they act on. ``add`` prints the new account's token
once: it is stored only as a salted scrypt hash (:mod:`service.api.accounts`), so a lost
token cannot be shown again; disable the account and make a new one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gis import InputError
from risk_models.register.vocab import ROLES

from ._console import EXIT_OK

__all__ = ["add_account_commands"]


def _register(data_dir: Path):
    from service.store import SQLiteRegister
    from service.store.sqlite import DB_NAME

    if not data_dir.is_dir():
        msg = f"`{data_dir}` is not a folder. Fix: give the data directory of `riskplan serve --data-dir`."
        raise InputError(msg)
    return SQLiteRegister(data_dir / DB_NAME)


def _add(args: argparse.Namespace) -> int:
    from service.api.accounts import create_account

    account, token = create_account(
        _register(args.data_dir), role=args.role, unit=args.unit, label=args.label
    )
    of = f" of {account.unit}" if account.unit else ""
    print(f"Account {account.id}: {account.role}{of} ({account.label})")
    print("Its token (shown once; send it as `Authorization: Bearer <token>`):")
    print(token)
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    accounts = _register(args.data_dir).list_accounts()
    if not accounts:
        print("No accounts. Make one with `riskplan register account add --role ROLE --data-dir DIR`.")
    for a in accounts:
        state = "disabled" if a.disabled else "active"
        print(f"{a.id}  {a.role:<22} {a.unit or '-':<24} {state:<8} {a.created_at}  {a.label}")
    return EXIT_OK


def _disable(args: argparse.Namespace) -> int:
    if not _register(args.data_dir).disable_account(args.account):
        msg = (
            f"No account `{args.account}`. Fix: pick one of `riskplan register account list --data-dir DIR`."
        )
        raise InputError(msg)
    print(f"Account {args.account} disabled: its token no longer works.")
    return EXIT_OK


def add_account_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``account add | list | disable`` to the ``register`` actions."""
    acc = sub.add_parser("account", help="accounts of the web service's register (tokens per role and unit)")
    actions = acc.add_subparsers(dest="account_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="make an account and print its token once")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--unit", default=None, help="the unit: department, government or enterprise id")
    add.add_argument("--label", default="", help="a name for people")
    ls = actions.add_parser("list", help="list the accounts (never their tokens)")
    off = actions.add_parser("disable", help="disable an account: its token stops working")
    off.add_argument("account", help="account id (from `list`)")
    for p, func in ((add, _add), (ls, _list), (off, _disable)):
        p.add_argument("--data-dir", type=Path, required=True, help="the data directory of `riskplan serve`")
        p.set_defaults(func=func)
