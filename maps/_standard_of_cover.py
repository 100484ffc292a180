"""The report's section "Standard of cover": busy stations, the 90th percentile by district and hour.

Drawn from a coverage with reliability (:func:`planning.reliability.attach_reliability`): the
city's expected coverage and expected 90th-percentile response with busy stations, each
station's workload, the expected 90th-percentile response of every station district at every
hour of the day (cells beyond the standard marked) and the concurrency of calls by hour.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from ._html import cell_text, html_table
from .words import tr

__all__ = ["standard_of_cover_section"]


def _station_columns() -> list[tuple[str, str, str]]:
    return [
        ("station", tr("soc_station"), ""),
        ("name", tr("soc_name"), ""),
        ("response_units", tr("soc_units"), "int"),
        ("busy_fraction", tr("soc_busy_day"), "pct"),
        ("peak_busy_fraction", tr("soc_busy_peak"), "pct"),
        ("peak_hour", tr("soc_peak_hour"), "int"),
        ("calls_per_day", tr("soc_calls_per_day"), ".1"),
        ("first_due_answered_share", tr("soc_own_answered"), "pct"),
    ]


def _concurrency_columns() -> list[tuple[str, str, str]]:
    return [
        ("hour", tr("soc_hour"), "int"),
        ("calls_per_hour", tr("soc_calls_per_hour"), ".2"),
        ("mean_in_progress", tr("soc_in_progress"), ".2"),
        ("p_at_least_2", tr("soc_p2"), "pct"),
        ("p_at_least_3", tr("soc_p3"), "pct"),
        ("p_all_units_busy", tr("soc_p_all_busy"), "pct"),
    ]


def _p90_table(p90: pd.DataFrame, standard_s: float | None) -> str:
    hours = [c for c in p90.columns if str(c).startswith("h")]
    head = f"<th>{html.escape(tr('soc_district'))}</th>" + "".join(
        f"<th>{html.escape(str(h)[1:])}</th>" for h in hours
    )
    rows = []
    for district, row in p90.iterrows():
        cells = []
        for h in hours:
            v = float(row[h]) if pd.notna(row[h]) else np.nan
            over = standard_s is not None and not (v <= standard_s)
            text = "-" if np.isnan(v) else (f"{v / 60:.1f}" if np.isfinite(v) else "&gt;")
            mark = ' over" style="background:#fcbba1' if over and not np.isnan(v) else ""
            cells.append(f'<td class="num{mark}">{text}</td>')
        name = html.escape(tr("soc_city") if str(district) == "city" else str(district))
        rows.append(f"<tr><th>{name}</th>{''.join(cells)}</tr>")
    return f'<table class="rp" id="p90-by-hour"><tr>{head}</tr>{"".join(rows)}</table>'


def standard_of_cover_section(coverage: Any) -> str:
    """HTML of the section, or ``""`` when the coverage carries no reliability."""
    tables = getattr(coverage, "extra_tables", {})
    layers = getattr(coverage, "extra_layers", {})
    if "p90_by_hour" not in tables or "station_workload" not in layers:
        return ""
    std = getattr(coverage, "standard", None)
    standard_s = float(std.response_s) if std is not None else None
    summary = tables.get("reliability_summary")
    city = summary["value"].to_dict() if summary is not None else {}
    p90 = city.get("expected_response_p90_s", np.nan)
    parts = [f'<h2 id="standard-of-cover">{html.escape(tr("soc_title"))}</h2>']
    if city:
        text = tr(
            "soc_city_text",
            coverage=cell_text(city.get("expected_coverage"), "pct"),
            standard=cell_text(standard_s, "s"),
            p90=cell_text(p90, "s"),
            calls=cell_text(city.get("calls_per_day"), ".1"),
            lost=cell_text(city.get("lost_share"), "pct"),
        )
        parts.append(f"<p>{html.escape(text)}</p>")
    parts.append(
        f"<h3>{html.escape(tr('soc_p90_title'))}</h3>"
        f"<p>{html.escape(tr('soc_p90_note', standard=cell_text(standard_s, 's')))}</p>"
    )
    parts.append(_p90_table(tables["p90_by_hour"], standard_s))
    st = pd.DataFrame(layers["station_workload"].drop(columns="geometry", errors="ignore"))
    st = st.rename_axis("station").reset_index().sort_values("busy_fraction", ascending=False)
    parts.append(
        f"<h3>{html.escape(tr('soc_workload_title'))}</h3>"
        + html_table(st, _station_columns(), css_id="station-workload")
    )
    conc = tables.get("concurrency_by_hour")
    if conc is not None and len(conc):
        c = conc.rename_axis("hour").reset_index()
        parts.append(
            f"<h3>{html.escape(tr('soc_concurrency_title'))}</h3>"
            + html_table(c, _concurrency_columns(), css_id="concurrency")
        )
    return "\n".join(parts)
