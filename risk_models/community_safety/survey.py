"""Survey results in: a CSV or Excel sheet, one row per community per survey, checked row by row.

:func:`read_survey` reads the sheet (CSV in UTF-8 or GB18030, or an ``.xlsx``; through
:func:`risk_models.register.read_rows`) and :func:`check_survey` checks it against the scoring
standard and the scenario's communities. Headers may be Chinese or English: the fields of
:data:`SURVEY_FIELDS`, and per item its id, its ``label_zh`` and its ``headers`` in the
standard (case, width and spaces ignored, as in the census import). Values: numbers (``85%``
reads 85), yes / no (是 / 否, 有 / 无, y / n, 1 / 0, true / false) and n/a (不适用, 无此项, n/a, -)
where the item allows it.

Every problem is collected and raised at once in one :class:`~gis.errors.InputError` naming the
spreadsheet rows (the header is row 1) and the fix: a missing item column, an unknown community
code, a blank or unreadable cell, a value outside the item's range, n/a where the item has no
n/a, a bad date or community type, two rows of one community on one date.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.census import normalise_key
from gis.errors import InputError
from gis.tables import TableOverrides

from .standard import SafetyStandard, load_safety_standard

__all__ = [
    "COMMUNITY_TYPES",
    "NOT_APPLICABLE",
    "SURVEY_FIELDS",
    "Survey",
    "check_survey",
    "read_survey",
]

log = logging.getLogger(__name__)

#: Accepted headers of the fields besides the items (case-insensitive), Chinese first.
SURVEY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "community_id": ("社区编号", "社区代码", "小区编号", "community_id", "community", "id"),
    "survey_date": ("调查日期", "检查日期", "评估日期", "survey_date", "date"),
    "community_name": ("社区名称", "小区名称", "community_name", "name"),
    "district": ("区县", "区", "district"),
    "street": ("街道", "乡镇街道", "street"),
    "community_type": ("社区类型", "小区类型", "community_type", "type"),
    "surveyor": ("调查人", "检查人", "surveyor"),
    "data_source": ("数据来源", "data_source"),
}
_REQUIRED = ("community_id", "survey_date")
#: Community types (for quotas of demonstration communities), with their Chinese labels.
COMMUNITY_TYPES: Mapping[str, str] = {
    "old_town": "老旧小区",
    "new_highrise": "新建高层",
    "mixed": "混合",
    "resettlement": "安置小区",
}
#: Cell texts read as "not applicable" (after NFKC and case folding).
NOT_APPLICABLE: tuple[str, ...] = ("不适用", "无此项", "n/a", "na", "-", "/", "not applicable")
_YES = {"是", "有", "存在", "y", "yes", "true", "1", "1.0", "√", "✓"}
_NO = {"否", "无", "不存在", "n", "no", "false", "0", "0.0", "\u00d7", "\u2717"}
_DATE_ZH = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")


@dataclass(frozen=True, eq=False)
class Survey:
    """A checked survey: one row per community per survey date.

    Attributes
    ----------
    frame
        ``community_id`` (the communities layer's id), ``survey_date`` (datetime64, a day), the
        optional fields of :data:`SURVEY_FIELDS` the sheet has, then one float column per item of
        the standard (yes = 1, no = 0, n/a = NaN), in the sheet's row order.
    items
        The item ids (the standard's, in its order).
    where
        The file (or "the survey"), for messages.
    synthetic
        True for a generated survey (every output then says so).
    notes
        What the import noticed but did not refuse (columns it did not read).
    """

    frame: pd.DataFrame
    items: tuple[str, ...]
    where: str = "the survey"
    synthetic: bool = False
    notes: tuple[str, ...] = ()


class _Problems:
    """Problems by kind, each with its rows and fix: one message for the whole sheet."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.found: dict[tuple[str, str], list[int]] = {}

    def add(self, rows: list[int], problem: str, fix: str) -> None:
        self.found.setdefault((problem, fix), []).extend(int(r) for r in rows)

    def raise_any(self) -> None:
        if not self.found:
            return
        lines = [
            f"rows {rows[:10]}{' ...' if len(rows) > 10 else ''}: {problem}. Fix: {fix}."
            for (problem, fix), rows in sorted(self.found.items(), key=lambda kv: kv[1][0])
        ]
        count = sum(map(len, self.found.values()))
        more = f"\n  ... and {len(lines) - 25} more kinds" if len(lines) > 25 else ""
        msg = f"{self.where}: the survey was not read; {count} problems:\n  " + "\n  ".join(lines[:25]) + more
        raise InputError(msg)


def _key(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text)).strip().casefold()


def _columns(
    rows: pd.DataFrame, std: SafetyStandard, where: str
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """``({field: column}, {item: column}, unread columns)`` of the sheet's headers."""
    by_key: dict[str, str] = {}
    for c in rows.columns:
        by_key.setdefault(_key(c), str(c))
    fields, items = {}, {}
    for field, names in SURVEY_FIELDS.items():
        hit = next((by_key[_key(n)] for n in names if _key(n) in by_key), None)
        if hit is not None:
            fields[field] = hit
    for item, row in std.items.iterrows():
        names = (str(item), row["label_zh"], *row["headers"])
        hit = next((by_key[_key(n)] for n in names if _key(n) in by_key), None)
        if hit is not None:
            items[str(item)] = hit
    missing_fields = [f for f in _REQUIRED if f not in fields]
    missing_items = [i for i in std.items.index if i not in items]
    if missing_fields or missing_items:
        wanted = [f"{f} ({' / '.join(SURVEY_FIELDS[f])})" for f in missing_fields] + [
            f"{i} ({std.items.loc[i, 'label_zh']})" for i in missing_items
        ]
        msg = (
            f"{where}: no column for {missing_fields + missing_items} (headers {list(rows.columns)[:30]}). "
            f"Fix: add the columns {wanted[:12]}{' ...' if len(wanted) > 12 else ''}, one value per "
            "community and survey (or drop an item from the standard with `points = 0`)."
        )
        raise InputError(msg)
    used = set(fields.values()) | set(items.values())
    return fields, items, [str(c) for c in rows.columns if str(c) not in used]


def _dates(text: pd.Series) -> pd.Series:
    cleaned = text.map(
        lambda t: _DATE_ZH.sub(r"\1-\2-\3", unicodedata.normalize("NFKC", t)).replace("/", "-")
    )
    dates = pd.to_datetime(cleaned, errors="coerce", format="mixed")
    return dates.dt.normalize()


def _community_ids(
    ids: pd.Series, communities: gpd.GeoDataFrame | None, sheet_rows: np.ndarray, problems: _Problems
) -> pd.Series:
    """The communities layer's id of each row's code (case, width and spaces ignored)."""
    blank = ids == ""
    if blank.any():
        problems.add(
            list(sheet_rows[blank.to_numpy()]), "no community code", "give every row its community's code"
        )
    if communities is None:
        return ids
    layer_ids = communities.index if "id" not in communities.columns else pd.Index(communities["id"])
    lookup = {normalise_key(v): str(v) for v in layer_ids}
    mapped = ids.map(lambda v: lookup.get(normalise_key(v)))
    unknown = mapped.isna() & ~blank
    if unknown.any():
        shown = sorted(set(ids[unknown]))[:8]
        stripped = {str(v).lstrip("0") for v in layer_ids if str(v).startswith("0")}
        padded = any(s.isdigit() and s.lstrip("0") in stripped for s in shown)
        hint = " (Excel may have dropped leading zeros: save the codes as text)" if padded else ""
        problems.add(
            list(sheet_rows[unknown.to_numpy()]),
            f"community codes {shown} are not in the scenario's `communities` layer{hint}",
            f"use the layer's ids (e.g. {[str(v) for v in list(layer_ids)[:3]]}), or add the communities",
        )
    return mapped.fillna(ids)


def _values(
    text: pd.Series, item: str, spec: pd.Series, sheet_rows: np.ndarray, problems: _Problems
) -> np.ndarray:
    """Float values of one item column (yes 1, no 0, n/a NaN); problems added per kind."""
    keys = text.map(_key)
    na = keys.isin(NOT_APPLICABLE).to_numpy()
    blank = (keys == "").to_numpy()
    label = f"`{item}` ({spec['label_zh']})"
    if blank.any():
        allowed = " or n/a (不适用)" if spec["not_applicable"] else ""
        problems.add(list(sheet_rows[blank]), f"{label} is blank", f"give the surveyed value{allowed}")
    if na.any() and not spec["not_applicable"]:
        problems.add(
            list(sheet_rows[na]),
            f"{label} is n/a, which this item does not allow",
            "survey the value (n/a is only for items that can be absent, such as elevators)",
        )
    if spec["kind"] == "yes_no":
        values = np.where(keys.isin(_YES), 1.0, np.where(keys.isin(_NO), 0.0, np.nan))
        bad = np.isnan(values) & ~na & ~blank
        if bad.any():
            shown = sorted(set(text[bad]))[:5]
            problems.add(
                list(sheet_rows[bad]), f"{label} reads {shown}, not yes or no", "write 是 / 否 (yes / no)"
            )
        return values
    numbers = np.array(
        pd.to_numeric(
            keys.str.replace("%", "", regex=False).str.replace(",", "", regex=False), errors="coerce"
        ),
        dtype=float,
    )
    bad = ~np.isfinite(numbers) & ~na & ~blank
    if bad.any():
        shown = sorted(set(text[bad]))[:5]
        problems.add(
            list(sheet_rows[bad]),
            f"{label} reads {shown}, not a number",
            f"give a number in {spec['unit'] or 'its unit'}",
        )
    out = ~bad & np.isfinite(numbers) & ((numbers < spec["low"]) | (numbers > spec["high"]))
    if out.any():
        shown = sorted(set(numbers[out].tolist()))[:5]
        problems.add(
            list(sheet_rows[out]),
            f"{label} is {shown}, outside {spec['low']:g}..{spec['high']:g} {spec['unit']}".rstrip(),
            "correct the value (a share is in %: 85 for 85 %), or widen the item's `range` in the standard",
        )
    numbers[na] = np.nan
    return numbers


def check_survey(
    rows: pd.DataFrame,
    standard: SafetyStandard | TableOverrides = None,
    *,
    communities: gpd.GeoDataFrame | None = None,
    where: str = "the survey",
    synthetic: bool = False,
) -> Survey:
    """Check a survey sheet against the standard and the communities; one error naming every bad row.

    Parameters
    ----------
    rows
        The sheet as texts (:func:`risk_models.register.read_rows`), or a frame of values
        (numbers, "是" / "否"...): one row per community per survey.
    standard
        The scoring standard (:func:`load_safety_standard`) or overrides of the shipped one.
    communities
        The scenario's communities (indexed by id): every code must be one of them. None: codes
        are not checked.
    where
        The file's name, for messages.
    synthetic
        The survey is generated (labelled so in every output).

    Returns
    -------
    Survey

    Raises
    ------
    InputError
        Missing columns; unknown community codes, blank, unreadable or out-of-range values, n/a
        where not allowed, bad dates or types, duplicate (community, date) rows.

    Examples
    --------
    >>> std = load_safety_standard()
    >>> row = {"社区编号": "C001", "调查日期": "2024年5月6日", **{i: "0" for i in std.items.index}}
    >>> survey = check_survey(pd.DataFrame([row]), std)
    >>> survey.frame.loc[0, ["community_id", "survey_date", "elevator_age"]].astype(str).tolist()
    ['C001', '2024-05-06 00:00:00', '0.0']
    >>> try:
    ...     later = {**row, "调查日期": "2024-11-06", "gas_alarm_valve": "120"}
    ...     check_survey(pd.DataFrame([row, later]), std,
    ...                  where="`s.csv`")
    ... except InputError as exc:
    ...     print(str(exc).splitlines()[1].split(". Fix")[0].strip())
    rows [3]: `gas_alarm_valve` (燃气报警器及自动切断阀安装率) is [120.0], outside 0..100 %
    """
    std = load_safety_standard(standard)
    if rows.empty:
        msg = f"{where} has no data rows. Fix: give one row per community and survey below the header."
        raise InputError(msg)
    fields, items, unread = _columns(rows, std, where)
    problems = _Problems(where)
    text = rows.fillna("").astype(str).apply(lambda s: s.str.strip()).reset_index(drop=True)
    sheet_rows = np.arange(len(text)) + 2  # spreadsheet rows: the header is row 1
    out = pd.DataFrame(index=text.index)
    out["community_id"] = _community_ids(text[fields["community_id"]], communities, sheet_rows, problems)
    dates = _dates(text[fields["survey_date"]])
    if dates.isna().any():
        problems.add(
            list(sheet_rows[dates.isna().to_numpy()]),
            f"survey date {sorted(set(text.loc[dates.isna(), fields['survey_date']]))[:5]} is not a date",
            "give it as 2024-05-06 (or 2024/5/6, 2024年5月6日)",
        )
    out["survey_date"] = dates
    for field in ("community_name", "district", "street", "surveyor", "data_source"):
        if field in fields:
            out[field] = text[fields[field]].replace("", None)
    if "community_type" in fields:
        labels = {**{k: k for k in COMMUNITY_TYPES}, **{v: k for k, v in COMMUNITY_TYPES.items()}}
        raw = text[fields["community_type"]]
        kinds = raw.map(lambda v: labels.get(v.strip().lower() if v.isascii() else v.strip()))
        bad_type = kinds.isna() & (raw != "")
        if bad_type.any():
            problems.add(
                list(sheet_rows[bad_type.to_numpy()]),
                f"community type {sorted(set(raw[bad_type]))[:5]} is unknown",
                f"use one of {list(COMMUNITY_TYPES)} or {list(COMMUNITY_TYPES.values())}",
            )
        out["community_type"] = kinds
    for item in std.items.index:
        out[item] = _values(text[items[item]], str(item), std.items.loc[item], sheet_rows, problems)
    dup = out.duplicated(["community_id", "survey_date"], keep=False) & out["survey_date"].notna()
    if dup.any():
        pairs = out.loc[dup, ["community_id", "survey_date"]].drop_duplicates().head(5)
        shown = [f"{c} {d:%Y-%m-%d}" for c, d in pairs.itertuples(index=False)]
        problems.add(
            list(sheet_rows[dup.to_numpy()]),
            f"one community has two rows on one survey date ({shown})",
            "keep one row per community and survey date (merge or correct the dates)",
        )
    problems.raise_any()
    if "data_source" in out:
        synthetic = synthetic or bool(out["data_source"].fillna("").str.contains("synthetic|合成|模拟").any())
    notes = (
        (f"{where}: columns not read (not a field or an item of the standard): {unread[:20]}",)
        if unread
        else ()
    )
    for note in notes:
        log.info(note)
    return Survey(out, tuple(std.items.index), where, synthetic, notes)


def read_survey(
    path: str | Path,
    standard: SafetyStandard | TableOverrides = None,
    *,
    communities: gpd.GeoDataFrame | None = None,
    sheet: str | None = None,
    synthetic: bool = False,
) -> Survey:
    r"""Read and check a survey file: CSV (UTF-8 or GB18030) or Excel (``.xlsx``).

    Parameters
    ----------
    path
        The file: one row per community per survey (:func:`check_survey` for the columns).
    standard
        The scoring standard or overrides of the shipped one.
    communities
        The scenario's communities (every code must be one of them); None: not checked.
    sheet
        The Excel sheet (default: the first).
    synthetic
        The file holds a generated survey.

    Returns
    -------
    Survey

    Examples
    --------
    >>> import tempfile, pathlib
    >>> std = load_safety_standard()
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "survey.csv"
    >>> head = "社区编号,调查日期," + ",".join(std.items["label_zh"])
    >>> _ = p.write_bytes((head + "\nC001,2024-05-06," + ",".join(["0"] * len(std.items))).encode("gb18030"))
    >>> read_survey(p).frame["community_id"].tolist()
    ['C001']
    """
    from risk_models.register import read_rows

    return check_survey(
        read_rows(path, sheet=sheet),
        standard,
        communities=communities,
        where=f"`{path}`",
        synthetic=synthetic,
    )
