"""The diff map of ``riskplan compare``: units better or worse, in diverging colours (issue 19).

With it, the report section "Before and after" and its page (:mod:`maps._compare_report`,
re-exported here): :func:`compare_section`, :func:`write_compare_report`.

Drawn by the same offline runtime as :func:`maps.risk_map` (every asset inlined).
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd

from gis.atomic import atomic_path

from . import _layers as lyr
from ._compare_report import compare_report_html, compare_section, level_table, write_compare_report
from ._style import load_style
from .interactive import _Assets, _bounds, _Controls, _DataLayer

__all__ = [
    "CHANGE_COLOURS",
    "compare_map",
    "compare_report_html",
    "compare_section",
    "level_table",
    "write_compare_map",
    "write_compare_report",
]

#: Diverging colours (ColorBrewer RdBu): a level worse / worse / same / better / a level better.
CHANGE_COLOURS = {
    "level_worse": "#b2182b",
    "worse": "#ef8a62",
    "same": "#f7f7f7",
    "better": "#67a9cf",
    "level_better": "#2166ac",
}
_LABELS = {
    "level_worse": "Worse, up a level",
    "worse": "Worse score, same level",
    "same": "No change",
    "better": "Better score, same level",
    "level_better": "Better, down a level",
}


def _kind(units: gpd.GeoDataFrame) -> list[str]:
    out = []
    for ch, steps in zip(units["change"], units["level_steps"], strict=True):
        out.append(f"level_{ch}" if ch != "same" and steps != 0 else str(ch))
    return out


def compare_map(units: gpd.GeoDataFrame, *, title: str = "Before and after") -> folium.Map:
    """The diff map of :class:`planning.compare.Comparison` ``units``, with the reasons on hover.

    Examples
    --------
    >>> import shapely
    >>> u = gpd.GeoDataFrame({"change": ["worse", "same"], "level_steps": [1, 0], "score_change": [1.0, 0.0],
    ...                       "reasons": ["x", ""]}, geometry=[shapely.box(0, 0, 9, 9)] * 2, crs=32650)
    >>> "level_worse" in compare_map(u).get_root().render()
    True
    """
    st = load_style(None)
    disp = lyr.Display(
        simplify_m=st["display"]["simplify_m"], decimals=st["display"]["decimals"], gcj02=False
    )
    u = units.copy()
    u["uid"] = u.index.astype(str)
    u["kind"] = _kind(u)
    props = {
        "uid": "id",
        "kind": "k",
        "score_change": "ds",
        "level_before": "l0",
        "level_after": "l1",
        "response_time_s_change": "dt",
        "covered_residents_change": "dc",
        "reasons": "why",
    }
    spec = lyr.polygon_spec(
        u,
        layer_id="change",
        props=props,
        style={"color": "#777777", "weight": 0.5, "fillOpacity": 0.8},
        style_by={"prop": "k", "values": {k: {"fillColor": c} for k, c in CHANGE_COLOURS.items()}},
        tooltip={
            "title": "id",
            "fields": [
                ["ds", "Score change", ".2"],
                ["l0", "Level before", ""],
                ["l1", "Level after", ""],
                ["dt", "Response time change (s)", ".0"],
                ["dc", "Covered residents change", "int"],
                ["why", "Why", ""],
            ],
        },
        display=disp,
    )
    bounds = _bounds([{**spec, "id": "units"}])
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2] if bounds else [0.0, 0.0]
    m = folium.Map(location=centre, tiles=None, control_scale=True, zoom_start=12)
    m.default_js = []
    m.default_css = []
    _Assets(st["display"]["background"]).add_to(m)
    _DataLayer(spec, show=True).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    legend = "<details open><summary>Change 变化</summary>" + "".join(
        f'<div class="rp-row"><span class="rp-sw" style="background:{c}"></span>'
        f"<span>{html.escape(_LABELS[k])}</span></div>"
        for k, c in CHANGE_COLOURS.items()
    )
    _Controls(f"<b>{html.escape(title)}</b>", legend + "</details>", bounds, "#c51b7d").add_to(m)
    return m


def write_compare_map(units: gpd.GeoDataFrame, path: str | Path, *, title: str = "Before and after") -> Path:
    """Write :func:`compare_map` to one self-contained HTML file, atomically."""
    path = Path(path)
    page = compare_map(units, title=title).get_root().render()
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
