"""Traceability (一追溯): what the register knew before an incident, and what it should have known.

:func:`trace_incidents` lists, for each incident, the register items within a distance of it
or at the same hazard source that were, at the incident's time, open (or only reported and
never verified), overdue, rejected, or closed shortly before: the dangers found and not
fixed, or fixed and back. :func:`unchecked_sources` lists the hazard sources whose enterprise
reported no self-check item for N months: dangers that "should have been found".
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import to_metric

from .errors import RegisterError
from .frames import _check_events
from .vocab import OPEN_STATUSES

__all__ = ["FINDINGS", "trace_incidents", "unchecked_sources"]

#: What an item was at an incident's time, worst first.
FINDINGS: tuple[str, ...] = ("overdue", "open", "unverified", "rejected", "closed_recently")


def _times(values: pd.Series, what: str, tz: object) -> pd.Series:
    times = pd.to_datetime(values, errors="coerce")
    bad = times.isna() & values.notna()
    if bad.any() or times.isna().all():
        rows = list(values.index[bad | times.isna()][:10])
        msg = f"{what}, rows {rows}: no readable time. Fix: give ISO times such as 2024-05-01T08:30."
        raise RegisterError(msg)
    if tz is not None and times.dt.tz is None:
        times = times.dt.tz_localize(tz)
    return times


def trace_incidents(
    incidents: gpd.GeoDataFrame,
    register: gpd.GeoDataFrame,
    events: pd.DataFrame,
    *,
    radius_m: float = 300.0,
    lookback_days: float = 90.0,
    time_column: str = "time",
    source_column: str = "hazard_id",
) -> pd.DataFrame:
    """The register items behind each incident: near it or at its source, and not in order.

    Parameters
    ----------
    incidents
        Incident points with a time column, indexed by id; with ``source_column`` (a hazard
        id) where the incident's source is known. Any CRS: work runs in metres.
    register
        Items frame (:func:`~risk_models.register.items_frame`).
    events
        Audit log (:func:`~risk_models.register.events_frame`): states at each incident's time.
    radius_m
        Items within this distance count.
    lookback_days
        Rejected or closed items count if that happened at most this long before the incident.
    time_column, source_column
        Columns of ``incidents``.

    Returns
    -------
    pandas.DataFrame
        One row per (incident, item): ``incident_id``, ``incident_time``, ``number``,
        ``category``, ``grade``, ``source``, ``hazard_id``, ``distance_m``, ``same_source``,
        ``finding`` (:data:`FINDINGS`), ``status_at_incident``, ``deadline``, ``days_overdue``,
        ``days_since`` (rejection or closure); worst finding and nearest first per incident.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> hits = trace_incidents(reg.incidents, reg.items, reg.events, radius_m=150)
    >>> sorted(set(reg.incidents.index) - set(hits["incident_id"])), hits["finding"].iloc[0]
    ([], 'overdue')
    """
    _check_events(events)
    if time_column not in incidents.columns:
        msg = f"Layer `incidents` has no `{time_column}` column. Fix: give each incident its time."
        raise RegisterError(msg)
    reg = to_metric(register)
    inc = incidents.to_crs(reg.crs)
    tz = pd.to_datetime(events["at"]).dt.tz
    t = _times(inc[time_column], "Layer `incidents`", tz)
    ti, ri = shapely.STRtree(reg.geometry.values).query(
        inc.geometry.values, predicate="dwithin", distance=radius_m
    )
    pairs = pd.DataFrame({"i": ti, "r": ri})
    if source_column in inc.columns:
        src = pd.DataFrame({"i": np.arange(len(inc)), "hazard_id": inc[source_column].to_numpy()}).dropna()
        items = pd.DataFrame({"r": np.arange(len(reg)), "hazard_id": reg["hazard_id"].to_numpy()}).dropna()
        pairs = pd.concat([pairs, src.merge(items, on="hazard_id")[["i", "r"]]]).drop_duplicates()
    pairs = pairs.astype(int)
    out = pd.DataFrame(
        {
            "incident_id": inc.index.to_numpy()[pairs["i"]],
            "incident_time": t.to_numpy()[pairs["i"]],
            "number": reg.index.to_numpy()[pairs["r"]],
            "distance_m": shapely.distance(inc.geometry.values[pairs["i"]], reg.geometry.values[pairs["r"]]),
        }
    )
    inc_src = inc[source_column].to_numpy()[pairs["i"]] if source_column in inc.columns else None
    item_src = reg["hazard_id"].to_numpy()[pairs["r"]]
    out["same_source"] = (inc_src == item_src) & pd.notna(item_src) if inc_src is not None else False
    if tz is not None:
        out["incident_time"] = pd.to_datetime(out["incident_time"], utc=True).dt.tz_convert(tz)
    out = out.sort_values("incident_time", kind="stable")
    ev = events.sort_values("at", kind="stable")
    last = pd.merge_asof(
        out, ev[["number", "at", "to_status"]], left_on="incident_time", right_on="at", by="number"
    )
    dl = ev.loc[ev["deadline"].notna(), ["number", "at", "deadline"]].rename(columns={"at": "deadline_at"})
    last = pd.merge_asof(last, dl, left_on="incident_time", right_on="deadline_at", by="number")
    last = last[last["to_status"].notna()]
    status = last["to_status"]
    day = (
        last["incident_time"].dt.tz_localize(None).dt.normalize()
        if tz is not None
        else last["incident_time"].dt.normalize()
    )
    late = status.isin(OPEN_STATUSES) & last["deadline"].notna() & (last["deadline"] < day)
    since = (last["incident_time"] - last["at"]) / pd.Timedelta(days=1)
    recent = since <= lookback_days
    finding = np.select(
        [
            late,
            status.isin(OPEN_STATUSES),
            status.eq("reported"),
            status.eq("rejected") & recent,
            status.eq("closed") & recent,
        ],
        list(FINDINGS),
        default="",
    )
    last = last.assign(
        finding=finding,
        status_at_incident=status,
        days_overdue=((day - last["deadline"]) / pd.Timedelta(days=1)).where(late),
        days_since=since.where(status.isin(["rejected", "closed"])).round(1),
    )
    last = last[last["finding"] != ""]
    for col in ("category", "grade", "source", "hazard_id"):
        last[col] = register[col].reindex(last["number"].to_numpy()).to_numpy()
    last["_order"] = last["finding"].map({f: k for k, f in enumerate(FINDINGS)})
    last = last.sort_values(["incident_time", "incident_id", "_order", "distance_m"], kind="stable")
    cols = [
        "incident_id", "incident_time", "number", "category", "grade", "source", "hazard_id", "distance_m",
        "same_source", "finding", "status_at_incident", "deadline", "days_overdue", "days_since",
    ]  # fmt: skip
    return last[cols].reset_index(drop=True)


def unchecked_sources(
    hazards: gpd.GeoDataFrame,
    register: pd.DataFrame,
    *,
    at: datetime | pd.Timestamp,
    months: int = 6,
) -> pd.DataFrame:
    """Each hazard source's self-checks in the ``months`` before ``at``; unchecked ones flagged.

    Parameters
    ----------
    hazards
        The hazards layer, indexed by id.
    register
        Items frame with ``hazard_id``, ``source`` and ``reported_at``.
    at
        The end of the window.
    months
        Window length.

    Returns
    -------
    pandas.DataFrame
        On ``hazards``' index: ``self_checks``, ``found_by_others`` (inspection, public reports,
        sensors) in the window, ``last_self_check_at`` (ever, before ``at``) and ``unchecked``
        (no self-check item in the window: the dangers there "should have been found").

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> quiet = unchecked_sources(city["hazards"], reg.items, at=pd.Timestamp("2024-12-31"), months=6)
    >>> bool(quiet["unchecked"].any()), bool(quiet.loc[~quiet["unchecked"], "self_checks"].gt(0).all())
    (True, True)
    """
    if months < 1:
        msg = f"`months` is {months}. Fix: give 1 or more months."
        raise RegisterError(msg)
    end = pd.Timestamp(at)
    start = end - pd.DateOffset(months=months)
    reported = register["reported_at"]
    if reported.dt.tz is not None and end.tz is None:
        end, start = end.tz_localize(reported.dt.tz), start.tz_localize(reported.dt.tz)
    linked = register[register["hazard_id"].notna() & (reported <= end)]
    window = linked[linked["reported_at"] > start]
    self_check = window["source"].eq("enterprise_self_check")
    ids = hazards.index.astype(str)
    out = pd.DataFrame(index=hazards.index)
    out["self_checks"] = (
        window[self_check].groupby("hazard_id").size().reindex(ids).fillna(0).astype(int).to_numpy()
    )
    out["found_by_others"] = (
        window[~self_check].groupby("hazard_id").size().reindex(ids).fillna(0).astype(int).to_numpy()
    )
    last = linked[linked["source"].eq("enterprise_self_check")].groupby("hazard_id")["reported_at"].max()
    out["last_self_check_at"] = last.reindex(ids).to_numpy()
    out["unchecked"] = out["self_checks"].eq(0)
    return out
