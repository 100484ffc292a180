"""The row-by-row import of stop 23 (``risk_models/register/intake.py`` before the column-wise
checks), kept as the reference the new import is tested against (tests/test_register_intake.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.coords import COORDINATE_SYSTEMS, to_wgs84
from gis.tables import TableOverrides
from risk_models.register import Event, ImportResult, Item, RegisterError, item_number, report, transition
from risk_models.register.intake import _AREAS, _columns, _links, _time, _vocab
from risk_models.register.link import LINK_DISTANCE_M
from risk_models.register.vocab import CATEGORIES, SOURCES
from risk_models.register.workflow import Workflow, load_workflow

__all__ = ["reference_import_rows", "reference_read_excel"]


class _Problems:
    """Problems by kind, each with its rows and fix: one message for the whole sheet."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.found: dict[tuple[str, str], list[int]] = {}

    def add(self, row: int, problem: str, fix: str) -> None:
        self.found.setdefault((problem, fix), []).append(row)

    def raise_any(self) -> None:
        if not self.found:
            return
        lines = [
            f"rows {rows[:10]}{' ...' if len(rows) > 10 else ''}: {problem}. Fix: {fix}."
            for (problem, fix), rows in sorted(self.found.items(), key=lambda kv: kv[1][0])
        ]
        msg = f"{self.where}: nothing was imported; {sum(map(len, self.found.values()))} problems:\n  " + (
            "\n  ".join(lines[:20])
        )
        raise RegisterError(msg)


def reference_import_rows(
    rows: pd.DataFrame,
    *,
    first_counter: Mapping[int, int],
    actor: str,
    role: str = "inspector",
    unit: str | None = None,
    source: str = "government_inspection",
    coords: str = "wgs84",
    verify: bool = False,
    where: str = "the sheet",
    hazards: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    link_distance_m: float = LINK_DISTANCE_M,
    register_workflow: Workflow | TableOverrides = None,
) -> ImportResult:
    """The row-by-row import of stop 23 (the reference)."""
    wf = load_workflow(register_workflow)
    if coords not in COORDINATE_SYSTEMS:
        msg = f"Coordinate system `{coords}` is unknown. Fix: use one of {list(COORDINATE_SYSTEMS)}."
        raise RegisterError(msg)
    if source not in SOURCES:
        msg = f"Source `{source}` is unknown. Fix: use one of {list(SOURCES)}."
        raise RegisterError(msg)
    if rows.empty:
        msg = f"{where} has no data rows. Fix: give one row per hidden danger below the header."
        raise RegisterError(msg)
    col = _columns(rows, where)
    cats, srcs = _vocab(wf, "categories", CATEGORIES), _vocab(wf, "sources", SOURCES)
    problems = _Problems(where)
    text = {f: rows[c].fillna("").astype(str).str.strip() for f, c in col.items()}
    empty = pd.Series("", index=rows.index)
    # coordinates, converted per system
    lon = pd.to_numeric(text["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(text["lat"], errors="coerce").to_numpy(float)
    system = (
        text.get("coords", empty).str.lower().str.replace("-", "").str.replace("_", "").replace("", coords)
    )
    wgs_lon, wgs_lat = lon.copy(), lat.copy()
    for name in COORDINATE_SYSTEMS:
        sel = (system == name).to_numpy() & np.isfinite(lon) & np.isfinite(lat)
        if sel.any():
            wgs_lon[sel], wgs_lat[sel] = to_wgs84(lon[sel], lat[sel], name)
    links = _links(
        wgs_lon, wgs_lat, text, index=rows.index, hazards=hazards, communities=communities,
        distance_m=link_distance_m,
    )  # fmt: skip
    counters = dict(first_counter)
    items: dict[str, Item] = {}
    events: list[Event] = []
    areas = []
    for k, idx in enumerate(rows.index):
        row = k + 2  # spreadsheet row: the header is row 1
        ok = True
        category = cats.get(text["category"][idx])
        if category is None:
            problems.add(
                row,
                f"category {text['category'][idx]!r} is unknown",
                f"use one of {list(CATEGORIES)} or their Chinese labels",
            )
            ok = False
        src_text = text.get("source", empty)[idx]
        src = srcs.get(src_text) if src_text else source
        if src is None:
            problems.add(
                row, f"source {src_text!r} is unknown", f"use one of {list(SOURCES)} or their Chinese labels"
            )
            ok = False
        if system[idx] not in COORDINATE_SYSTEMS:
            problems.add(
                row, f"coordinate system {system[idx]!r} is unknown", f"use one of {list(COORDINATE_SYSTEMS)}"
            )
            ok = False
        if not (math.isfinite(lon[k]) and math.isfinite(lat[k])):
            problems.add(
                row,
                f"longitude {text['lon'][idx]!r} / latitude {text['lat'][idx]!r} is not a number",
                "give decimal degrees, e.g. 116.397 and 39.909",
            )
            ok = False
        elif not (73 <= lon[k] <= 136 and 3 <= lat[k] <= 54):
            problems.add(
                row,
                f"({lon[k]:g}, {lat[k]:g}) is not a longitude / latitude in China (swapped, or metres?)",
                "give longitude (73..136 E) and latitude (3..54 N) in decimal degrees",
            )
            ok = False
        at = _time(text["reported_at"][idx])
        if at is None:
            problems.add(
                row,
                f"time {text['reported_at'][idx]!r} is not a date",
                "give it as 2026-03-02 or 2026-03-02 10:00",
            )
            ok = False
        if not ok or at is None or category is None or src is None:
            continue
        number = item_number(at.year, counters.get(at.year, 1), prefix=wf.prefix, digits=wf.digits)
        opt: dict[str, str | None] = {
            "reporter": (text["reporter"][idx] or None) if "reporter" in text else None
        }
        for f in ("hazard_id", "enterprise_id", "community_id"):
            opt[f] = links.loc[idx, f] if links is not None else (text[f][idx] or None) if f in text else None
        try:
            item, ev = report(
                number, at=at, actor=actor, role=role, unit=unit, category=category, x=float(wgs_lon[k]),
                y=float(wgs_lat[k]), description=text["description"][idx] or "", source=src,
                reporter=opt["reporter"], hazard_id=opt["hazard_id"], enterprise_id=opt["enterprise_id"],
                community_id=opt["community_id"], register_workflow=wf,
            )  # fmt: skip
            new = [ev]
            if verify:
                data: dict[str, Any] = {
                    "criteria": [
                        c.strip()
                        for c in text.get("criteria", empty)[idx].replace("\uff1b", ";").split(";")
                        if c.strip()
                    ]
                }
                if text.get("deadline", empty)[idx]:
                    deadline = _time(text["deadline"][idx])
                    data["deadline"] = deadline.date() if deadline else text["deadline"][idx]
                if text.get("public_summary", empty)[idx]:
                    data["public_summary"] = text["public_summary"][idx]
                item, ev = transition(
                    item, "verify", at=at, actor=actor, role=role, unit=unit, data=data, register_workflow=wf
                )
                new.append(ev)
        except RegisterError as exc:
            problem = str(exc).split(": ", 1)[-1].split(". Fix: ")
            problems.add(row, problem[0], problem[1].rstrip(".") if len(problem) > 1 else "correct the row")
            continue
        counters[at.year] = counters.get(at.year, 1) + 1
        items[number] = item
        events.extend(new)
        areas.append({"number": number, **{a: text[a][idx] or None for a in _AREAS if a in text}})
    problems.raise_any()
    frame = pd.DataFrame(areas, columns=["number", *[a for a in _AREAS if a in text]]).set_index("number")
    frame.index.name = None
    return ImportResult(items, tuple(sorted(events, key=lambda e: e.at)), frame)


def reference_read_excel(path: Any) -> pd.DataFrame:
    """The openpyxl reading of stop 23."""
    from datetime import date, datetime

    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    ws = book.worksheets[0]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    book.close()
    if not rows:
        return pd.DataFrame()
    header = ["" if h is None else str(h).strip() for h in rows[0]]
    body = [
        ["" if v is None else v.isoformat() if isinstance(v, datetime | date) else str(v) for v in r]
        for r in rows[1:]
        if any(v not in (None, "") for v in r)
    ]
    return pd.DataFrame(body, columns=header, dtype=str)
