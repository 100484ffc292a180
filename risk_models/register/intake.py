"""Import of inspection results: rows of a CSV or Excel sheet into register items and events.

:func:`read_rows` reads a sheet (CSV in UTF-8 or GB18030, or the first sheet of an ``.xlsx``
through openpyxl) with Chinese or English headers; :func:`import_rows` checks every row
(category, source, coordinates in WGS84 / GCJ-02 / BD-09, time, criteria) and makes each
one's ``report`` event (and, with ``verify``, its ``verify`` event) through the workflow. It
returns all the new items and events or raises one :class:`RegisterError` naming every bad
row (spreadsheet row numbers: the header is row 1) and the fix: nothing is half-imported.
Items are located in WGS84 longitude / latitude (EPSG:4326); given the scenario's ``hazards``
and ``communities``, each is linked to the source, enterprise and community it lies in or near
(:mod:`risk_models.register.link`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.coords import COORDINATE_SYSTEMS, to_wgs84
from gis.tables import TableOverrides

from .errors import RegisterError
from .items import Event, Item, item_number
from .link import LINK_DISTANCE_M, link_items
from .transitions import report, transition
from .vocab import CATEGORIES, SOURCES
from .workflow import Workflow, load_workflow

__all__ = ["HEADERS", "ImportResult", "import_rows", "read_rows"]

#: Accepted headers of each field (case-insensitive), Chinese first.
HEADERS: Mapping[str, tuple[str, ...]] = {
    "category": ("隐患类别", "类别", "隐患类型", "category"),
    "description": ("隐患描述", "描述", "隐患内容", "description"),
    "source": ("隐患来源", "来源", "source"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "coords": ("坐标系", "coords", "coordinate_system"),
    "reported_at": ("发现时间", "检查时间", "上报时间", "reported_at", "time"),
    "reporter": ("检查人", "报告人", "reporter"),
    "hazard_id": ("危险源编号", "危险源", "hazard_id"),
    "enterprise_id": ("企业", "企业名称", "单位名称", "enterprise_id"),
    "community_id": ("社区", "社区编号", "community_id"),
    "district": ("区县", "区", "district"),
    "street": ("街道", "乡镇街道", "street"),
    "criteria": ("判定依据", "重大隐患判定依据", "criteria"),
    "deadline": ("整改期限", "deadline"),
    "public_summary": ("公开摘要", "public_summary"),
}
_REQUIRED = ("category", "description", "lon", "lat", "reported_at")
_AREAS = ("district", "street")
_LINKED = ("hazard_id", "enterprise_id", "community_id")


@dataclass(frozen=True)
class ImportResult:
    """The items and events an import makes (nothing is stored yet).

    Attributes
    ----------
    items
        New items by number.
    events
        Their events, in time order (append them to the log).
    areas
        ``district`` / ``street`` of each new item where the sheet gives them (indexed by number).
    """

    items: Mapping[str, Item]
    events: tuple[Event, ...]
    areas: pd.DataFrame


def read_rows(path: str | Path, *, sheet: str | None = None) -> pd.DataFrame:
    r"""The rows of a CSV (UTF-8 or GB18030) or Excel (``.xlsx``, openpyxl) file, as texts.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
    >>> _ = p.write_bytes("隐患类别,经度\n燃气,116.4\n".encode("gb18030"))
    >>> read_rows(p).to_dict("records")
    [{'隐患类别': '燃气', '经度': '116.4'}]
    """
    path = Path(path)
    if not path.is_file():
        msg = f"`{path}` does not exist. Fix: give the path of a CSV or .xlsx file."
        raise RegisterError(msg)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_excel(path, sheet)
    if path.suffix.lower() not in (".csv", ".txt", ".tsv"):
        msg = f"`{path}` is neither CSV nor Excel. Fix: save it as .csv (UTF-8 or GB18030) or .xlsx."
        raise RegisterError(msg)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            msg = f"`{path}`: cannot parse the CSV ({exc}). Fix: check the delimiter and quoting."
            raise RegisterError(msg) from None
    msg = f"`{path}` is neither UTF-8 nor GB18030 text. Fix: save it in one of them."
    raise RegisterError(msg)


def _read_excel(path: Path, sheet: str | None) -> pd.DataFrame:
    try:
        import openpyxl
    except ImportError:
        msg = f"Reading `{path}` needs openpyxl. Fix: `pip install openpyxl` (or save the sheet as CSV)."
        raise RegisterError(msg) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds on a damaged file
        msg = f"`{path}` is not a readable .xlsx file ({exc}). Fix: re-save it from Excel or WPS."
        raise RegisterError(msg) from None
    if sheet is not None and sheet not in book.sheetnames:
        msg = f"`{path}` has no sheet `{sheet}` (it has {book.sheetnames}). Fix: name one of them."
        raise RegisterError(msg)
    ws = book[sheet] if sheet is not None else book.worksheets[0]
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


def _columns(rows: pd.DataFrame, where: str) -> dict[str, str]:
    """``{field: column}`` of the sheet's headers."""
    lower = {str(c).strip().lower(): str(c) for c in rows.columns}
    found = {}
    for field, names in HEADERS.items():
        for name in names:
            if name.lower() in lower:
                found[field] = lower[name.lower()]
                break
    missing = [f for f in _REQUIRED if f not in found]
    if missing:
        wanted = "; ".join(f"{f}: {' / '.join(HEADERS[f])}" for f in missing)
        msg = f"{where}: no column for {missing} (headers {list(rows.columns)}). Fix: add them ({wanted})."
        raise RegisterError(msg)
    return found


def _vocab(wf: Workflow, kind: str, keys: Sequence[str]) -> dict[str, str]:
    """Keys and Chinese labels to keys."""
    out = {k: k for k in keys}
    out.update({wf.label(kind, k): k for k in keys})
    return out


def _time(text: str) -> datetime | None:
    try:
        t = pd.Timestamp(text.strip().replace("/", "-"))
    except (ValueError, TypeError):
        return None
    return None if pd.isna(t) else t.to_pydatetime()


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


def _links(
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    text: Mapping[str, pd.Series],
    *,
    index: pd.Index,
    hazards: gpd.GeoDataFrame | None,
    communities: gpd.GeoDataFrame | None,
    distance_m: float,
) -> pd.DataFrame | None:
    """Each row's hazard source, enterprise and community (ids the row gives kept); None: no layers."""
    if hazards is None and communities is None:
        return None
    ok = np.isfinite(lon) & np.isfinite(lat)
    pts = gpd.GeoDataFrame(
        {f: text[f].replace("", None).to_numpy() if f in text else None for f in _LINKED},
        geometry=gpd.points_from_xy(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0)),
        crs=4326,
        index=index,
    )
    out = link_items(pts, hazards=hazards, communities=communities, max_distance_m=distance_m)
    out.loc[~ok, list(_LINKED)] = None
    return out


def import_rows(
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
    """Check every row and make its items and events; one error naming every bad row.

    Parameters
    ----------
    rows
        The sheet (:func:`read_rows`): headers of :data:`HEADERS`.
    first_counter
        ``{year: the next free counter}`` of the register (numbers are ``YH-<year>-<counter>``,
        the year of the report); a year not given starts at 1.
    actor, role, unit
        Who imports (the role must be allowed to report from the rows' sources).
    source
        The source of rows without a ``来源`` value.
    coords
        ``wgs84``, ``gcj02`` or ``bd09``: the system of rows without a ``坐标系`` value.
    verify
        Also verify each item (inspection results are checked on site): the grade follows
        ``判定依据`` (criteria ids, separated by ``;``), the deadline ``整改期限`` or the
        grade's time limit.
    where
        The file's name, for messages.
    hazards, communities
        The scenario's layers: each item is linked to the nearest hazard source within
        ``link_distance_m`` (and its enterprise) and to the community containing it
        (:func:`~risk_models.register.link.link_items`); ids a row gives are kept.
    link_distance_m
        The linking distance in metres (default 100).
    register_workflow
        Loaded workflow or overrides.

    Returns
    -------
    ImportResult

    Raises
    ------
    RegisterError
        Missing columns, or rows with unknown categories or sources, coordinates that are not
        longitude / latitude, unreadable times, or data the workflow refuses.

    Examples
    --------
    >>> rows = pd.DataFrame({"隐患类别": ["燃气", "消防通道堵塞"], "隐患描述": ["软管老化", "车辆占用"],
    ...                      "经度": ["116.410", "116.420"], "纬度": ["39.916", "39.920"],
    ...                      "发现时间": ["2026-03-02 10:00", "2026/03/03 09:30"], "检查人": ["王", "李"]})
    >>> out = import_rows(rows, first_counter={2026: 7}, actor="insp-1", coords="gcj02", verify=True)
    >>> [(i.number, i.category, i.status) for i in out.items.values()]
    [('YH-2026-000007', 'gas', 'verified'), ('YH-2026-000008', 'fire_lane_blocked', 'verified')]
    >>> bad = rows.assign(经度=["116.410", "east"])
    >>> try:
    ...     import_rows(bad, first_counter={}, actor="insp-1", where="`inspections.csv`")
    ... except RegisterError as exc:
    ...     print(str(exc).splitlines()[1].strip()[:58])
    rows [3]: longitude 'east' / latitude '39.920' is not a nu
    """
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
