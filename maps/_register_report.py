"""The report's register section: the month's figures, rankings, charts and traceability.

Every figure is read from the :class:`risk_models.register.RegisterMonth` (itself computed
by :func:`risk_models.register.assess`, :func:`~risk_models.register.disclose`,
:func:`~risk_models.register.trace_incidents` and :func:`~risk_models.register.unchecked_sources`),
never recomputed here. Only public fields are shown: no reporter, description, plan or note.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from . import register_figures as rfig
from .report import _img, _table

if TYPE_CHECKING:
    from risk_models.register import RegisterMonth

__all__ = ["KPI_LABELS", "register_section"]

#: The month's figures in the section's key-figure boxes: (figure, label, format).
KPI_LABELS: tuple[tuple[str, str, str], ...] = (
    ("found", "dangers found this month 本月排查", "int"),
    ("closed", "closed (销号) this month", "int"),
    ("on_time_rate", "closed on time 按期整改率", "pct"),
    ("overdue_now", "overdue at the month's end 逾期未整改", "int"),
    ("median_days_to_close", "median days to close 整改天数中位数", ".1"),
    ("reopen_rate", "re-inspections failed 复查不合格率", "pct"),
    ("self_check_share", "found by enterprises' own checks 企业自查占比", "pct"),
)
_BY_TITLES = {
    "district": "district 区县",
    "street": "street 街道",
    "department_unit": "industry department 行业部门",
    "territorial_unit": "territorial government 属地政府",
    "enterprise_id": "enterprise 企业",
}
_RANK_COLUMNS = [
    ("rank", "Rank", "int"),
    ("group", "Group", ""),
    ("score", "Score", ".1"),
    ("found", "Found", "int"),
    ("closed", "Closed", "int"),
    ("on_time_rate", "On time", "pct"),
    ("overdue_now", "Overdue now", "int"),
    ("median_days_to_close", "Median days to close", ".1"),
    ("reopen_rate", "Reopen rate", "pct"),
    ("self_check_share", "Self-check share", "pct"),
    ("rank_change", "Places gained", "int"),
]


def _value(value: object, kind: str) -> str:
    if value is None or pd.isna(value):
        return "-"
    v = float(value)  # type: ignore[arg-type]
    return f"{v:.0%}" if kind == "pct" else f"{v:,.0f}" if kind == "int" else f"{v:,.1f}"


def register_section(
    month: RegisterMonth, *, communities: gpd.GeoDataFrame | None = None, limit: int = 20
) -> str:
    """The HTML of the report's register section (every text escaped).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import register_month, synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> page = register_section(register_month(reg.items, reg.events, label=reg.label, synthetic=True))
    >>> 'id="reg-kpis"' in page and 'id="reg-rank-district"' in page and "Synthetic" in page
    True
    """
    f = month.figures
    parts = [
        f'<h2 id="register">Hidden-danger register 隐患排查治理: {html.escape(month.month)}</h2>',
        f'<p class="sub">{html.escape(month.label)}; states as of {month.as_of:%Y-%m-%d}. '
        "Public fields only: no reporter, description as reported, plan or note.</p>",
    ]
    if month.synthetic or "synthetic" in month.label.lower():
        parts.append('<p class="synthetic">Synthetic register: generated items, not a real one.</p>')
    boxes = "".join(
        f'<div class="kpi" data-metric="{key}"><b>{_value(f.get(key), kind)}</b>{html.escape(label)}</div>'
        for key, label, kind in KPI_LABELS
    )
    parts.append(f'<div class="kpis" id="reg-kpis">{boxes}</div>')

    d = month.disclosure
    summary = d.summary.reset_index()
    parts.append("<h3>The month by grade (三公开)</h3>")
    parts.append(
        _table(
            summary,
            [
                ("grade", "Grade", ""),
                ("found", "Found", "int"),
                ("closed", "Closed", "int"),
                ("open", "Open at the month's end", "int"),
                ("overdue", "Overdue", "int"),
                ("supervised_open", "Supervised, open", "int"),
            ],
            css_id="reg-disclosure",
        )
    )

    figs = []
    if month.risk_grades is not None and month.risk_grades["grade"].notna().any():
        figs.append((rfig.four_colour_figure(month, communities=communities), "Four-colour risk map"))
    if month.assessments:
        figs.append((rfig.register_trend_figure(month), "Register trend"))
    figs += [(rfig.ranking_figure(a), f"Ranking by {by}") for by, a in month.assessments.items()]
    if figs:
        parts.append('<div class="figs">' + "".join(_img(fig, alt) for fig, alt in figs) + "</div>")

    for by, a in month.assessments.items():
        table = a.table.rename_axis("group").reset_index()
        title = _BY_TITLES.get(by, by.replace("_", " "))
        parts.append(f"<h3>Assessment (四评估) by {html.escape(title)}: rank 1 is best</h3>")
        parts.append(_table(table, _RANK_COLUMNS, css_id=f"reg-rank-{by}", limit=limit))

    parts.append("<h3>Traceability (一追溯)</h3>")
    if month.trace is None:
        parts.append('<p class="more">No incidents given: nothing to trace.</p>')
    else:
        trace = month.trace.copy()
        n_inc = trace["incident_id"].nunique()
        parts.append(
            f"<p>{n_inc} incidents up to {month.as_of:%Y-%m-%d} had register items near them or at their "
            "source that were open, overdue, unverified, rejected or closed shortly before:</p>"
        )
        trace["incident_time"] = pd.to_datetime(trace["incident_time"]).dt.strftime("%Y-%m-%d %H:%M")
        trace["deadline"] = pd.to_datetime(trace["deadline"]).dt.strftime("%Y-%m-%d")
        parts.append(
            _table(
                trace,
                [
                    ("incident_id", "Incident", ""),
                    ("incident_time", "When", ""),
                    ("number", "Item", ""),
                    ("category", "Category", ""),
                    ("grade", "Grade", ""),
                    ("finding", "Finding", ""),
                    ("distance_m", "Distance m", ".0"),
                    ("same_source", "Same source", ""),
                    ("deadline", "Deadline", ""),
                    ("days_overdue", "Days overdue", ".0"),
                    ("days_since", "Days since closed / rejected", ".1"),
                ],
                css_id="reg-trace",
                limit=50,
            )
        )
    if month.unchecked is not None:
        quiet = month.unchecked[month.unchecked["unchecked"]].copy()
        quiet = quiet.sort_values("found_by_others", ascending=False, kind="stable")
        quiet = quiet.rename_axis("hazard_id").reset_index()
        quiet["last_self_check_at"] = pd.to_datetime(quiet["last_self_check_at"]).dt.strftime("%Y-%m-%d")
        parts.append(
            f"<p>{len(quiet)} of {len(month.unchecked)} hazard sources reported no self-check item in the "
            "window (dangers there &quot;should have been found&quot;), most found by others first:</p>"
        )
        parts.append(
            _table(
                quiet,
                [
                    ("hazard_id", "Hazard source", ""),
                    ("found_by_others", "Found by others", "int"),
                    ("last_self_check_at", "Last self-check", ""),
                ],
                css_id="reg-unchecked",
                limit=limit,
            )
        )
    return "\n".join(parts)
