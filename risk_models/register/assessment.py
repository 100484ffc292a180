"""Monthly assessment (四评估) of districts, streets, departments and enterprises, with trend.

For each group (any column of the register: ``district``, ``street``, ``department_unit``,
``enterprise_id``) and month: dangers found and closed, the on-time closure rate, open and
overdue items at the month's end, the median days to close, the reopen rate (re-inspections
that failed) and the share found by the group's own self-checks rather than by government
inspection. A ranking score (weights in ``register_workflow.toml [assessment]``) orders the
groups: rank 1 is best, and a group whose dangers inspectors find ranks worse.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from gis.tables import TableOverrides

from ._months import Month, month_of
from .errors import RegisterError
from .frames import SNAPSHOT_COLUMNS, overdue, snapshot
from .vocab import CONFIRMED_STATUSES, OPEN_STATUSES
from .workflow import Workflow, load_workflow

__all__ = ["METRICS", "Assessment", "assess"]

#: Columns of an assessment table, per group and month.
METRICS: tuple[str, ...] = (
    "found",
    "found_major",
    "found_by_self_check",
    "found_by_inspection",
    "closed",
    "closed_on_time",
    "on_time_rate",
    "open_now",
    "overdue_now",
    "overdue_share",
    "median_days_to_close",
    "reinspections",
    "reopened",
    "reopen_rate",
    "self_check_share",
    "score",
    "rank",
)
_COUNTS = [
    "found",
    "found_major",
    "found_by_self_check",
    "found_by_inspection",
    "closed",
    "closed_on_time",
    "open_now",
    "overdue_now",
    "reinspections",
    "reopened",
]
_RATES = {  # score term: (rate column, higher is better)
    "on_time": ("on_time_rate", True),
    "self_check": ("self_check_share", True),
    "not_overdue": ("overdue_share", False),
    "not_reopened": ("reopen_rate", False),
}


@dataclass(frozen=True, eq=False)
class Assessment:
    """A month's assessment of groups, with its trend.

    Attributes
    ----------
    month
        ``YYYY-MM``.
    by
        The grouping column.
    table
        This month, indexed by group, best first: :data:`METRICS`, ``rank_change`` (places
        gained since last month) and ``found_change``.
    trend
        The same figures for each of the trailing months (long: ``month``, group, metrics).
    city
        City-wide figures per month (indexed by month).
    """

    month: str
    by: str
    table: pd.DataFrame
    trend: pd.DataFrame
    city: pd.DataFrame


def _day(times: pd.Series) -> pd.Series:
    """The calendar day of each time, as a naive timestamp (comparable with deadlines)."""
    times = pd.to_datetime(times)
    return (times.dt.tz_localize(None) if times.dt.tz is not None else times).dt.normalize()


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b.where(b > 0)).astype(float)


def _figures(state: pd.DataFrame, events: pd.DataFrame, m: Month, keys: pd.Series) -> pd.DataFrame:
    """The month's counts and rates per key (``keys`` on ``state``'s index; "" for the city)."""
    found = m.contains(state["reported_at"]) & state["status"].isin(CONFIRMED_STATUSES)
    closed = m.contains(state["closed_at"])
    deadline = state["deadline"]
    on_time = closed & deadline.notna() & (_day(state["closed_at"]) <= deadline)
    frame = pd.DataFrame(
        {
            "found": found,
            "found_major": found & state["grade"].eq("major"),
            "found_by_self_check": found & state["source"].eq("enterprise_self_check"),
            "found_by_inspection": found & state["source"].eq("government_inspection"),
            "closed": closed,
            "closed_on_time": on_time,
            "open_now": state["status"].isin(OPEN_STATUSES),
            "overdue_now": state["overdue"],
        },
        index=state.index,
    ).astype(int)
    g = frame.groupby(keys)
    out = g.sum()
    days = ((state["closed_at"] - state["reported_at"]) / pd.Timedelta(days=1)).where(closed)
    out["median_days_to_close"] = days.groupby(keys).median().reindex(out.index)
    ev = events[m.contains(events["at"]) & events["action"].isin(["accept", "reopen"])]
    ev_keys = keys.reindex(ev["number"].to_numpy()).to_numpy()
    checks = pd.DataFrame({"key": ev_keys, "reopen": (ev["action"] == "reopen").to_numpy()}).dropna(
        subset=["key"]
    )
    by_key = checks.groupby("key")["reopen"]
    out["reinspections"] = by_key.size().reindex(out.index).fillna(0).astype(int)
    out["reopened"] = by_key.sum().reindex(out.index).fillna(0).astype(int)
    out["on_time_rate"] = _ratio(out["closed_on_time"], out["closed"])
    out["overdue_share"] = _ratio(out["overdue_now"], out["open_now"])
    out["reopen_rate"] = _ratio(out["reopened"], out["reinspections"])
    out["self_check_share"] = _ratio(
        out["found_by_self_check"], out["found_by_self_check"] + out["found_by_inspection"]
    )
    return out


def _score(groups: pd.DataFrame, city: pd.Series, weights: dict[str, float]) -> pd.Series:
    """Weighted mean of the four rates (0..100, higher better); a missing rate takes the city's."""
    num = pd.Series(0.0, index=groups.index)
    den = pd.Series(0.0, index=groups.index)
    for term, (col, higher) in _RATES.items():
        rate = groups[col].fillna(city[col])
        good = rate if higher else 1.0 - rate
        w = float(weights[term])
        num += (w * good).fillna(0.0)
        den += w * good.notna()
    return (100.0 * num / den.where(den > 0)).round(2)


def assess(
    register: gpd.GeoDataFrame | pd.DataFrame,
    events: pd.DataFrame,
    month: str | date | datetime | pd.Period,
    *,
    by: str,
    trend_months: int = 12,
    register_workflow: Workflow | TableOverrides = None,
    cache: MutableMapping[tuple[str, str], Any] | None = None,
) -> Assessment:
    """Assess every group of ``by`` for the month, with the trailing months' trend and ranks.

    Parameters
    ----------
    register
        Items frame with the ``by`` column (:func:`~risk_models.register.attach_areas` adds
        ``district`` or ``street``) and ``source``.
    events
        Audit log (:func:`~risk_models.register.events_frame`): states at each month's end.
    month
        ``"YYYY-MM"``.
    by
        Grouping column, e.g. ``"district"``, ``"department_unit"``, ``"enterprise_id"``;
        items without a value are left out of the groups (but not of the city figures).
    trend_months
        Months of trend, ending with ``month``.
    register_workflow
        Loaded workflow or overrides (``[assessment]`` weights).
    cache
        A dict shared by calls on the same register and events (assessing by several columns):
        each month's end state and city figures are computed once.

    Returns
    -------
    Assessment

    Raises
    ------
    RegisterError
        No ``by`` column, or ``trend_months`` < 1.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> a = assess(reg.items, reg.events, "2024-06", by="district")
    >>> int(a.table["rank"].iloc[0]), a.table["score"].is_monotonic_decreasing
    (1, True)
    >>> a.trend.index.get_level_values("month").unique().tolist()  # the register starts in January
    ['2024-01', '2024-02', '2024-03', '2024-04', '2024-05', '2024-06']
    """
    if by not in register.columns:
        msg = (
            f"The register has no column `{by}` to assess by. Fix: attach it with "
            f"`attach_areas(register, communities, columns=[{by!r}])`, or use one of "
            "`department_unit`, `territorial_unit`, `enterprise_id`."
        )
        raise RegisterError(msg)
    if len(register) and register[by].isna().all():
        msg = (
            f"No item of the register has a `{by}`. Fix: give the items one (an import's "
            f"column, or `attach_areas(register, communities, columns=[{by!r}])`), or assess by "
            "another column."
        )
        raise RegisterError(msg)
    if trend_months < 1:
        msg = f"`trend_months` is {trend_months}. Fix: give 1 or more months."
        raise RegisterError(msg)
    wf = load_workflow(register_workflow)
    weights = {k: float(v) for k, v in wf.table["assessment"].items() if k in _RATES}
    m = month_of(month, events)
    # a unit the item is handed to (department_unit, ...) is read from the events at each
    # month's end, like its state; other columns (district, enterprise) are the item's own
    static = register[["source", by]] if by not in ("source", *SNAPSHOT_COLUMNS) else register[["source"]]
    groups = register[by].dropna()
    tables, cities = [], []
    first = pd.to_datetime(events["at"]).min()
    months = [mm for mm in m.previous(trend_months) if not len(events) or mm.end > first] or [m]
    cache = {} if cache is None else cache
    for mm in months:
        snap = cache.get(("snapshot", str(mm)))
        if snap is None:
            snap = cache[("snapshot", str(mm))] = snapshot(events, mm.last)
        state = static.join(snap, how="inner")
        state["overdue"] = overdue(state, mm.day)
        keys = state[by].astype(object)
        figures = _figures(state, events, mm, keys).reindex(pd.Index(groups.unique()))
        figures[list(_COUNTS)] = figures[list(_COUNTS)].fillna(0).astype(int)
        city = cache.get(("city", str(mm)))
        if city is None:
            city_keys = pd.Series("city", index=state.index, dtype=object)
            city = _figures(state, events, mm, city_keys).reindex(["city"]).iloc[0]
            city[_COUNTS] = city[_COUNTS].fillna(0)
            cache[("city", str(mm))] = city
        city = city.copy()
        figures["score"] = _score(figures, city, weights)
        figures["rank"] = figures["score"].rank(ascending=False, method="min", na_option="bottom").astype(int)
        figures.insert(0, "month", str(mm))
        tables.append(figures[["month", *METRICS]])
        cities.append(city.rename(str(mm)))
    trend = pd.concat(tables)
    trend.index.name = by
    table = tables[-1].drop(columns="month").copy()
    if len(tables) > 1:
        before = tables[-2]
        table["rank_change"] = (before["rank"] - table["rank"]).astype(int)
        table["found_change"] = (table["found"] - before["found"]).astype(int)
    else:
        table["rank_change"] = 0
        table["found_change"] = 0
    table = table.sort_values(["rank", "found"], ascending=[True, False], kind="stable")
    table.index.name = by
    city_table = pd.DataFrame(cities).drop(columns=[], errors="ignore")
    city_table["score"] = [_score(pd.DataFrame([c]), c, weights).iloc[0] for _, c in city_table.iterrows()]
    city_table.index.name = "month"
    trend = trend.reset_index().set_index(["month", by]).sort_index()
    return Assessment(str(m), by, table, trend, city_table)
