"""The register as tables: items and events as frames, the state as of any time, areas.

Analyses (disclosure, assessment, traceability, the risk model) take two frames a store can
also produce straight from its tables: the items (:func:`items_frame`, one row per item,
indexed by number, points in the register's CRS) and the events (:func:`events_frame`, the
audit log in order). :func:`snapshot` rebuilds each item's changing fields (state, grade,
deadline, supervision, milestone times) as they stood at a given time from the events alone,
vectorised, so that last month's figures do not move when this month's events arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.validate import index_by_id

from .errors import RegisterError
from .items import DATETIME_FIELDS, Event, Item
from .vocab import OPEN_STATUSES

__all__ = [
    "EVENT_COLUMNS",
    "ITEM_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "attach_areas",
    "events_frame",
    "items_frame",
    "overdue",
    "snapshot",
]

#: Columns of :func:`items_frame` (besides ``geometry``): the fields of an item but ``x``, ``y``.
ITEM_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Item) if f.name not in ("x", "y"))
#: Columns of :func:`events_frame`: the event, ``seq`` (its place in the item's log, from 1) and
#: the data the state depends on (``grade``, ``deadline``, ``authority``, the two units) next
#: to ``data`` as JSON.
EVENT_COLUMNS: tuple[str, ...] = (
    "number",
    "seq",
    "action",
    "at",
    "actor",
    "role",
    "unit",
    "from_status",
    "to_status",
    "note",
    "attachments",
    "grade",
    "deadline",
    "authority",
    "territorial_unit",
    "department_unit",
    "data",
)
#: Columns of :func:`snapshot`.
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "status",
    "grade",
    "deadline",
    "supervised_by",
    "territorial_unit",
    "department_unit",
    "reported_at",
    "verified_at",
    "handed_over_at",
    "rectifying_at",
    "rectified_at",
    "closed_at",
    "rejected_at",
    "supervised_at",
    "extensions",
    "reopens",
    "version",
    "updated_at",
)
# milestone column, action, and which of its events counts
_MILESTONES = (
    ("verified_at", "verify", "first"),
    ("handed_over_at", "hand_over", "first"),
    ("rectifying_at", "plan", "last"),
    ("rectified_at", "claim", "last"),
    ("closed_at", "accept", "last"),
    ("rejected_at", "reject", "last"),
    ("supervised_at", "supervise", "first"),
)


def items_frame(items: Iterable[Item], *, crs: object) -> gpd.GeoDataFrame:
    """The items as a GeoDataFrame of points, indexed by number (the ``number`` column kept).

    Parameters
    ----------
    items
        Items (e.g. the values of :func:`~risk_models.register.replay_many`).
    crs
        The CRS of the items' ``x``, ``y``.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`ITEM_COLUMNS` and ``geometry``; ``criteria`` and ``measures`` joined by ``"; "``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import replay_many, synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> frame = items_frame(replay_many(reg.log).values(), crs=city["hazards"].crs)
    >>> len(frame), frame.index[0], frame.crs.to_epsg()
    (120, 'YH-2024-000001', 32649)
    """
    rows = [asdict(i) for i in items]
    df = pd.DataFrame(rows, columns=[f.name for f in fields(Item)])
    for col in ("criteria", "measures"):
        df[col] = df[col].map(lambda v: "; ".join(v) if v else None).astype(object)
    for col in DATETIME_FIELDS:
        df[col] = pd.to_datetime(df[col])
    df["deadline"] = pd.to_datetime(df["deadline"])
    df["funds_yuan"] = df["funds_yuan"].astype(float)
    for col in df.columns:  # texts as objects, missing ones None, as in `snapshot`
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    geometry = gpd.points_from_xy(df["x"].astype(float), df["y"].astype(float), crs=crs)
    out = gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=geometry, crs=crs)
    out.index = pd.Index(out["number"].astype(str).to_numpy(), dtype=object)
    return out


def events_frame(events: Iterable[Event]) -> pd.DataFrame:
    """The audit log as a frame, in log order (:data:`EVENT_COLUMNS`).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> ev = events_frame(reg.log)
    >>> ev.groupby("number")["seq"].min().eq(1).all(), ev["action"].iloc[0]
    (np.True_, 'report')
    """
    rows = []
    for e in events:
        d = e.data
        rows.append(
            (
                e.number,
                e.action,
                e.at,
                e.actor,
                e.role,
                e.unit,
                e.from_status,
                e.to_status,
                e.note,
                "; ".join(e.attachments) or None,
                d.get("grade"),
                d.get("deadline"),
                d.get("authority"),
                d.get("territorial_unit"),
                d.get("department_unit"),
                e.data_json(),
            )
        )
    cols = [c for c in EVENT_COLUMNS if c != "seq"]
    df = pd.DataFrame(rows, columns=cols)
    df["at"] = pd.to_datetime(df["at"])
    df["deadline"] = pd.to_datetime(df["deadline"])
    df.insert(1, "seq", df.groupby("number").cumcount() + 1 if len(df) else pd.Series(dtype=int))
    return df


def _check_events(events: pd.DataFrame) -> None:
    need = {"number", "seq", "action", "at", "to_status", "grade", "deadline", "authority"}
    missing = sorted(need - set(events.columns))
    if missing:
        msg = (
            f"The events frame lacks columns {missing}. Fix: build it with "
            "`risk_models.register.events_frame(events)` or select the store's columns "
            f"{list(EVENT_COLUMNS)}."
        )
        raise RegisterError(msg)


def snapshot(events: pd.DataFrame, at: datetime | pd.Timestamp | None = None) -> pd.DataFrame:
    """Each item's changing fields as they stood at ``at`` (inclusive), from the events alone.

    Parameters
    ----------
    events
        The audit log (:func:`events_frame`).
    at
        The time; None for the latest state. Items reported after ``at`` are absent.

    Returns
    -------
    pandas.DataFrame
        Indexed by number: :data:`SNAPSHOT_COLUMNS`, equal to the fields of the items
        :func:`~risk_models.register.replay_many` makes ``until=at``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> june = snapshot(reg.events, pd.Timestamp("2024-06-30 23:59"))
    >>> len(june) < len(snapshot(reg.events)), "closed" in set(june["status"])
    (True, True)
    """
    _check_events(events)
    e = events if at is None else events[events["at"] <= pd.Timestamp(at)]
    e = e.sort_values(["number", "seq"], kind="stable")
    g = e.groupby("number", sort=True)
    out = pd.DataFrame(
        {
            "status": g["to_status"].last(),
            "grade": g["grade"].last(),
            "deadline": g["deadline"].last(),
            "supervised_by": g["authority"].last(),
            "territorial_unit": g["territorial_unit"].last() if "territorial_unit" in e else None,
            "department_unit": g["department_unit"].last() if "department_unit" in e else None,
            "reported_at": g["at"].first(),
        }
    )
    out.index = pd.Index(out.index.to_numpy(dtype=object), dtype=object)  # as `items_frame`
    for col, action, how in _MILESTONES:
        times = e.loc[e["action"] == action].groupby("number")["at"].agg(how)
        out[col] = times.reindex(out.index)
    for col, action in (("extensions", "extend"), ("reopens", "reopen")):
        out[col] = (
            e.loc[e["action"] == action].groupby("number").size().reindex(out.index).fillna(0).astype(int)
        )
    out["version"] = g.size().astype(int)
    out["updated_at"] = g["at"].last()
    for col in ("grade", "supervised_by", "territorial_unit", "department_unit"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out[list(SNAPSHOT_COLUMNS)]


def overdue(frame: pd.DataFrame, at: datetime | date | pd.Timestamp) -> pd.Series:
    """Whether each item is past its deadline at ``at``: open (verified, not closed) and deadline passed.

    ``frame`` needs ``status`` and ``deadline`` (an items frame or a :func:`snapshot`).

    Examples
    --------
    >>> f = pd.DataFrame({"status": ["rectifying", "closed", "reported"],
    ...                   "deadline": pd.to_datetime(["2026-03-31", "2026-03-01", None])})
    >>> overdue(f, date(2026, 4, 1)).tolist()
    [True, False, False]
    """
    day = pd.Timestamp(at.date() if isinstance(at, datetime) else at)
    deadline = pd.to_datetime(frame["deadline"])
    if deadline.dt.tz is not None:
        deadline = deadline.dt.tz_localize(None)
    late = deadline.notna().to_numpy() & (deadline.to_numpy() < np.datetime64(day.to_datetime64()))
    return pd.Series(frame["status"].isin(OPEN_STATUSES).to_numpy() & late, index=frame.index, name="overdue")


def attach_areas(
    register: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    columns: Sequence[str] = ("district",),
) -> gpd.GeoDataFrame:
    """The register with ``columns`` of the community each item is linked to or lies in.

    An item takes its ``community_id``'s row; one without (or with an unknown id) the
    community containing it, else the nearest. Used to assess by district or street.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> located = attach_areas(reg.items.drop(columns="district"), city["communities"])
    >>> bool(located["district"].notna().all())
    True
    """
    missing = [c for c in columns if c not in communities.columns]
    if missing:
        msg = (
            f"Layer `communities` has no columns {missing} to attach to the register. "
            f"Fix: pick columns of {list(communities.columns.drop('geometry'))}."
        )
        raise RegisterError(msg)
    comm = index_by_id(communities).to_crs(register.crs)
    out = register.copy()
    linked = out["community_id"].where(out["community_id"].isin(comm.index))
    values = comm[list(columns)].reindex(linked.to_numpy())
    values.index = out.index
    todo = linked.isna().to_numpy()
    if todo.any():
        pts = out.loc[todo, ["geometry"]]
        near = gpd.sjoin_nearest(pts, comm[["geometry"]], how="left")
        near = near[~near.index.duplicated(keep="first")]
        values.loc[todo, list(columns)] = (
            comm[list(columns)].reindex(near["index_right"].to_numpy()).to_numpy()
        )
    for c in columns:
        out[c] = values[c]
    return out
