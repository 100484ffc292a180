"""Map layers of a what-if and of the worst hour: closure impact, closed roads, worst-hour isochrones.

Drawn from a coverage carrying them in its ``extra_layers`` (``riskplan run`` with ``[what_if]``
and at the worst hour: :mod:`service.what_if_run`, :meth:`service.hours_run.HourRun.with_free_flow`;
or a ``coverage.gpkg`` read back):

- ``closure_impact``: the communities filled by what the change costs them (cut off, covered ->
  not covered, seconds lost in bands, coverage gained), from ``what_if_communities``;
- ``closed_roads``: the closed roads' lines;
- ``isochrones_worst_hour`` and ``districts_worst_hour``: the worst hour's isochrone bands and
  station districts, their layer names and the legend naming the hour;
- ``criticality``: the road segments and bridges ranked by what their closure costs
  (:func:`planning.criticality.criticality`, ``riskplan criticality``), coloured by rank.

:func:`closure_specs` returns the specs, :func:`legend_parts` the legend's sections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from . import _layers as lyr
from ._style import band_colours
from .words import tr

if TYPE_CHECKING:
    from planning.coverage import CoverageResult

__all__ = ["CLOSURE_LAYERS", "IMPACT_CLASSES", "closure_specs", "impact_class", "legend_parts"]

#: Layer ids of this module (drawn only from a what-if or a worst-hour run).
CLOSURE_LAYERS = (
    "closure_impact",
    "closed_roads",
    "isochrones_worst_hour",
    "districts_worst_hour",
    "criticality",
)
#: ``(class, fill colour)`` of the closure impact, worst first.
IMPACT_CLASSES: tuple[tuple[str, str], ...] = (
    ("cut", "#67000d"),
    ("lost", "#d7301f"),
    ("s120", "#fc8d59"),
    ("s30", "#fdcc8a"),
    ("s0", "#fef0d9"),
    ("faster", "#c6dbef"),
    ("gain", "#74c476"),
)
_CLOSED_COLOUR = "#111111"
#: ``(last rank, class, line colour, weight)`` of the criticality ranking, most critical first.
RANK_BANDS: tuple[tuple[float, str, str, float], ...] = (
    (5, "r5", "#7a0177", 6.0),
    (20, "r20", "#dd3497", 4.5),
    (np.inf, "rn", "#fa9fb5", 3.0),
)


def impact_class(communities: pd.DataFrame) -> npt.NDArray[np.object_]:
    """The impact class of every community of a what-if (``what_if_communities``); None: unchanged.

    ``cut`` (no station reaches it any more), ``lost`` (covered -> not covered), ``s120`` /
    ``s30`` / ``s0`` (slower by more than 120 s, 30-120 s, up to 30 s), ``faster`` (a temporary
    station nearer), ``gain`` (gains coverage).

    Examples
    --------
    >>> c = pd.DataFrame({"cut_off": [True, False, False, False],
    ...                   "loses_coverage": [False, True, False, False], "gains_coverage": [False] * 4,
    ...                   "seconds_lost": [np.inf, 40.0, 200.0, 0.0]})
    >>> impact_class(c).tolist()
    ['cut', 'lost', 's120', None]
    """
    lost = pd.to_numeric(communities["seconds_lost"], errors="coerce").to_numpy(float)
    lost = np.where(np.isnan(lost), 0.0, lost)
    out = np.full(len(communities), None, dtype=object)
    out[lost > 0] = "s0"
    out[lost > 30] = "s30"
    out[lost > 120] = "s120"
    out[lost < 0] = "faster"
    out[communities["gains_coverage"].to_numpy(bool)] = "gain"
    out[communities["loses_coverage"].to_numpy(bool)] = "lost"
    out[communities["cut_off"].to_numpy(bool)] = "cut"
    return out


def _labels() -> dict[str, str]:
    return {
        "cut": tr("closure_class_cut"),
        "lost": tr("closure_class_lost"),
        "s120": tr("closure_class_s120"),
        "s30": tr("closure_class_s30"),
        "s0": tr("closure_class_s0"),
        "faster": tr("closure_class_faster"),
        "gain": tr("closure_class_gain"),
    }


def _impact_spec(communities: gpd.GeoDataFrame, disp: lyr.Display) -> dict[str, Any] | None:
    c = communities.copy()
    c["k"] = impact_class(c)
    c = c[c["k"].notna()]
    if not len(c):
        return None
    labels = _labels()
    c["cid"] = c.index.astype(str)
    c["label"] = c["name"].fillna(c["cid"]).astype(str) if "name" in c else c["cid"]
    c["what"] = c["k"].map(labels)
    lost = pd.to_numeric(c["seconds_lost"], errors="coerce")
    c["lost_s"] = lost.where(np.isfinite(lost))
    spec = lyr.polygon_spec(
        c,
        layer_id="closure_impact",
        props={
            "label": "n",
            "k": "k",
            "what": "w",
            "population": "pop",
            "response_before_s": "t0",
            "response_after_s": "t1",
            "lost_s": "ls",
            "nearest_after": "st",
        },
        style={"color": "#444", "weight": 1, "fillOpacity": 0.75},
        style_by={"prop": "k", "values": {k: {"fillColor": colour} for k, colour in IMPACT_CLASSES}},
        tooltip={
            "title": "n",
            "fields": [
                ["w", tr("closure_f_impact"), ""],
                ["pop", tr("map_f_residents"), "int"],
                ["t0", tr("closure_f_before"), "s"],
                ["t1", tr("closure_f_after"), "s"],
                ["ls", tr("closure_f_seconds_lost"), ".0"],
                ["st", tr("closure_f_station_after"), ""],
            ],
        },
        display=disp,
    )
    return {**spec, "name": tr("map_layer_closure_impact")}


def _closed_spec(roads: gpd.GeoDataFrame, disp: lyr.Display) -> dict[str, Any]:
    r = roads.copy()
    r["label"] = r["name"].fillna(r["highway"]).fillna(r["edge"].astype(str)) if "name" in r else r["edge"]
    spec = lyr.polygon_spec(
        r,
        layer_id="closed_roads",
        kind="line",
        props={"label": "n", "highway": "h", "edge": "e"},
        style={"color": _CLOSED_COLOUR, "weight": 5, "opacity": 0.9, "dashArray": "2 6", "lineCap": "butt"},
        tooltip={
            "title": "n",
            "prefix": tr("closure_prefix_closed"),
            "fields": [["h", tr("closure_f_road_class"), ""], ["e", tr("closure_f_edge"), "int"]],
        },
        display=disp,
    )
    return {**spec, "name": tr("map_layer_closed_roads")}


def _hour_of(frame: gpd.GeoDataFrame) -> str:
    hours = pd.to_numeric(frame.get("hour", pd.Series(dtype=float)), errors="coerce").dropna()
    return f"{int(hours.iloc[0]):02d}:00" if len(hours) else "?"


def _worst_specs(coverage: CoverageResult, st: Mapping[str, Any], disp: lyr.Display) -> list[dict[str, Any]]:
    out = []
    iso = coverage.extra_layers.get("isochrones_worst_hour")
    if iso is not None and len(iso) and "break_min" in iso:
        hour = _hour_of(iso)
        bands = lyr.dissolve_bands(iso)
        breaks = sorted(bands["break_min"])
        values = {
            f"{b:g}": {"fillColor": colour, "color": colour}
            for b, colour in zip(breaks, band_colours(st, len(breaks)), strict=True)
        }
        bands["b"] = [f"{b:g}" for b in bands["break_min"]]
        bands["label"] = [tr("worst_within_min", minutes=f"{b:g}", hour=hour) for b in bands["break_min"]]
        spec = lyr.polygon_spec(
            bands,
            layer_id="isochrones_worst_hour",
            props={"b": "b", "label": "n", "area_km2": "a", "stations": "s"},
            style={"weight": 1.5, "dashArray": "5 3", "fillOpacity": st["isochrones"]["fill_opacity"]},
            style_by={"prop": "b", "values": values},
            tooltip={
                "title": "n",
                "fields": [["a", tr("map_f_area_km2"), ".1"], ["s", tr("map_f_stations"), ""]],
            },
            display=disp,
        )
        out.append({**spec, "name": tr("map_layer_isochrones_worst_hour", hour=hour), "hour": hour})
    dist = coverage.extra_layers.get("districts_worst_hour")
    if dist is not None and len(dist):
        hour = _hour_of(dist)
        d = dist.copy()
        d["station_id"] = d.index.astype(str)
        colour = st["districts"]["colour"]
        spec = lyr.polygon_spec(
            d,
            layer_id="districts_worst_hour",
            props={"station_id": "n", "area_km2": "a", "farthest_travel_s": "ft", "limit_travel_s": "lt"},
            style={"color": colour, "weight": 2, "dashArray": "2 4", "fillOpacity": 0.0},
            tooltip={
                "title": "n",
                "prefix": tr("map_prefix_district"),
                "fields": [
                    ["a", tr("map_f_area_km2"), ".2"],
                    ["ft", tr("map_f_farthest_travel"), "s"],
                    ["lt", tr("map_f_travel_limit"), "s"],
                ],
            },
            display=disp,
        )
        out.append({**spec, "name": tr("map_layer_districts_worst_hour", hour=hour), "hour": hour})
    return out


def _criticality_spec(ranking: gpd.GeoDataFrame, disp: lyr.Display) -> dict[str, Any]:
    r = ranking.sort_values("rank", ascending=False).copy()  # the most critical drawn on top
    ranks = pd.to_numeric(r["rank"], errors="coerce").to_numpy(float)
    keys = np.array([k for _, k, _, _ in RANK_BANDS], dtype=object)
    r["band"] = keys[np.searchsorted([u for u, _, _, _ in RANK_BANDS], ranks, side="left")]
    r["label"] = r["name"].fillna(r["highway"]) if "name" in r else r["highway"]
    kinds = {"bridge": tr("crit_kind_bridge"), "segment": tr("crit_kind_segment")}
    r["what"] = r["kind"].astype(str).map(kinds).fillna(r["kind"].astype(str))
    spec = lyr.polygon_spec(
        r,
        layer_id="criticality",
        kind="line",
        props={
            "label": "n",
            "band": "b",
            "rank": "r",
            "what": "w",
            "residents_cut_off": "cut",
            "resident_seconds_lost": "rs",
            "residents_losing_coverage": "lc",
        },
        style={"opacity": 0.9, "lineCap": "round"},
        style_by={"prop": "b", "values": {k: {"color": c, "weight": w} for _, k, c, w in RANK_BANDS}},
        tooltip={
            "title": "n",
            "fields": [
                ["r", tr("crit_f_rank"), "int"],
                ["w", tr("crit_f_kind"), ""],
                ["cut", tr("closure_kpi_cut_off"), "int"],
                ["rs", tr("closure_kpi_resident_seconds"), "int"],
                ["lc", tr("closure_kpi_losing"), "int"],
            ],
        },
        display=disp,
    )
    return {**spec, "name": tr("map_layer_criticality")}


def closure_specs(coverage: CoverageResult, st: Mapping[str, Any], disp: lyr.Display) -> list[dict[str, Any]]:
    """The specs of the worst hour's layers and of the what-if's (closure impact, closed roads), if any."""
    extra = getattr(coverage, "extra_layers", {}) or {}
    out = _worst_specs(coverage, st, disp)
    communities = extra.get("what_if_communities")
    if communities is not None and len(communities):
        spec = _impact_spec(communities, disp)
        if spec is not None:
            out.append(spec)
    roads = extra.get("closed_roads")
    if roads is not None and len(roads):
        out.append(_closed_spec(roads, disp))
    ranking = extra.get("criticality")
    if ranking is not None and len(ranking):
        out.append(_criticality_spec(ranking, disp))
    return out


def _row(symbol: str, label: str) -> str:
    return f'<div class="rp-row">{symbol}<span>{escape(label)}</span></div>'


def legend_parts(present: Iterable[str], specs: list[dict[str, Any]]) -> list[str]:
    """The legend's sections of the worst hour (naming it) and of the closure impact."""
    present = set(present)
    parts: list[str] = []
    iso = next((s for s in specs if s["id"] == "isochrones_worst_hour"), None)
    if iso is not None:
        parts.append(f"<h4>{escape(tr('worst_legend_header', hour=iso['hour']))}</h4>")
        for key, value in sorted(iso["styleBy"]["values"].items(), key=lambda kv: float(kv[0])):
            swatch = (
                f'<span class="rp-sw" style="background:{value["fillColor"]};opacity:0.6;'
                'border-style:dashed;border-width:2px"></span>'
            )
            parts.append(_row(swatch, tr("worst_within_min", minutes=key, hour=iso["hour"])))
    if "districts_worst_hour" in present:
        dist = next(s for s in specs if s["id"] == "districts_worst_hour")
        parts.append(
            _row('<span class="rp-ln"></span>', tr("map_layer_districts_worst_hour", hour=dist["hour"]))
        )
    if present & {"closure_impact", "closed_roads"}:
        parts.append(f"<h4>{escape(tr('closure_legend_header'))}</h4>")
    if "closure_impact" in present:
        spec = next(s for s in specs if s["id"] == "closure_impact")
        used = {f["properties"].get("k") for f in spec["data"]["features"]}
        labels = _labels()
        for key, colour in IMPACT_CLASSES:
            if key in used:
                swatch = (
                    f'<span class="rp-sw" style="background:{colour};opacity:0.75;border-color:#444"></span>'
                )
                parts.append(_row(swatch, labels[key]))
    if "closed_roads" in present:
        line = (
            f'<svg width="22" height="10"><line x1="1" y1="5" x2="21" y2="5" stroke="{_CLOSED_COLOUR}" '
            'stroke-width="4" stroke-dasharray="2 4"/></svg>'
        )
        parts.append(_row(line, tr("map_layer_closed_roads")))
    if "criticality" in present:
        parts.append(f"<h4>{escape(tr('map_layer_criticality'))}</h4>")
        labels = {"r5": tr("crit_band_top5"), "r20": tr("crit_band_top20"), "rn": tr("crit_band_rest")}
        for _, key, colour, weight in RANK_BANDS:
            line = (
                f'<svg width="22" height="10"><line x1="1" y1="5" x2="21" y2="5" stroke="{colour}" '
                f'stroke-width="{weight:g}"/></svg>'
            )
            parts.append(_row(line, labels[key]))
    return parts
