"""A month of the register in one object: what the map, the report and the outputs show.

:func:`register_month` reads a register (items and events) at the end of a month and puts
together what an analyst looks at: each item's state then (overdue and days overdue computed
at the month's end), the city's figures of the month, the assessments (四评估) by district,
department and enterprise, the disclosure (三公开), the traceability findings (一追溯) and,
given risk assessments, each hazard source's risk grade (the four-colour map). Everything is
derived from :mod:`.assessment`, :mod:`.disclosure`, :mod:`.trace` and :mod:`.grading`: the
figures shown are theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.tables import TableOverrides

from ._months import month_of
from .assessment import Assessment, assess
from .disclosure import Disclosure, disclose
from .errors import RegisterError
from .frames import SNAPSHOT_COLUMNS, attach_areas, overdue, snapshot
from .grading import grade_assessments, hazard_risk_grades
from .trace import trace_incidents, unchecked_sources
from .workflow import Workflow, load_workflow

__all__ = ["ASSESS_BY", "MONTH_FIGURES", "RegisterMonth", "register_month"]

#: The groupings assessed by default, where the register has them.
ASSESS_BY: tuple[str, ...] = ("district", "department_unit", "enterprise_id")
#: The city's figures of the month (:attr:`RegisterMonth.figures`), as :func:`assess` computes them.
MONTH_FIGURES: tuple[str, ...] = (
    "found",
    "found_major",
    "closed",
    "on_time_rate",
    "open_now",
    "overdue_now",
    "median_days_to_close",
    "reopen_rate",
    "self_check_share",
)


@dataclass(frozen=True, eq=False)
class RegisterMonth:
    """A month of a hidden-danger register, read at the month's end.

    Attributes
    ----------
    label
        The register's label (says "synthetic" for the demo's).
    month
        ``YYYY-MM``.
    as_of
        The month's last instant: every state is the one of that time.
    items
        The items reported by then, with their state then (:data:`SNAPSHOT_COLUMNS`),
        ``overdue`` and ``days_overdue`` (whole days past the deadline at the month's end).
    events
        The audit log (all of it: later events are ignored by the figures).
    figures
        The city's figures of the month (:data:`MONTH_FIGURES`).
    assessments
        :class:`Assessment` by grouping column (``district``, ``department_unit``,
        ``enterprise_id`` where present).
    disclosure
        The month's :class:`Disclosure`.
    trace
        :func:`trace_incidents` of the incidents up to the month's end (None: no incidents).
    unchecked
        :func:`unchecked_sources` at the month's end (None: no hazards layer).
    graded, risk_grades
        :func:`grade_assessments` of the risk assessments and :func:`hazard_risk_grades` on
        the hazards layer (None: no risk assessments).
    synthetic
        Whether the register is synthetic.
    """

    label: str
    month: str
    as_of: pd.Timestamp
    items: gpd.GeoDataFrame
    events: pd.DataFrame
    figures: pd.Series
    assessments: Mapping[str, Assessment]
    disclosure: Disclosure
    trace: pd.DataFrame | None
    unchecked: pd.DataFrame | None
    graded: pd.DataFrame | None
    risk_grades: gpd.GeoDataFrame | None
    synthetic: bool = False


def _last_month(events: pd.DataFrame) -> str:
    if not len(events):
        msg = "The register has no events. Fix: give the month to read, or a register with events."
        raise RegisterError(msg)
    last = pd.to_datetime(events["at"]).max()
    return f"{last.year:04d}-{last.month:02d}"


def register_month(
    items: gpd.GeoDataFrame,
    events: pd.DataFrame,
    month: str | date | datetime | pd.Period | None = None,
    *,
    label: str = "hidden-danger register",
    hazards: gpd.GeoDataFrame | None = None,
    communities: gpd.GeoDataFrame | None = None,
    incidents: gpd.GeoDataFrame | None = None,
    risk_assessments: pd.DataFrame | None = None,
    by: Sequence[str] = ASSESS_BY,
    trend_months: int = 12,
    trace_radius_m: float = 300.0,
    lookback_days: float = 90.0,
    unchecked_months: int = 6,
    synthetic: bool = False,
    register_workflow: Workflow | TableOverrides = None,
) -> RegisterMonth:
    """Read a register at the end of ``month``: states, figures, assessments, disclosure, traces.

    Parameters
    ----------
    items
        Items frame (:func:`~risk_models.register.items_frame`), any CRS.
    events
        Audit log (:func:`~risk_models.register.events_frame`).
    month
        ``"YYYY-MM"``; None: the month of the last event.
    label
        The register's label.
    hazards, communities
        The scenario's layers: communities give items without a ``district`` theirs
        (:func:`attach_areas`); hazards the sources without self-checks and the risk grades.
    incidents
        Incidents (a ``time`` column) to trace (:func:`trace_incidents`).
    risk_assessments
        Risk assessments of hazard sources and their parts (:func:`grade_assessments` rows).
    by
        Grouping columns to assess; those the register lacks (or has no value of) are skipped.
    trend_months, trace_radius_m, lookback_days, unchecked_months
        As :func:`assess`, :func:`trace_incidents` (``radius_m``) and
        :func:`unchecked_sources` (``months``).
    synthetic
        Whether the register is synthetic (the map and report say so).
    register_workflow
        Loaded workflow or overrides.

    Returns
    -------
    RegisterMonth

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> m = register_month(reg.items, reg.events, hazards=city["hazards"], incidents=reg.incidents)
    >>> m.month, sorted(m.assessments), int(m.figures["found"]) > 0
    ('2024-12', ['department_unit', 'district', 'enterprise_id'], True)
    >>> bool(m.items["overdue"].any()), set(m.trace["incident_id"]) == set(reg.incidents.index)
    (True, True)
    """
    wf = load_workflow(register_workflow)
    m = month_of(month if month is not None else _last_month(events), events)
    register = items
    if communities is not None and ("district" not in register or register["district"].isna().any()):
        known = register.get("district")
        register = attach_areas(register.drop(columns="district", errors="ignore"), communities)
        if known is not None:
            register["district"] = known.where(known.notna(), register["district"])
    assessments: dict[str, Assessment] = {}
    cache: dict[tuple[str, str], Any] = {}  # month-end states shared by the groupings
    for col in by:
        if col in register.columns and register[col].notna().any():
            assessments[col] = assess(
                register,
                events,
                m.period,
                by=col,
                trend_months=trend_months,
                register_workflow=wf,
                cache=cache,
            )
    if assessments:
        city = next(iter(assessments.values())).city
    else:  # no grouping: the city's figures alone
        city = assess(register, events, m.period, by="source", trend_months=1, register_workflow=wf).city
    figures = city.loc[str(m), list(MONTH_FIGURES)]

    snap = cache.get(("snapshot", str(m)))
    snap = snapshot(events, m.last) if snap is None else snap
    state = register.drop(columns=[c for c in SNAPSHOT_COLUMNS if c in register.columns]).join(
        snap, how="inner"
    )
    late = overdue(state, m.day)
    deadline = pd.to_datetime(state["deadline"])
    if deadline.dt.tz is not None:
        deadline = deadline.dt.tz_localize(None)
    state["overdue"] = late
    state["days_overdue"] = ((pd.Timestamp(m.day) - deadline) / pd.Timedelta(days=1)).where(late).round(0)
    state = gpd.GeoDataFrame(state, geometry=register.geometry.name, crs=register.crs)

    disclosure = disclose(register, events, m.period, register_workflow=wf)
    trace = None
    if incidents is not None and len(incidents) and "time" in incidents:
        times = pd.to_datetime(incidents["time"], errors="coerce")
        last = m.last.tz_localize(None) if m.last.tz is not None else m.last
        upto = incidents[(times.dt.tz_localize(None) if times.dt.tz else times) <= last]
        trace = trace_incidents(upto, register, events, radius_m=trace_radius_m, lookback_days=lookback_days)
    unchecked = None
    if hazards is not None and len(hazards):
        unchecked = unchecked_sources(hazards, register, at=m.last, months=unchecked_months)
    graded = risk_grades = None
    if risk_assessments is not None and len(risk_assessments):
        graded = grade_assessments(risk_assessments)
        if hazards is not None:
            risk_grades = hazard_risk_grades(graded, hazards)
            for col in ("name", "category"):
                if col in hazards.columns:
                    risk_grades[col] = hazards[col].to_numpy()
    return RegisterMonth(
        label=label,
        month=str(m),
        as_of=m.last,
        items=state,
        events=events,
        figures=figures.astype(float).replace({np.inf: np.nan}),
        assessments=assessments,
        disclosure=disclosure,
        trace=trace,
        unchecked=unchecked,
        graded=graded,
        risk_grades=risk_grades,
        synthetic=synthetic,
    )
