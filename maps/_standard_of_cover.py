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

from .report import _fmt, _table

__all__ = ["standard_of_cover_section"]

_STATION_COLUMNS = [
    ("station", "Station", ""),
    ("name", "Name", ""),
    ("response_units", "Units", "int"),
    ("busy_fraction", "Busy (day)", "pct"),
    ("peak_busy_fraction", "Busy (busiest hour)", "pct"),
    ("peak_hour", "Busiest hour", "int"),
    ("calls_per_day", "Calls answered a day", ".1"),
    ("first_due_answered_share", "Own district's calls answered", "pct"),
]
_CONCURRENCY_COLUMNS = [
    ("hour", "Hour", "int"),
    ("calls_per_hour", "Calls an hour", ".2"),
    ("mean_in_progress", "Calls in progress (mean)", ".2"),
    ("p_at_least_2", "P(2 or more at once)", "pct"),
    ("p_at_least_3", "P(3 or more at once)", "pct"),
    ("p_all_units_busy", "P(every unit busy)", "pct"),
]


def _p90_table(p90: pd.DataFrame, standard_s: float | None) -> str:
    hours = [c for c in p90.columns if str(c).startswith("h")]
    head = "<th>District</th>" + "".join(f"<th>{html.escape(str(h)[1:])}</th>" for h in hours)
    rows = []
    for district, row in p90.iterrows():
        cells = []
        for h in hours:
            v = float(row[h]) if pd.notna(row[h]) else np.nan
            over = standard_s is not None and not (v <= standard_s)
            text = "-" if np.isnan(v) else (f"{v / 60:.1f}" if np.isfinite(v) else "&gt;")
            mark = ' over" style="background:#fcbba1' if over and not np.isnan(v) else ""
            cells.append(f'<td class="num{mark}">{text}</td>')
        name = "City" if str(district) == "city" else html.escape(str(district))
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
    parts = ['<h2 id="standard-of-cover">Standard of cover</h2>']
    if city:
        parts.append(
            f"<p>With stations busy as often as the calls make them (the hypercube queueing model), "
            f"{_fmt(city.get('expected_coverage'), 'pct')} of calls are expected to be reached within "
            f"{_fmt(standard_s, 's')}; 90% of calls are reached within {_fmt(p90, 's')}. "
            f"{_fmt(city.get('calls_per_day'), '.1')} calls a day; "
            f"{_fmt(city.get('lost_share'), 'pct')} find "
            "every unit busy (mutual aid).</p>"
        )
    parts.append(
        "<h3>Expected 90th-percentile response by district and hour (minutes)</h3>"
        f"<p>District = first-due station; hours of the day 0-23; marked: beyond {_fmt(standard_s, 's')}; "
        "&gt; = more than a tenth of the calls are not reached or find every unit busy.</p>"
    )
    parts.append(_p90_table(tables["p90_by_hour"], standard_s))
    st = pd.DataFrame(layers["station_workload"].drop(columns="geometry", errors="ignore"))
    st = st.rename_axis("station").reset_index().sort_values("busy_fraction", ascending=False)
    parts.append("<h3>Station workload</h3>" + _table(st, _STATION_COLUMNS, css_id="station-workload"))
    conc = tables.get("concurrency_by_hour")
    if conc is not None and len(conc):
        c = conc.rename_axis("hour").reset_index()
        parts.append(
            "<h3>Concurrent calls by hour</h3>" + _table(c, _CONCURRENCY_COLUMNS, css_id="concurrency")
        )
    return "\n".join(parts)
