"""The risk-units layer of the interactive map: every unit, or square blocks of units at province size.

A layer of more units than the display's polygon budget is drawn as blocks, each coloured by the
highest level within it, so that a red unit is never hidden and the page stays light.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from ._layers import Display, Spec, _short, feature_collection
from .words import level_label, tr

__all__ = ["units_spec"]


def units_spec(units: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display) -> Spec:
    """Risk units coloured by level, with the score's components and top hazard categories.

    A layer of more units than ``display.max_polygons`` (a province's 500 m grid) is drawn as
    square blocks of several units, each coloured by the highest level within it (a risk map
    must not hide a red unit) with its unit count, residents and red units, so that the page
    stays light; the spec's ``note`` says so.

    Examples
    --------
    >>> from maps._style import load_style
    >>> cells = gpd.GeoDataFrame(
    ...     {"level": ["red", "blue", "blue"], "score": [90.0, 20.0, 10.0], "population": [5, 6, 7]},
    ...     geometry=[shapely.box(0, 0, 500, 500), shapely.box(500, 0, 1000, 500),
    ...               shapely.box(2000, 0, 2500, 500)], crs=32650)
    >>> spec = units_spec(cells, load_style(), Display(simplify_m=5, decimals=5, gcj02=False, max_polygons=2))
    >>> [(f["properties"]["lv"], f["properties"]["units"]) for f in spec["data"]["features"]]
    [('red', 2), ('blue', 1)]
    >>> spec["note"][:56]
    'Risk units: 3 units drawn as 2 blocks of 1,000 m showing'
    """
    if display.max_polygons and len(units) > display.max_polygons:
        return _block_units_spec(units, style, display)
    u = units.copy()
    u["lv"] = u["level"].astype(str)
    u["level_label"] = [level_label(lv) for lv in u["lv"]]
    u["uid"] = u.index.astype(str)
    shares = [c for c in u.columns if c.startswith("share_")]
    cats = style.get("hazard_categories", {})
    if shares:
        values = u[shares].to_numpy(float)
        names = [c.removeprefix("share_") for c in shares]
        tops = []
        sep, none_nearby = tr("map_list_sep"), tr("map_none_nearby")
        for row in values:
            order = np.argsort(-np.nan_to_num(row))[:3]
            parts = [
                f"{_short(cats, names[j])} {row[j]:.0%}"
                for j in order
                if np.isfinite(row[j]) and row[j] >= 0.05
            ]
            tops.append(sep.join(parts) or none_nearby)
        u["top_categories"] = tops
    props = {
        "uid": "id",
        "name": "n",
        "lv": "lv",
        "level_label": "level",
        "score": "score",
        "percentile": "pct",
        "rank": "rank",
        "hazard_vs_median": "hz",
        "exposure_factor_vs_median": "ex",
        "vulnerability_factor_vs_median": "vu",
        "response_factor_vs_median": "rf",
        "response_time_s": "t",
        "population": "pop",
        "top_categories": "top",
    }
    levels = style["risk_levels"]
    return {
        "id": "units",
        "kind": "polygon",
        "cls": "rp-units",
        "style": {"color": "#ffffff", "weight": 0.6, "opacity": 0.9, "fillOpacity": 0.62},
        "styleBy": {"prop": "lv", "values": {k: {"fillColor": v["colour"]} for k, v in levels.items()}},
        "tooltip": {
            "title": "n" if "name" in u.columns else "id",
            "fields": [
                ["id", tr("map_f_unit"), ""],
                ["level", tr("map_f_risk_level"), ""],
                ["score", tr("map_f_score"), ".1"],
                ["pct", tr("map_f_percentile"), ".0"],
                ["rank", tr("map_f_rank"), "int"],
                ["hz", tr("map_f_hazard"), "x"],
                ["ex", tr("map_f_exposure"), "x"],
                ["vu", tr("map_f_vulnerability"), "x"],
                ["rf", tr("map_f_response"), "x"],
                ["t", tr("map_f_first_engine"), "s"],
                ["pop", tr("map_f_residents"), "int"],
                ["top", tr("map_f_top_hazards"), ""],
            ],
        },
        "data": feature_collection(u, props, display, digits=2),
    }


def _block_size_m(xy: npt.NDArray[np.float64], typical_m: float, budget: int) -> float:
    """Side of square blocks holding points ``xy`` in at most ``budget`` blocks: a round number of metres."""
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    side = max(typical_m, 1.0) * math.ceil(math.sqrt(len(xy) / budget))
    while math.ceil((x1 - x0) / side + 1) * math.ceil((y1 - y0) / side + 1) > 4 * budget:
        side *= 1.5
    nice = 10 ** math.floor(math.log10(side))
    side = next(nice * k for k in (1, 2, 2.5, 5, 10) if nice * k >= side)
    while len(np.unique(np.floor(xy / side), axis=0)) > budget:  # occupied blocks over budget: grow
        side *= 2
    return float(side)


def _block_units_spec(units: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display) -> Spec:
    levels = style["risk_levels"]
    rank = {k: i for i, k in enumerate(levels)}  # red first: the highest level has rank 0
    geoms = units.geometry.to_numpy()
    xy = shapely.get_coordinates(shapely.centroid(geoms))
    side = _block_size_m(xy, float(np.sqrt(np.median(shapely.area(geoms)))), display.max_polygons)
    lv = units["level"].astype(str)
    frame = pd.DataFrame(
        {
            "bx": np.floor(xy[:, 0] / side).astype(np.int64),
            "by": np.floor(xy[:, 1] / side).astype(np.int64),
            "rank": lv.map(rank).fillna(len(rank)).to_numpy(),
            "red": (lv == next(iter(levels))).to_numpy(),
            "population": units["population"].to_numpy(float) if "population" in units else 0.0,
            "score": units["score"].to_numpy(float) if "score" in units else np.nan,
        }
    )
    blocks = frame.groupby(["bx", "by"], sort=True).agg(
        rank=("rank", "min"),
        units=("rank", "size"),
        red=("red", "sum"),
        population=("population", "sum"),
        score_max=("score", "max"),
    )
    blocks = blocks.sort_values("rank", kind="stable").reset_index()
    names = [*levels, "none"]
    blocks["lv"] = [names[int(r)] for r in blocks["rank"]]
    blocks["level_label"] = [level_label(v) for v in blocks["lv"]]
    bx, by = blocks["bx"].to_numpy() * side, blocks["by"].to_numpy() * side
    merged = gpd.GeoDataFrame(blocks, geometry=shapely.box(bx, by, bx + side, by + side), crs=units.crs)
    props = {
        "lv": "lv",
        "level_label": "level",
        "units": "units",
        "red": "red",
        "population": "pop",
        "score_max": "smax",
    }
    note = tr(
        "map_note_blocks",
        units=f"{len(units):,}",
        blocks=f"{len(merged):,}",
        side_m=f"{side:,.0f}",
        limit=f"{display.max_polygons:,}",
    )
    return {
        "id": "units",
        "kind": "polygon",
        "cls": "rp-units",
        "style": {"color": "#ffffff", "weight": 0.3, "opacity": 0.6, "fillOpacity": 0.62},
        "styleBy": {"prop": "lv", "values": {k: {"fillColor": v["colour"]} for k, v in levels.items()}},
        "tooltip": {
            "title": "level",
            "prefix": tr("map_prefix_block"),
            "fields": [
                ["units", tr("map_f_units_in_block"), "int"],
                ["red", tr("map_f_red_units"), "int"],
                ["pop", tr("map_f_residents"), "int"],
                ["smax", tr("map_f_highest_score"), ".1"],
            ],
        },
        "data": feature_collection(
            merged, props, Display(simplify_m=0, decimals=display.decimals, gcj02=display.gcj02), digits=2
        ),
        "note": note,
    }
