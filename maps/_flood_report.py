"""The report's section "Floods": residents affected, roads closed, coverage lost, depots cut off (issue 19).

Drawn from the run's flood figures (:mod:`service.flood_run`, carried on the coverage): the
residents affected per return period and a year in expectation (``flood_residents``), the roads
the closure return period's flood closes (``flood_closed_roads``), the communities that lose
fire-engine coverage or are cut off from every station (``flood_communities``, the what-if's
difference) and the communities the depot plan's flood cuts off from every depot
(``flood_cut_off`` of the depot plan). Empty without any of them.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from ._html import html_table
from .words import tr

__all__ = ["flood_section"]


def _residents_table(t: pd.DataFrame) -> str:
    t = t.copy()
    t["what"] = [
        tr("flood_expected_annual")
        if str(p) == "expected_annual"
        else tr("flood_return_period_years", period=f"{float(p):g}")
        for p in t["return_period"]
    ]
    return html_table(
        t,
        [
            ("what", tr("flood_col_flood"), ""),
            ("residents_affected", tr("flood_col_residents_affected"), "int"),
            ("units_affected", tr("flood_col_units_affected"), "int"),
        ],
        css_id="flood-residents",
    )


def _closure(layers: dict[str, Any], tables: dict[str, Any], communities: Any) -> list[str]:
    s = dict(zip(tables["flood_summary"]["measure"], tables["flood_summary"]["value"], strict=True))
    roads = layers.get("flood_closed_roads")
    if roads is not None and len(roads):  # both directions of a two-way road: one section
        roads = roads[~roads.geometry.normalize().to_wkb().duplicated()]
    km = float(roads.geometry.length.sum() / 1000.0) if roads is not None and len(roads) else 0.0
    period = f"{float(s['return_period']):g}"
    parts = [
        "<p>"
        + html.escape(
            tr(
                "flood_closure_text",
                period=period,
                edges=f"{int(s['closed_edges']):,}",
                km=f"{km:,.1f}",
                residents=f"{s['residents_losing_coverage']:,.0f}",
                communities=f"{int(s['communities_losing_coverage'])}",
                cut=f"{s['residents_cut_off']:,.0f}",
                seconds=f"{s['resident_seconds_lost']:,.0f}",
            )
        )
        + "</p>"
    ]
    com = layers.get("flood_communities")
    if com is not None and len(com):
        hit = com[com["loses_coverage"].astype(bool) | com["cut_off"].astype(bool)].copy()
        if communities is not None and "name" in communities and "name" not in hit:
            hit["name"] = communities["name"].reindex(hit.index)
        hit = hit.sort_values("population", ascending=False).rename_axis("id").reset_index()
        hit["state"] = np.where(
            hit["cut_off"].astype(bool), tr("flood_state_cut_off"), tr("flood_state_loses_coverage")
        )
        parts.append(f"<h3>{html.escape(tr('flood_h_communities', count=len(hit)))}</h3>")
        parts.append(
            html_table(
                hit,
                [
                    ("id", tr("map_f_id"), ""),
                    ("name", tr("report_col_name"), ""),
                    ("population", tr("map_f_residents"), "int"),
                    ("response_before_s", tr("flood_col_before"), "s"),
                    ("response_after_s", tr("flood_col_after"), "s"),
                    ("state", tr("flood_col_state"), ""),
                ],
                css_id="flood-communities",
                limit=30,
            )
        )
    if roads is not None and len(roads):
        r = roads.assign(
            road=roads["name"].where(roads["name"].notna(), tr("flood_unnamed_road"))
            if "name" in roads
            else tr("flood_unnamed_road"),
            km=roads.geometry.length / 1000.0,
        )
        by = (
            r.groupby("road", dropna=False)
            .agg(edges=("km", "size"), km=("km", "sum"), depth_m=("depth_m", "max"))
            .sort_values("depth_m", ascending=False)
            .reset_index()
        )
        parts.append(f"<h3>{html.escape(tr('flood_h_roads', count=len(by)))}</h3>")
        parts.append(
            html_table(
                by,
                [
                    ("road", tr("flood_col_road"), ""),
                    ("edges", tr("flood_col_edges"), "int"),
                    ("km", tr("flood_col_km"), ".2"),
                    ("depth_m", tr("flood_f_depth_m"), ".2"),
                ],
                css_id="flood-roads",
                limit=20,
            )
        )
    return parts


def _depots(depot_plan: Any, communities: Any) -> list[str]:
    c = getattr(depot_plan, "communities", None)
    if c is None or "flood_cut_off" not in c:
        return []
    cut = c[c["flood_cut_off"].astype(bool)].copy()
    if communities is not None and "name" in communities and "name" not in cut:
        cut["name"] = communities["name"].reindex(cut.index)
    parts = [
        f"<h3>{html.escape(tr('flood_h_depots'))}</h3><p>"
        + html.escape(
            tr(
                "flood_depots_text",
                count=len(cut),
                people=f"{float(cut['relocate_people'].sum()) if len(cut) else 0.0:,.0f}",
            )
        )
        + "</p>"
    ]
    if len(cut):
        cut = cut.sort_values("relocate_people", ascending=False).rename_axis("id").reset_index()
        parts.append(
            html_table(
                cut,
                [
                    ("id", tr("map_f_id"), ""),
                    ("name", tr("report_col_name"), ""),
                    ("relocate_people", tr("flood_col_relocate"), "int"),
                    ("nearest_depot_open_h", tr("flood_col_open_hours"), ".2"),
                ],
                css_id="flood-depots",
                limit=30,
            )
        )
    return parts


def flood_section(coverage: Any, depot_plan: Any = None, *, communities: Any = None) -> str:
    """The section "Floods" as HTML, or "" when the run has no flood figures.

    Parameters
    ----------
    coverage
        The run's coverage, with the flood's layers and tables (:mod:`service.flood_run`).
    depot_plan
        The depot plan; its ``flood_cut_off`` communities are listed when it planned on the
        flooded roads.
    communities
        The scenario's communities indexed by id (their names).
    """
    layers = dict(getattr(coverage, "extra_layers", {}) or {})
    tables = dict(getattr(coverage, "extra_tables", {}) or {})
    residents = tables.get("flood_residents")
    depots = _depots(depot_plan, communities)
    if residents is None and "flood_summary" not in tables and not depots:
        return ""
    parts = [f'<h2 id="floods">{html.escape(tr("flood_report_h"))}</h2>']
    if residents is not None and len(residents):
        parts.append(f"<h3>{html.escape(tr('flood_h_residents'))}</h3>" + _residents_table(residents))
    if "flood_summary" in tables:
        parts += _closure(layers, tables, communities)
    parts += depots
    return "\n".join(parts)
