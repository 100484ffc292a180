"""``riskplan register``: the hidden-danger register (隐患台账) on a data directory.

``import`` inspection results from CSV or Excel, ``list`` items, ``move`` one through the
workflow, ``disclose`` a month (三公开: HTML, CSV and GeoPackage) and ``assess`` it (四评估);
``compare`` gives the communities' risk before and after closing the open major hidden dangers;
``demo`` writes the demo city's synthetic register; ``account`` makes the accounts of the web
service's register (``riskplan serve``'s data directory). The register is kept as files
(:mod:`service.register_files`); every change goes through the workflow of
``risk_models/data/register_workflow.toml``. Bad input exits with code 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from gis import InputError
from gis.i18n import Lang, format_month
from planning.names import DEFAULT_STANDARD
from risk_models.register.vocab import ACTIONS, CATEGORIES, DANGER_GRADES, ROLES, SOURCES, STATUSES

from ._console import EXIT_OK, STANDARD_HELP, add_lang_option, cli_lang, say
from ._register_accounts import add_account_commands
from .compare import add_outputs

__all__ = ["register"]

_LIST_COLUMNS = ["number", "status", "grade", "category", "source", "reported_at", "deadline", "overdue"]


def _time(text: str | None, what: str) -> datetime:
    if text is None:
        return datetime.now().replace(microsecond=0)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        msg = f"`{what}` {text!r} is not a date or time. Fix: give it as 2026-03-02 or 2026-03-02T10:00."
        raise InputError(msg) from None


def _import(args: argparse.Namespace) -> int:
    from risk_models.register import import_rows, read_rows

    from ..register_files import open_register

    rows = read_rows(args.file, sheet=args.sheet, engine=args.engine)
    layers: dict[str, Any] = {}
    if args.scenario is not None:
        from gis import load_scenario

        scenario = load_scenario(args.scenario)
        layers = {k: scenario.layers.get(k) for k in ("hazards", "communities")}
    existing = args.dir / "register.json"
    reg = open_register(args.dir, create=True) if existing.exists() else None
    counters = reg.next_counters() if reg is not None else {}
    result = import_rows(
        rows,
        first_counter=counters,
        actor=args.actor,
        role=args.role,
        unit=args.unit,
        source=args.source,
        coords=args.coords,
        verify=args.verify,
        where=f"`{args.file}`",
        link_distance_m=args.link_m,
        **layers,
    )
    reg = reg if reg is not None else open_register(args.dir, create=True)
    reg.append(result.events, result.areas)
    numbers = list(result.items)
    print(f"Imported {len(numbers)} items into {args.dir.resolve()}: {numbers[0]} .. {numbers[-1]}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from risk_models.register import overdue

    from ..register_files import open_register

    reg = open_register(args.dir)
    frame = reg.frame()
    at = _time(args.at, "--at")
    frame["overdue"] = overdue(frame, at)
    keep = frame["number"].notna()
    for col in ("status", "grade", "category", "source"):
        value = getattr(args, col)
        if value:
            keep &= frame[col].eq(value)
    if args.overdue:
        keep &= frame["overdue"]
    table = frame.loc[keep, [c for c in _LIST_COLUMNS if c in frame.columns]]
    if args.csv is not None:
        from gis.atomic import atomic_path

        with atomic_path(args.csv) as tmp:
            table.to_csv(tmp, index=False, encoding="utf-8-sig")
        print(say("register_items", cli_lang(args), count=len(table), path=args.csv.resolve()))
        return EXIT_OK
    shown = table.head(args.limit) if args.limit else table
    print(shown.to_string(index=False) if len(shown) else "No items match.")
    if len(shown) < len(table):
        print(say("more_items", cli_lang(args), count=len(table) - len(shown)))
    return EXIT_OK


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _move(args: argparse.Namespace) -> int:
    from risk_models.register import transition

    from ..register_files import open_register

    reg = open_register(args.dir)
    item = reg.items.get(args.number)
    if item is None:
        msg = (
            f"`{args.dir}` has no item `{args.number}`. Fix: pick one of `riskplan register list {args.dir}`."
        )
        raise InputError(msg)
    data: dict[str, Any] = {}
    for pair in args.set or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            msg = f"`--set {pair}` is not KEY=VALUE. Fix: e.g. `--set deadline=2026-04-30`."
            raise InputError(msg)
        data[key.strip()] = _value(value)
    new, event = transition(
        item,
        args.action,
        at=_time(args.at, "--at"),
        actor=args.actor,
        role=args.role,
        unit=args.unit,
        data=data,
        note=args.note or "",
    )
    reg.append([event])
    lang = cli_lang(args)
    deadline = say("register_deadline", lang, deadline=new.deadline) if new.deadline else ""
    print(say("register_move", lang, number=new.number, before=event.from_status, after=new.status,
              action=args.action, role=args.role, deadline=deadline))  # fmt: skip
    return EXIT_OK


def _month(month: str, lang: Lang) -> str:
    """``YYYY-MM`` as a report names it (2026年3月)."""
    year, number = month.split("-")[:2]
    return format_month(int(year), int(number), lang)


def _disclose(args: argparse.Namespace) -> int:
    from gis.crs import to_metric
    from risk_models.register import disclose

    from ..hazard_register import write_disclosure
    from ..register_files import open_register

    reg = open_register(args.dir)
    frame = reg.frame()
    if args.precision_m is not None:
        frame = to_metric(frame)
    d = disclose(frame, reg.events_frame(), args.month, location_precision_m=args.precision_m)
    out: Path = args.out or args.dir / "disclosure"
    lang = cli_lang(args)
    written = write_disclosure(d, out, reg.label, lang=lang)
    s = d.summary.loc["all"]
    month = d.month if lang == "en" else _month(d.month, lang)
    print(say("disclosure", lang, month=month, found=int(s["found"]), closed=int(s["closed"]),
              open=int(s["open"]), overdue=int(s["overdue"]), majors=len(d.majors)))  # fmt: skip
    for path in written.values():
        print(f"  {path.resolve()}")
    return EXIT_OK


def _assess(args: argparse.Namespace) -> int:
    from risk_models.register import assess

    from ..register_files import open_register

    reg = open_register(args.dir)
    frame = reg.frame()
    a = assess(frame, reg.events_frame(), args.month, by=args.by, trend_months=args.trend)
    cols = ["rank", "score", "found", "closed", "on_time_rate", "overdue_now", "median_days_to_close",
            "reopen_rate", "self_check_share", "rank_change"]  # fmt: skip
    from ..register_outputs import localise_columns

    lang = cli_lang(args)
    if lang == "en":
        month, by = a.month, a.by
    else:
        month = _month(a.month, lang)
        by = str(localise_columns(a.table.rename_axis(a.by), lang).index.name)
    print(say("assessment_head", lang, month=month, by=by))
    print(localise_columns(a.table[cols], lang).to_string(float_format=lambda v: f"{v:.2f}"))
    city = a.city.loc[a.month]
    print(say("assessment_city", lang, found=int(city["found"]), closed=int(city["closed"]),
              on_time=f"{city['on_time_rate']:.0%}", overdue=int(city["overdue_now"]),
              median=f"{city['median_days_to_close']:.1f}", reopen=f"{city['reopen_rate']:.0%}",
              self_check=f"{city['self_check_share']:.0%}"))  # fmt: skip
    if args.out is not None:
        from gis.atomic import atomic_path

        from ..assessment_outputs import assessment_csv

        with atomic_path(args.out) as tmp:
            tmp.write_text(assessment_csv(a, lang), encoding="utf-8-sig")
        print(f"  {args.out.resolve()}")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    """``register compare DIR SCENARIO``: the communities' risk with the open majors closed."""
    from gis import load_scenario, scenario_graph
    from planning import layer_coverage, reached_times
    from planning.compare_uses import compare_register_closing

    from ..natural_run import natural_inputs
    from ..register_files import open_register
    from .compare import write_outputs

    reg = open_register(args.dir)
    scenario = load_scenario(args.scenario)
    lang = cli_lang(args, scenario)
    table = layer_coverage(
        scenario_graph(scenario, cache=not args.no_cache),
        scenario["fire_stations"],
        scenario["communities"],
        standard=args.standard,
        layer="communities",
    )
    natural, natural_table = natural_inputs(scenario)
    at = _time(args.at, "--at") if args.at else None
    comparison = compare_register_closing(
        scenario,
        reg.frame(),
        response_time_s=reached_times(table),
        register_at=at,
        risk_weights=args.risk_weights,
        natural_hazards=natural,
        natural_table=natural_table,
        lang=lang,
    )
    write_outputs(comparison, args, lang, title=" / ".join(reversed(comparison.labels)))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    import gis
    from risk_models.register import synthetic_register

    from ..hazard_register import save_synthetic_register

    if (args.dir / "register.json").exists():
        msg = f"`{args.dir}` already holds a register. Fix: pick an empty directory."
        raise InputError(msg)
    city = gis.demo_city(n_road_nodes=2000)  # the city of the doctests
    syn = synthetic_register(city, seed=args.seed, n_items=args.items)
    reg = save_synthetic_register(syn, args.dir)
    print(f"{syn.label}: {len(reg.items)} items, {len(reg.events)} events in {args.dir.resolve()}")
    print(
        f"Try: riskplan register disclose {args.dir} 2024-12 && riskplan register assess {args.dir} 2024-12"
    )
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``register`` subcommand and its actions."""
    p = subparsers.add_parser(
        "register", help="the hidden-danger register: import, list, move, disclose, assess"
    )
    sub = p.add_subparsers(dest="register_command", required=True, metavar="ACTION")

    imp = sub.add_parser("import", help="import inspection results from CSV (UTF-8 / GB18030) or Excel")
    imp.add_argument("dir", type=Path, help="register directory (created if new)")
    imp.add_argument("file", type=Path, help=".csv or .xlsx with Chinese or English headers")
    imp.add_argument("--sheet", default=None, help="Excel sheet (default: the first)")
    imp.add_argument(
        "--engine",
        choices=("auto", "calamine", "openpyxl"),
        default="auto",
        help="Excel reader (default: python-calamine when installed, else openpyxl)",
    )
    # checked by import_rows against gis.coords.COORDINATE_SYSTEMS (not imported here: numpy)
    imp.add_argument(
        "--coords", default="wgs84", help="coordinates of rows without 坐标系: wgs84, gcj02 or bd09"
    )
    imp.add_argument(
        "--source", choices=SOURCES, default="government_inspection", help="source of rows without one"
    )
    imp.add_argument("--role", choices=ROLES, default="inspector", help="role of the importing account")
    imp.add_argument("--actor", default="import", help="account id of who imports")
    imp.add_argument("--unit", default=None, help="the importing account's unit (an enterprise: its id)")
    imp.add_argument("--verify", action="store_true", help="also verify the items (checked on site)")
    imp.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="link each item to this scenario's nearest hazard source (and its enterprise) within "
        "--link-m and to the community containing it",
    )
    imp.add_argument(
        "--link-m",
        type=float,
        default=100.0,
        help="linking distance to a hazard source, metres (default 100)",
    )
    imp.set_defaults(func=_import)

    ls = sub.add_parser("list", help="list items, filtered")
    ls.add_argument("dir", type=Path)
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--grade", choices=DANGER_GRADES)
    ls.add_argument("--category", choices=CATEGORIES)
    ls.add_argument("--source", choices=SOURCES)
    ls.add_argument("--overdue", action="store_true", help="only items past their deadline")
    ls.add_argument("--at", default=None, help="time overdue is computed at (default: now)")
    ls.add_argument("--limit", type=int, default=50, help="rows to print (0: all)")
    ls.add_argument("--csv", type=Path, default=None, help="write the list as CSV instead")
    add_lang_option(ls)
    ls.set_defaults(func=_list)

    mv = sub.add_parser("move", help="make one workflow step on an item")
    mv.add_argument("dir", type=Path)
    mv.add_argument("number", help="item number, e.g. YH-2026-000123")
    mv.add_argument("action", choices=[a for a in ACTIONS if a != "report"])
    mv.add_argument("--role", choices=ROLES, required=True)
    mv.add_argument("--actor", required=True, help="account id")
    mv.add_argument("--unit", default=None, help="the actor's unit (enterprise, department, government)")
    mv.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="the action's data (JSON values allowed)"
    )
    mv.add_argument("--note", default=None, help="why (private)")
    mv.add_argument("--at", default=None, help="time of the step (default: now)")
    add_lang_option(mv)
    mv.set_defaults(func=_move)

    ds = sub.add_parser("disclose", help="a month's disclosure: HTML, CSV and GeoPackage")
    ds.add_argument("dir", type=Path)
    ds.add_argument("month", help="YYYY-MM")
    ds.add_argument("--out", type=Path, default=None, help="output folder (default: DIR/disclosure)")
    ds.add_argument(
        "--precision-m", type=float, default=None, help="snap public points to this grid (metres)"
    )
    add_lang_option(ds)
    ds.set_defaults(func=_disclose)

    asx = sub.add_parser("assess", help="a month's assessment and ranking")
    asx.add_argument("dir", type=Path)
    asx.add_argument("month", help="YYYY-MM")
    asx.add_argument("--by", default="district", help="district, street, department_unit, enterprise_id, ...")
    asx.add_argument("--trend", type=int, default=12, help="months of trend (default 12)")
    asx.add_argument("--out", type=Path, default=None, help="write the ranking table as CSV")
    add_lang_option(asx)
    asx.set_defaults(func=_assess)

    cmp = sub.add_parser(
        "compare", help="before / after closing the open major hidden dangers: the communities' risk"
    )
    cmp.add_argument("dir", type=Path)
    cmp.add_argument(
        "scenario", type=Path, help="the scenario of the register's hazard sources (.gpkg / .toml)"
    )
    cmp.add_argument("--at", default=None, help="read the register at this time (default: its last change)")
    cmp.add_argument("--standard", default=DEFAULT_STANDARD, help=STANDARD_HELP)
    cmp.add_argument("--risk-weights", type=Path, default=None, help="TOML overriding risk_weights.toml")
    cmp.add_argument("--no-cache", action="store_true", help="rebuild the road graph instead of the cache")
    add_outputs(cmp)
    add_lang_option(cmp)
    cmp.set_defaults(func=_compare)

    dm = sub.add_parser("demo", help="write the demo city's synthetic register (synthetic data)")
    dm.add_argument("dir", type=Path)
    dm.add_argument("--seed", type=int, default=0, help="random seed of the register (default 0)")
    dm.add_argument("--items", type=int, default=None, help="number of items (default 1,500)")
    dm.set_defaults(func=_demo)

    add_account_commands(sub)
