"""The report's section "Road closures": what a what-if closed and what it costs the residents.

Drawn from a coverage carrying a what-if (``riskplan run`` with ``[what_if]``,
:mod:`service.what_if_run`): the roads closed (by name, with their edge count), the stations
taken out and the temporary ones, the key figures (residents losing coverage, cut off,
resident-seconds lost, coverage gained) and the worst-hit communities.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gis.validate import index_by_id

from ._closure_layers import impact_class
from ._html import html_table
from .words import community_names, current_lang, tr

if TYPE_CHECKING:
    import geopandas as gpd

    from planning.coverage import CoverageResult

__all__ = ["closure_section"]


def _columns() -> list[tuple[str, str, str]]:
    return [
        ("id", tr("map_f_id"), ""),
        ("name", tr("report_col_name"), ""),
        ("population", tr("map_f_residents"), "int"),
        ("what", tr("closure_f_impact"), ""),
        ("response_before_s", tr("closure_f_before"), "s"),
        ("response_after_s", tr("closure_f_after"), "s"),
        ("lost_s", tr("closure_f_seconds_lost"), ".0"),
        ("resident_seconds", tr("closure_col_resident_seconds"), "int"),
        ("nearest_before", tr("closure_col_station_before"), ""),
        ("nearest_after", tr("closure_f_station_after"), ""),
    ]


def _closed_text(roads: gpd.GeoDataFrame | None) -> str:
    if roads is None or not len(roads):
        return tr("closure_no_roads")
    names = roads["name"].dropna().astype(str) if "name" in roads else pd.Series(dtype=str)
    named = names.value_counts().sort_index()
    shown = ("、" if current_lang() == "zh" else ", ").join(named.index[:12])
    more = len(named) - min(len(named), 12)
    text = tr("closure_roads", edges=len(roads), names=shown or "-")
    return text + (tr("closure_more_names", count=more) if more else "")


def closure_section(
    coverage: CoverageResult, *, communities: gpd.GeoDataFrame | None = None, limit: int = 20
) -> str:
    """HTML of the section: what was closed, the key figures, the worst-hit communities.

    ``communities``: the scenario's layer, for the names of the communities.
    """
    extra: Mapping[str, Any] = coverage.extra_layers
    tables: Mapping[str, pd.DataFrame] = coverage.extra_tables
    s = dict(zip(tables["what_if_summary"]["measure"], tables["what_if_summary"]["value"], strict=True))
    parts = [f'<h2 id="road-closures">{html.escape(tr("closure_h"))}</h2>', "<ul>"]
    parts.append(f"<li>{html.escape(_closed_text(extra.get('closed_roads')))}</li>")
    stations = tables.get("what_if_stations")
    if stations is not None and len(stations):
        out, temporary = (
            ", ".join(stations.loc[stations["status"] == status, "station"].astype(str))
            for status in ("out", "temporary")
        )
        if out:
            parts.append(f"<li>{html.escape(tr('closure_stations_out', stations=out))}</li>")
        if temporary:
            parts.append(f"<li>{html.escape(tr('closure_stations_temporary', stations=temporary))}</li>")
    parts.append("</ul>")
    figures = [
        (f"{s.get('residents_losing_coverage', 0):,.0f}", tr("closure_kpi_losing")),
        (f"{s.get('communities_losing_coverage', 0):,.0f}", tr("closure_kpi_communities_losing")),
        (f"{s.get('residents_cut_off', 0):,.0f}", tr("closure_kpi_cut_off")),
        (f"{s.get('resident_seconds_lost', 0):,.0f}", tr("closure_kpi_resident_seconds")),
        (f"{s.get('communities_slower', 0):,.0f}", tr("closure_kpi_slower")),
        (f"{s.get('residents_gaining_coverage', 0):,.0f}", tr("closure_kpi_gaining")),
    ]
    parts.append(
        '<div class="kpis" id="closure-figures">'
        + "".join(f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for v, k in figures)
        + "</div>"
    )
    c = extra.get("what_if_communities")
    if c is None or not len(c):
        return "\n".join(parts)
    c = community_names(c, index_by_id(communities)) if communities is not None else c
    c = pd.DataFrame(c.drop(columns=c.geometry.name)).copy()
    c["k"] = impact_class(c)
    c = c[c["k"].isin(["cut", "lost", "s120", "s30", "s0"])]  # the communities the change hurts
    labels = {
        "cut": tr("closure_class_cut"),
        "lost": tr("closure_class_lost"),
        "s120": tr("closure_class_s120"),
        "s30": tr("closure_class_s30"),
        "s0": tr("closure_class_s0"),
    }
    c["what"] = c["k"].map(labels)
    lost = pd.to_numeric(c["seconds_lost"], errors="coerce")
    c["lost_s"] = lost.where(np.isfinite(lost))
    pop = pd.to_numeric(c["population"], errors="coerce").fillna(0.0)
    c["resident_seconds"] = (pop * c["lost_s"]).where(c["lost_s"].notna())
    order = {"cut": 0, "lost": 1, "s120": 2, "s30": 3, "s0": 4}
    c["_o"] = c["k"].map(order)
    c = c.sort_values(["_o", "resident_seconds", "population"], ascending=[True, False, False])
    c = c.drop(columns="id", errors="ignore").rename_axis("id").reset_index()
    parts.append(f"<h3>{html.escape(tr('closure_h_worst', count=min(limit, len(c))))}</h3>")
    parts.append(html_table(c, _columns(), css_id="closure-communities", limit=limit))
    return "\n".join(parts)
