"""Monthly disclosure (三公开): the list of major dangers, their progress and the results.

:func:`public_view` is the only road from the register to the public: it keeps a fixed list
of public columns (what, where, who is responsible, the measures and the dates) and drops
everything else (the reporter, the description as reported, the plan, notes, attachments,
actors), and shows the verifier's ``public_summary`` or, without one, the category's label.
:func:`disclose` builds a month's three tables from it and the events: the service renders
them as HTML, CSV and GeoPackage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.tables import TableOverrides

from ._months import Month, month_of
from .errors import RegisterError
from .frames import overdue, snapshot
from .vocab import CONFIRMED_STATUSES, OPEN_STATUSES
from .workflow import Workflow, load_workflow

__all__ = [
    "PUBLIC_COLUMNS",
    "PUBLIC_STEPS",
    "Disclosure",
    "disclose",
    "disclose_snapshot",
    "listed_majors",
    "public_view",
]

#: The columns the public may see (besides ``geometry`` and area columns such as ``district``).
PUBLIC_COLUMNS: tuple[str, ...] = (
    "number",
    "category",
    "category_zh",
    "grade",
    "criteria",
    "public_summary",
    "source",
    "status",
    "status_zh",
    "hazard_id",
    "enterprise_id",
    "community_id",
    "territorial_unit",
    "department_unit",
    "supervised_by",
    "measures",
    "funds_yuan",
    "deadline",
    "extensions",
    "reopens",
    "reported_at",
    "verified_at",
    "handed_over_at",
    "rectifying_at",
    "rectified_at",
    "closed_at",
    "rejected_at",
    "supervised_at",
)
#: Actions shown as steps of an item's public progress (comments are private).
PUBLIC_STEPS: tuple[str, ...] = (
    "report",
    "verify",
    "hand_over",
    "plan",
    "claim",
    "accept",
    "reopen",
    "supervise",
    "extend",
)
_AREA_COLUMNS = ("district", "street")


def public_view(
    register: gpd.GeoDataFrame,
    *,
    area_columns: tuple[str, ...] = _AREA_COLUMNS,
    location_precision_m: float | None = None,
    register_workflow: Workflow | TableOverrides = None,
) -> gpd.GeoDataFrame:
    """The register as the public may see it: public columns only, no reporter, no private text.

    Parameters
    ----------
    register
        Items frame (:func:`~risk_models.register.items_frame`), optionally with area columns.
    area_columns
        Area columns kept where present (``district``, ``street``).
    location_precision_m
        Snap points to a grid of this size (metres, metric CRS) so that a report in a home
        does not point at the flat; None keeps them.
    register_workflow
        Loaded workflow or overrides (labels).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`PUBLIC_COLUMNS` (those present), area columns and ``geometry``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> public = public_view(reg.items)
    >>> {"reporter", "description", "plan"} & set(public.columns), public["public_summary"].notna().all()
    (set(), np.True_)
    """
    wf = load_workflow(register_workflow)
    out = gpd.GeoDataFrame(index=register.index, geometry=register.geometry.copy(), crs=register.crs)
    cats = register["category"].astype(str)
    labels = cats.map(lambda c: wf.label("categories", c))
    derived = {
        "category_zh": labels,
        "status_zh": register["status"].map(lambda s: wf.label("states", s)),
        "public_summary": (
            register["public_summary"].where(register["public_summary"].notna(), labels)
            if "public_summary" in register
            else labels
        ),
    }
    for col in PUBLIC_COLUMNS:
        if col in derived:
            out[col] = derived[col]
        elif col in register.columns:
            out[col] = register[col]
    for col in area_columns:
        if col in register.columns:
            out[col] = register[col]
    if location_precision_m is not None:
        if register.crs is None or not register.crs.is_projected:
            msg = (
                "`location_precision_m` needs the register in a metric CRS. "
                "Fix: reproject it with `gis.crs.to_metric`."
            )
            raise RegisterError(msg)
        step = float(location_precision_m)
        xy = np.round(np.c_[out.geometry.x, out.geometry.y] / step) * step
        out = out.set_geometry(gpd.points_from_xy(xy[:, 0], xy[:, 1], crs=register.crs))
    return out[[c for c in out.columns if c != "geometry"] + ["geometry"]]


@dataclass(frozen=True, eq=False)
class Disclosure:
    """A month's public disclosure (三公开); every table is public (:func:`public_view`).

    Attributes
    ----------
    month
        ``YYYY-MM``.
    as_of
        The end of the month: states are those of its last instant.
    summary
        One row per grade (``general``, ``major``, ``all``): found, closed, open and overdue at
        the month's end, supervised open.
    majors
        The list of major dangers open at the month's start or found in it (closed in the month
        included), with where they are and who is responsible.
    progress
        Each one's progress: state at the month's end, milestones, deadline, overdue, days open,
        measures and funds, and the month's steps (action and date, no names or notes).
    results
        Major dangers closed (销号) in the month, with their dates, days to close and whether on time.
    """

    month: str
    as_of: pd.Timestamp
    summary: pd.DataFrame
    majors: gpd.GeoDataFrame
    progress: pd.DataFrame
    results: gpd.GeoDataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name (``summary``, ``majors``, ``progress``, ``results``)."""
        return {
            "summary": self.summary,
            "majors": self.majors,
            "progress": self.progress,
            "results": self.results,
        }

    def listing(self) -> gpd.GeoDataFrame:
        """The list of major dangers with each one's progress, one row each (for CSV and maps)."""
        extra = self.progress.drop(columns=[c for c in self.progress.columns if c in self.majors.columns])
        return self.majors.join(extra, how="left")


def _days(a: pd.Series, b: pd.Series | pd.Timestamp) -> pd.Series:
    return ((b - a) / pd.Timedelta(days=1)).astype(float)


def disclose(
    register: gpd.GeoDataFrame,
    events: pd.DataFrame,
    month: str | date | datetime | pd.Period,
    *,
    location_precision_m: float | None = None,
    register_workflow: Workflow | TableOverrides = None,
) -> Disclosure:
    """The month's disclosure: major dangers, their progress and the results, as public tables.

    Parameters
    ----------
    register
        Items frame (static fields: category, place, links, units, measures).
    events
        Audit log (:func:`~risk_models.register.events_frame`): states as of the month's end.
    month
        ``"YYYY-MM"``.
    location_precision_m
        As :func:`public_view`.
    register_workflow
        Loaded workflow or overrides.

    Returns
    -------
    Disclosure

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> d = disclose(reg.items, reg.events, "2024-06")
    >>> list(d.summary.index), bool((d.majors["grade"] == "major").all())
    (['general', 'major', 'all'], True)
    >>> bool(d.summary.loc["all", "found"] > 0), set(d.results.index) <= set(d.majors.index)
    (True, True)
    >>> sorted(d.tables())
    ['majors', 'progress', 'results', 'summary']
    """
    m = month_of(month, events)
    snap = snapshot(events, m.last)
    unknown = snap.index.difference(register.index)
    if len(unknown):
        msg = (
            f"The events name items {list(unknown[:10])} that are not in the register. "
            "Fix: give the items frame and the events of the same register."
        )
        raise RegisterError(msg)
    return disclose_snapshot(
        snap, register, events, m.period, location_precision_m=location_precision_m,
        register_workflow=register_workflow,
    )  # fmt: skip


def listed_majors(snap: pd.DataFrame, month: str | date | datetime | pd.Period) -> pd.Index:
    """The numbers of the major dangers a month's disclosure lists, from the month-end snapshot.

    Those verified major (grade ``major``, a confirmed state at the month's end) and open at
    its end or closed (销号) in it: the rows of :attr:`Disclosure.majors`.

    Examples
    --------
    >>> snap = pd.DataFrame({"grade": ["major", "major", "general"],
    ...     "status": ["closed", "rectifying", "verified"],
    ...     "closed_at": pd.to_datetime(["2026-02-10", None, None])}, index=["A", "B", "C"])
    >>> list(listed_majors(snap, "2026-03"))
    ['B']
    """
    m = month_of(month, pd.DataFrame({"at": pd.Series(dtype="datetime64[ns]")}))
    return snap.index[_listed(snap, m)]


def _listed(snap: pd.DataFrame, m: Month) -> pd.Series:
    major = snap["grade"].eq("major") & snap["status"].isin(CONFIRMED_STATUSES)
    return major & (snap["status"].isin(OPEN_STATUSES) | m.contains(snap["closed_at"]))


def disclose_snapshot(
    snap: pd.DataFrame,
    register: gpd.GeoDataFrame,
    events: pd.DataFrame,
    month: str | date | datetime | pd.Period,
    *,
    location_precision_m: float | None = None,
    register_workflow: Workflow | TableOverrides = None,
) -> Disclosure:
    """The month's disclosure from the states at its end: what :func:`disclose` makes, from less.

    For a store that can give the month-end states itself (the service's register answers
    them from SQL aggregates), so that neither every event nor every item of the window has
    to be read: :func:`disclose` is :func:`~risk_models.register.snapshot` of the events at
    the month's end, then this.

    Parameters
    ----------
    snap
        :func:`~risk_models.register.snapshot` at the month's last instant of (at least) the
        items that can count in the month: those not closed or rejected before it starts.
    register
        Items frame of (at least) the majors listed (:func:`listed_majors`): their static
        fields (category, place, links, measures).
    events
        Audit log of (at least) the listed majors in the month (their steps this month).
    month, location_precision_m, register_workflow
        As :func:`disclose`.

    Returns
    -------
    Disclosure

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import snapshot, synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> snap = snapshot(reg.events, pd.Timestamp("2024-06-30 23:59:59.999999999"))
    >>> majors = listed_majors(snap, "2024-06")
    >>> d = disclose_snapshot(snap, reg.items.loc[majors], reg.events, "2024-06")
    >>> d.summary.equals(disclose(reg.items, reg.events, "2024-06").summary)
    True
    """
    wf = load_workflow(register_workflow)
    m = month_of(month, events)
    state = snap.copy()
    state["overdue"] = overdue(state, m.day)
    found = m.contains(state["reported_at"]) & state["status"].isin(CONFIRMED_STATUSES)
    closed = m.contains(state["closed_at"])
    open_end = state["status"].isin(OPEN_STATUSES)
    rows = {}
    for grade in ("general", "major", "all"):
        g = state["grade"].eq(grade) if grade != "all" else state["grade"].notna()
        rows[grade] = {
            "found": int((found & g).sum()),
            "closed": int((closed & g).sum()),
            "open": int((open_end & g).sum()),
            "overdue": int((state["overdue"] & g).sum()),
            "supervised_open": int((open_end & g & state["supervised_by"].notna()).sum()),
        }
    summary = pd.DataFrame.from_dict(rows, orient="index")
    summary.index.name = "grade"

    listed = state.index[_listed(state, m)]
    missing = listed.difference(register.index)
    if len(missing):
        msg = (
            f"The register lacks the major dangers {list(missing[:10])} the month lists. "
            "Fix: give the items frame of the same register."
        )
        raise RegisterError(msg)
    static = register.loc[listed]
    majors_state = static.drop(columns=[c for c in snap.columns if c in static.columns]).join(
        state.loc[listed], how="inner"
    )
    majors_state = majors_state.sort_index()
    public = public_view(majors_state, location_precision_m=location_precision_m, register_workflow=wf)
    list_cols = [
        "number", "category", "category_zh", "grade", "public_summary", "criteria", "hazard_id",
        "enterprise_id", "community_id", "district", "street", "territorial_unit", "department_unit",
        "supervised_by", "reported_at", "deadline", "geometry",
    ]  # fmt: skip
    majors = public[[c for c in list_cols if c in public.columns]]

    ev = events[events["number"].isin(majors_state.index) & m.contains(events["at"])]
    ev = ev[ev["action"].isin(PUBLIC_STEPS)].sort_values(["number", "seq"], kind="stable")
    labels = ev["at"].dt.strftime("%Y-%m-%d") + " " + ev["action"].astype(str)
    steps = labels.groupby(ev["number"]).agg("; ".join)
    progress = pd.DataFrame(index=majors_state.index)
    progress_cols = [
        "status", "status_zh", "verified_at", "handed_over_at", "rectifying_at", "rectified_at",
        "closed_at", "deadline", "extensions", "reopens", "measures", "funds_yuan",
    ]  # fmt: skip
    for col in progress_cols:
        if col in public.columns:
            progress[col] = public[col]
    progress.insert(0, "number", progress.index)
    progress["overdue"] = majors_state["overdue"]
    until = majors_state["closed_at"].where(majors_state["closed_at"].notna(), m.end)
    progress["days_open"] = _days(majors_state["reported_at"], until).round(1)
    progress["steps_this_month"] = steps.reindex(progress.index).fillna("")

    done = majors_state[m.contains(majors_state["closed_at"])]
    results = public.loc[done.index, [c for c in ("number", "category", "category_zh", "public_summary",
                                                  "enterprise_id", "territorial_unit", "department_unit",
                                                  "reported_at", "verified_at", "closed_at", "deadline",
                                                  "geometry") if c in public.columns]].copy()  # fmt: skip
    results["days_to_close"] = _days(done["reported_at"], done["closed_at"]).round(1)
    results["on_time"] = (
        done["closed_at"].dt.normalize().dt.tz_localize(None) <= done["deadline"]
    ).to_numpy()
    return Disclosure(str(m), m.last, summary, majors, progress, results)
