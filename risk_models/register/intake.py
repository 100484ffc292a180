"""Import of inspection results: rows of a CSV or Excel sheet into register items and events.

:func:`read_rows` reads a sheet (CSV in UTF-8 or GB18030, or the first sheet of an ``.xlsx``
through python-calamine, else openpyxl in read-only mode: :mod:`._sheet`) with Chinese or
English headers; :func:`import_rows` checks every row (category, source, coordinates in
WGS84 / GCJ-02 / BD-09, time) column-wise, then makes each good row's ``report`` event (and,
with ``verify``, its ``verify`` event, criteria and deadline checked) through the workflow.
It returns all the new items and events or raises one :class:`SheetError` naming every bad
row (spreadsheet row numbers: the header is row 1) and the fix: nothing is half-imported.
100,000 rows take about 2.5 s of CPU (``benchmarks/bench_register.py``).
Items are located in WGS84 longitude / latitude (EPSG:4326); given the scenario's ``hazards``
and ``communities``, each is linked to the source, enterprise and community it lies in or near
(:mod:`risk_models.register.link`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.coords import COORDINATE_SYSTEMS, to_wgs84
from gis.errors import Problem
from gis.tables import TableOverrides

from ._sheet import EXCEL_SUFFIXES, read_csv, read_excel
from .errors import RegisterError
from .items import Event, Item, item_number
from .link import LINK_DISTANCE_M, link_items
from .transitions import report, transition
from .vocab import CATEGORIES, SOURCES
from .workflow import Workflow, load_workflow

__all__ = ["HEADERS", "ImportResult", "SheetError", "import_rows", "read_rows"]

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


class SheetError(RegisterError):
    """Rows of a sheet fail the import's checks: nothing was imported.

    Attributes
    ----------
    problems
        One :class:`gis.Problem` per kind of problem (``rows``: spreadsheet row numbers, the
        header being row 1), in the message's order: the API answers them as a 422's ``errors``.
    """

    def __init__(self, msg: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(msg)
        self.problems = tuple(problems)


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


def read_rows(path: str | Path, *, sheet: str | None = None, engine: str = "auto") -> pd.DataFrame:
    r"""The rows of a CSV (UTF-8 or GB18030) or Excel (``.xlsx``) file, as texts.

    Parameters
    ----------
    path
        A ``.csv`` / ``.tsv`` / ``.txt`` or ``.xlsx`` / ``.xlsm`` file; the first row is the header.
    sheet
        Excel sheet (default: the first).
    engine
        Excel reader: ``calamine`` (python-calamine, fast; the ``excel`` extra), ``openpyxl``
        (read-only, streamed) or ``auto`` (calamine when installed). Both give the same texts.

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
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return read_excel(path, sheet, engine)
    if suffix not in (".csv", ".txt", ".tsv"):
        msg = f"`{path}` is neither CSV nor Excel. Fix: save it as .csv (UTF-8 or GB18030) or .xlsx."
        raise RegisterError(msg)
    return read_csv(path)


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
    """Problems by kind, each with its rows and fix: one message for the whole sheet.

    Checks run column-wise; each adds its bad rows at once (:meth:`add_rows`). The message
    lists the kinds by their first row, and kinds sharing a first row in the order of the
    checks (as a row-by-row check would meet them).
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.found: dict[tuple[str, str], list[int]] = {}
        self.check: dict[tuple[str, str], int] = {}

    def add(self, row: int, problem: str, fix: str, *, check: int = 0) -> None:
        key = (problem, fix)
        self.found.setdefault(key, []).append(row)
        self.check.setdefault(key, check)

    def add_rows(
        self,
        bad: npt.NDArray[np.bool_],
        problem: Callable[[int], str],
        fix: str,
        *,
        check: int,
    ) -> None:
        """Add the rows where ``bad`` holds; ``problem(k)`` words the problem of position ``k``."""
        for k in np.flatnonzero(bad):
            self.add(int(k) + 2, problem(int(k)), fix, check=check)  # the header is row 1

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_any(self) -> None:
        if not self.found:
            return
        found = sorted(self.found.items(), key=lambda kv: (kv[1][0], self.check[kv[0]]))
        lines = [
            f"rows {rows[:10]}{' ...' if len(rows) > 10 else ''}: {problem}. Fix: {fix}."
            for (problem, fix), rows in found
        ]
        msg = f"{self.where}: nothing was imported; {sum(map(len, self.found.values()))} problems:\n  " + (
            "\n  ".join(lines[:20])
        )
        problems = [
            Problem("register import", problem, fix, file=self.where, rows=tuple(rows))
            for (problem, fix), rows in found
        ]
        raise SheetError(msg, problems)


def _times(text: pd.Series) -> npt.NDArray[np.object_]:
    """:func:`_time` of each text, parsed once per distinct text (sheets repeat their dates)."""
    codes, uniques = pd.factorize(text, sort=False)
    parsed = np.array([_time(str(u)) for u in uniques] + [None], dtype=object)
    return parsed[codes]  # code -1 (none here: texts are never missing) takes the last, None


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
    # -- the row checks, column-wise (the rows that fail are worded one by one)
    n = len(rows)
    raw = {f: t.to_numpy(dtype=object) for f, t in text.items()}
    blank = np.full(n, "", dtype=object)
    category = text["category"].map(cats).to_numpy(dtype=object)
    bad_category = pd.isna(category)
    problems.add_rows(
        bad_category,
        lambda k: f"category {raw['category'][k]!r} is unknown",
        f"use one of {list(CATEGORIES)} or their Chinese labels",
        check=1,
    )
    src_text = raw.get("source", blank)
    src = pd.Series(src_text).map(srcs).to_numpy(dtype=object)
    src[src_text == ""] = source
    bad_source = pd.isna(src)
    problems.add_rows(
        bad_source,
        lambda k: f"source {src_text[k]!r} is unknown",
        f"use one of {list(SOURCES)} or their Chinese labels",
        check=2,
    )
    system_ = system.to_numpy(dtype=object)
    bad_system = ~np.isin(system_, list(COORDINATE_SYSTEMS))
    problems.add_rows(
        bad_system,
        lambda k: f"coordinate system {system_[k]!r} is unknown",
        f"use one of {list(COORDINATE_SYSTEMS)}",
        check=3,
    )
    not_number = ~(np.isfinite(lon) & np.isfinite(lat))
    problems.add_rows(
        not_number,
        lambda k: f"longitude {raw['lon'][k]!r} / latitude {raw['lat'][k]!r} is not a number",
        "give decimal degrees, e.g. 116.397 and 39.909",
        check=4,
    )
    with np.errstate(invalid="ignore"):
        outside = ~not_number & ~((lon >= 73) & (lon <= 136) & (lat >= 3) & (lat <= 54))
    problems.add_rows(
        outside,
        lambda k: f"({lon[k]:g}, {lat[k]:g}) is not a longitude / latitude in China (swapped, or metres?)",
        "give longitude (73..136 E) and latitude (3..54 N) in decimal degrees",
        check=4,
    )
    at = _times(text["reported_at"])
    bad_time = pd.isna(at)
    problems.add_rows(
        bad_time,
        lambda k: f"time {raw['reported_at'][k]!r} is not a date",
        "give it as 2026-03-02 or 2026-03-02 10:00",
        check=5,
    )
    good = ~(bad_category | bad_source | bad_system | not_number | outside | bad_time)
    # -- the items and events of the good rows, made by the workflow (report, verify)
    build = _builder(
        wf, raw, blank, links, actor=actor, role=role, unit=unit, verify=verify, category=category, src=src,
        wgs_lon=wgs_lon, wgs_lat=wgs_lat,
    )  # fmt: skip
    counters = dict(first_counter)
    items: dict[str, Item] = {}
    events: list[Event] = []
    made: list[int] = []
    for k in np.flatnonzero(good).tolist():
        when: datetime = at[k]
        number = item_number(when.year, counters.get(when.year, 1), prefix=wf.prefix, digits=wf.digits)
        try:
            item, new = build(k, number, when)
        except RegisterError as exc:
            problem = str(exc).split(": ", 1)[-1].split(". Fix: ")
            fix = problem[1].rstrip(".") if len(problem) > 1 else "correct the row"
            problems.add(k + 2, problem[0], fix, check=6)
            continue
        counters[when.year] = counters.get(when.year, 1) + 1
        items[number] = item
        events.extend(new)
        made.append(k)
    problems.raise_any()
    kept = [a for a in _AREAS if a in raw]
    frame = pd.DataFrame(
        {a: [raw[a][k] or None for k in made] for a in kept}, index=pd.Index(list(items), dtype=object)
    )
    if not kept:
        frame = pd.DataFrame(index=pd.Index(list(items), dtype=object))
    return ImportResult(items, tuple(sorted(events, key=lambda e: e.at)), frame)


def _builder(
    wf: Workflow,
    raw: Mapping[str, npt.NDArray[np.object_]],
    blank: npt.NDArray[np.object_],
    links: pd.DataFrame | None,
    *,
    actor: str,
    role: str,
    unit: str | None,
    verify: bool,
    category: npt.NDArray[np.object_],
    src: npt.NDArray[np.object_],
    wgs_lon: npt.NDArray[np.float64],
    wgs_lat: npt.NDArray[np.float64],
) -> Callable[[int, str, datetime], tuple[Item, list[Event]]]:
    """``build(k, number, at)``: the item and events of row position ``k`` (the workflow checks them)."""
    linked = {
        f: (
            links[f].to_numpy(dtype=object)
            if links is not None
            else np.array([v or None for v in raw[f]], dtype=object)
            if f in raw
            else np.full(len(blank), None, dtype=object)
        )
        for f in _LINKED
    }
    reporter = raw.get("reporter")
    description = raw["description"]
    criteria, deadline, summary = (raw.get(f, blank) for f in ("criteria", "deadline", "public_summary"))
    lon, lat = wgs_lon.tolist(), wgs_lat.tolist()

    def build(k: int, number: str, at: datetime) -> tuple[Item, list[Event]]:
        item, ev = report(
            number, at=at, actor=actor, role=role, unit=unit, category=category[k], x=lon[k], y=lat[k],
            description=description[k] or "", source=src[k],
            reporter=(reporter[k] or None) if reporter is not None else None,
            hazard_id=linked["hazard_id"][k], enterprise_id=linked["enterprise_id"][k],
            community_id=linked["community_id"][k], register_workflow=wf,
        )  # fmt: skip
        new = [ev]
        if verify:
            data: dict[str, Any] = {
                "criteria": [c.strip() for c in criteria[k].replace("\uff1b", ";").split(";") if c.strip()]
            }
            if deadline[k]:
                due = _time(deadline[k])
                data["deadline"] = due.date() if due else deadline[k]
            if summary[k]:
                data["public_summary"] = summary[k]
            item, ev = transition(
                item, "verify", at=at, actor=actor, role=role, unit=unit, data=data, register_workflow=wf
            )
            new.append(ev)
        return item, new

    return build
