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
from ._html import figure_img, html_table
from .words import date_text, month_text, term_label, tr

if TYPE_CHECKING:
    from risk_models.register import RegisterMonth

__all__ = ["KPI_LABELS", "register_section"]

#: The month's figures in the section's key-figure boxes: (figure, glossary key, format).
KPI_LABELS: tuple[tuple[str, str, str], ...] = (
    ("found", "reg_kpi_found", "int"),
    ("closed", "reg_kpi_closed", "int"),
    ("on_time_rate", "reg_kpi_on_time", "pct"),
    ("overdue_now", "reg_kpi_overdue", "int"),
    ("median_days_to_close", "reg_kpi_median_days", ".1"),
    ("reopen_rate", "reg_kpi_reopen", "pct"),
    ("self_check_share", "reg_kpi_self_check", "pct"),
)


def _kpi_label(key: str) -> str:
    names = {
        "reg_kpi_found": tr("reg_kpi_found"),
        "reg_kpi_closed": tr("reg_kpi_closed"),
        "reg_kpi_on_time": tr("reg_kpi_on_time"),
        "reg_kpi_overdue": tr("reg_kpi_overdue"),
        "reg_kpi_median_days": tr("reg_kpi_median_days"),
        "reg_kpi_reopen": tr("reg_kpi_reopen"),
        "reg_kpi_self_check": tr("reg_kpi_self_check"),
    }
    return names[key]


def _rank_columns() -> list[tuple[str, str, str]]:
    return [
        ("rank", tr("map_f_rank"), "int"),
        ("group", tr("reg_col_group"), ""),
        ("score", tr("reg_col_score"), ".1"),
        ("found", tr("reg_col_found"), "int"),
        ("closed", tr("reg_col_closed"), "int"),
        ("on_time_rate", tr("reg_col_on_time"), "pct"),
        ("overdue_now", tr("reg_col_overdue_now"), "int"),
        ("median_days_to_close", tr("reg_col_median_days"), ".1"),
        ("reopen_rate", tr("reg_col_reopen"), "pct"),
        ("self_check_share", tr("reg_col_self_check"), "pct"),
        ("rank_change", tr("reg_col_places_gained"), "int"),
    ]


def _grade_name(grade: str) -> str:
    names = {"major": tr("major_hidden_danger"), "general": tr("general_hidden_danger")}
    return names.get(grade, grade)


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
        f'<h2 id="register">{html.escape(tr("reg_h", month=month_text(month.month)))}</h2>',
        f'<p class="sub">{html.escape(tr("reg_sub", label=month.label, date=date_text(month.as_of)))}</p>',
    ]
    if month.synthetic or "synthetic" in month.label.lower():
        parts.append(f'<p class="synthetic">{html.escape(tr("reg_synthetic"))}</p>')
    boxes = "".join(
        f'<div class="kpi" data-metric="{key}"><b>{_value(f.get(key), kind)}</b>'
        f"{html.escape(_kpi_label(label))}</div>"
        for key, label, kind in KPI_LABELS
    )
    parts.append(f'<div class="kpis" id="reg-kpis">{boxes}</div>')

    d = month.disclosure
    summary = d.summary.reset_index()
    if "grade" in summary:
        summary["grade"] = summary["grade"].astype(str).map(_grade_name)
    parts.append(f"<h3>{html.escape(tr('reg_h_by_grade'))}</h3>")
    parts.append(
        html_table(
            summary,
            [
                ("grade", tr("map_f_grade"), ""),
                ("found", tr("reg_col_found"), "int"),
                ("closed", tr("reg_col_closed"), "int"),
                ("open", tr("reg_col_open"), "int"),
                ("overdue", term_label("overdue"), "int"),
                ("supervised_open", tr("reg_col_supervised_open"), "int"),
            ],
            css_id="reg-disclosure",
        )
    )

    figs = []
    if month.risk_grades is not None and month.risk_grades["grade"].notna().any():
        figs.append((rfig.four_colour_figure(month, communities=communities), term_label("four_colour_map")))
    if month.assessments:
        figs.append((rfig.register_trend_figure(month), tr("reg_fig_trend")))
    figs += [
        (rfig.ranking_figure(a), tr("reg_fig_ranking", by=rfig.by_word(by)))
        for by, a in month.assessments.items()
    ]
    if figs:
        parts.append('<div class="figs">' + "".join(figure_img(fig, alt) for fig, alt in figs) + "</div>")

    for by, a in month.assessments.items():
        table = a.table.rename_axis("group").reset_index()
        parts.append(f"<h3>{html.escape(tr('reg_h_assessment', by=rfig.by_word(by)))}</h3>")
        parts.append(html_table(table, _rank_columns(), css_id=f"reg-rank-{by}", limit=limit))

    parts.append(f"<h3>{html.escape(tr('reg_h_trace'))}</h3>")
    if month.trace is None:
        parts.append(f'<p class="more">{html.escape(tr("reg_no_incidents"))}</p>')
    else:
        trace = month.trace.copy()
        n_inc = trace["incident_id"].nunique()
        parts.append(f"<p>{html.escape(tr('reg_trace_text', count=n_inc, date=date_text(month.as_of)))}</p>")
        trace["incident_time"] = pd.to_datetime(trace["incident_time"]).dt.strftime("%Y-%m-%d %H:%M")
        trace["deadline"] = pd.to_datetime(trace["deadline"]).dt.strftime("%Y-%m-%d")
        parts.append(
            html_table(
                trace,
                [
                    ("incident_id", tr("reg_col_incident"), ""),
                    ("incident_time", tr("reg_col_when"), ""),
                    ("number", term_label("item_number"), ""),
                    ("category", tr("map_f_category"), ""),
                    ("grade", tr("map_f_grade"), ""),
                    ("finding", tr("reg_col_finding"), ""),
                    ("distance_m", tr("reg_col_distance_m"), ".0"),
                    ("same_source", tr("reg_col_same_source"), ""),
                    ("deadline", term_label("rectification_deadline"), ""),
                    ("days_overdue", tr("reg_col_days_overdue"), ".0"),
                    ("days_since", tr("reg_col_days_since"), ".1"),
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
        text = tr("reg_unchecked_text", quiet=len(quiet), total=len(month.unchecked))
        parts.append(f"<p>{html.escape(text)}</p>")
        parts.append(
            html_table(
                quiet,
                [
                    ("hazard_id", term_label("hazard_source"), ""),
                    ("found_by_others", tr("reg_col_found_by_others"), "int"),
                    ("last_self_check_at", tr("reg_col_last_self_check"), ""),
                ],
                css_id="reg-unchecked",
                limit=limit,
            )
        )
    return "\n".join(parts)
