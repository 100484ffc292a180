"""The flood on the interactive map: its depth by class and the roads it closes (issue 19).

A run with ``[natural_hazards] closure_return_period`` (:mod:`service.flood_run`) carries, on its
coverage, the layers ``flood_depth`` (the return period's depth raster as polygons of depth
classes: a few thousand vertices where an image overlay of the raster would weigh more and blur
when zoomed) and ``flood_closed_roads`` (the road edges deeper than the closure depth, with the
depth along each). :func:`flood_specs` draws them as the layers ``flood`` and ``flood_roads``;
:func:`legend_parts` adds their legend. A map without them draws neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

import geopandas as gpd
import pandas as pd

from . import _layers as lyr
from .words import tr

__all__ = ["FLOOD_MAP_LAYERS", "flood_specs", "legend_parts"]

#: The map's flood layers (drawn only from a coverage with a flood's closures).
FLOOD_MAP_LAYERS = ("flood", "flood_roads")


def _depth_text(low: float, high: float | None) -> str:
    if high is None or pd.isna(high):
        return tr("flood_depth_above", low=f"{low:g}")
    return tr("flood_depth_between", low=f"{low:g}", high=f"{high:g}")


def _period(layers: Mapping[str, gpd.GeoDataFrame]) -> str:
    roads = layers.get("flood_closed_roads")
    if roads is not None and len(roads) and "return_period" in roads:
        return f"{float(roads['return_period'].iloc[0]):g}"
    return ""


def flood_specs(coverage: Any, style: Mapping[str, Any], display: lyr.Display) -> list[lyr.Spec]:
    """The layers ``flood`` (depth classes) and ``flood_roads`` (closed roads); [] without a flood.

    Parameters
    ----------
    coverage
        A :class:`planning.CoverageResult` whose ``extra_layers`` hold ``flood_depth`` and
        ``flood_closed_roads`` (:func:`service.flood_run.flood_coverage`).
    style
        The map style (its ``[flood]`` colours).
    display
        How the map draws geometries.

    Examples
    --------
    >>> import shapely, types
    >>> from maps._style import load_style
    >>> depth = gpd.GeoDataFrame({"depth_min_m": [0.5], "depth_max_m": [1.5], "area_km2": [0.01]},
    ...                          geometry=[shapely.box(0, 0, 100, 100)], crs=32650)
    >>> cov = types.SimpleNamespace(extra_layers={"flood_depth": depth})
    >>> [s["id"] for s in flood_specs(cov, load_style(), lyr.Display(simplify_m=5, decimals=5, gcj02=False))]
    ['flood']
    """
    layers: Mapping[str, gpd.GeoDataFrame] = getattr(coverage, "extra_layers", {}) or {}
    fl = style["flood"]
    colours: Mapping[str, str] = fl["depth_colours"]
    specs: list[lyr.Spec] = []
    period = _period(layers)
    depth = layers.get("flood_depth")
    if depth is not None and len(depth):
        d = depth.copy()
        d["c"] = [f"{float(v):g}" for v in d["depth_min_m"]]
        d["t"] = [
            _depth_text(float(lo), hi) for lo, hi in zip(d["depth_min_m"], d["depth_max_m"], strict=True)
        ]
        values = {
            c: {"fillColor": colours.get(c, "#6baed6"), "color": colours.get(c, "#6baed6")} for c in d["c"]
        }
        specs.append(
            lyr.polygon_spec(
                d,
                layer_id="flood",
                props={"t": "t", "c": "c", "area_km2": "a"},
                style={"weight": 0.5, "fillOpacity": float(fl["fill_opacity"]), "opacity": 0.6},
                tooltip={
                    "title": "t",
                    "prefix": tr("flood_map_prefix_depth", period=period) if period else "",
                    "fields": [["a", tr("flood_f_area_km2"), ".2"]],
                },
                display=display,
                style_by={"prop": "c", "values": values},
            )
        )
    roads = layers.get("flood_closed_roads")
    if roads is not None and len(roads):
        r = roads[~roads.geometry.normalize().to_wkb().duplicated()].copy()  # a two-way road once
        r["n"] = r["name"].where(r["name"].notna(), tr("flood_unnamed_road")) if "name" in r else None
        specs.append(
            lyr.polygon_spec(
                r,
                layer_id="flood_roads",
                kind="line",
                props={"n": "n", "highway": "h", "depth_m": "dm"},
                style={"color": fl["closed_road_colour"], "weight": 3, "opacity": 0.9},
                tooltip={
                    "title": "n",
                    "prefix": tr("flood_map_prefix_closed", period=period) if period else "",
                    "fields": [["dm", tr("flood_f_depth_m"), ".2"], ["h", tr("flood_f_road_class"), ""]],
                },
                display=display,
            )
        )
    return specs


def legend_parts(style: Mapping[str, Any], present: Iterable[str], specs: list[lyr.Spec]) -> list[str]:
    """The legend's flood section: one swatch per depth class drawn and the closed roads."""
    present = set(present)
    if not present & set(FLOOD_MAP_LAYERS):
        return []
    fl = style["flood"]
    parts = [f"<h4>{escape(tr('flood_legend'))}</h4>"]
    flood = next((s for s in specs if s["id"] == "flood"), None)
    if flood is not None:
        seen: dict[str, str] = {}
        for f in flood["data"]["features"]:
            seen.setdefault(str(f["properties"].get("c")), str(f["properties"].get("t", "")))
        for c, text in sorted(seen.items(), key=lambda kv: float(kv[0])):
            colour = fl["depth_colours"].get(c, "#6baed6")
            parts.append(
                f'<div class="rp-row"><span class="rp-sw" style="background:{escape(colour)};'
                f'opacity:{float(fl["fill_opacity"]):g};border-color:#777"></span>'
                f"<span>{escape(text)}</span></div>"
            )
    if "flood_roads" in present:
        parts.append(
            f'<div class="rp-row"><span class="rp-ln" style="border-color:{escape(fl["closed_road_colour"])};'
            f'border-top-width:3px"></span><span>{escape(tr("map_layer_flood_roads"))}</span></div>'
        )
    return parts
