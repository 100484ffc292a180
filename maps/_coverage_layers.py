"""Map layers of the coverage stage: response-time bands, isochrones, districts and the places not reached.

:func:`coverage_specs` turns a :class:`planning.CoverageResult` into the layer specs
:func:`maps.risk_map` draws; :func:`uncovered` gathers the communities and area not reached in
time into one layer (hatched on the map).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from . import _layers as lyr
from ._style import band_colours
from .words import tr

if TYPE_CHECKING:
    from planning.coverage import CoverageResult

__all__ = ["coverage_specs", "uncovered"]


def coverage_specs(
    coverage: CoverageResult, st: Mapping[str, Any], disp: lyr.Display
) -> list[dict[str, Any]]:
    out = []
    if len(coverage.isochrones):
        bands = lyr.dissolve_bands(coverage.isochrones)
        breaks = sorted(bands["break_min"])
        values = {
            f"{b:g}": {"fillColor": colour, "color": colour}
            for b, colour in zip(breaks, band_colours(st, len(breaks)), strict=True)
        }
        bands["b"] = [f"{b:g}" for b in bands["break_min"]]
        bands["label"] = [tr("map_within_min", minutes=f"{b:g}") for b in bands["break_min"]]
        out.append(
            lyr.polygon_spec(
                bands,
                layer_id="isochrones",
                props={"b": "b", "label": "n", "area_km2": "a", "stations": "s"},
                style={"weight": 1, "fillOpacity": st["isochrones"]["fill_opacity"]},
                style_by={"prop": "b", "values": values},
                tooltip={
                    "title": "n",
                    "fields": [["a", tr("map_f_area_km2"), ".1"], ["s", tr("map_f_stations"), ""]],
                },
                display=disp,
            )
        )
    if len(coverage.districts):
        d = coverage.districts.copy()
        d["station_id"] = d.index.astype(str)
        d["k"] = "d"
        viol = coverage.violations
        if len(viol):
            msgs = viol.groupby(viol["station"].astype(str))["message"].agg("; ".join)
            d["problems"] = d["station_id"].map(msgs)
        parts = [d]
        if len(coverage.enclaves):
            e = coverage.enclaves.copy()
            e["station_id"] = e["station"].astype(str)
            e["k"] = "e"
            e["problems"] = tr("map_enclave") + e["kind"].astype(str)
            parts.append(e)
        frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=d.crs)
        colour = st["districts"]["colour"]
        out.append(
            lyr.polygon_spec(
                frame,
                layer_id="districts",
                props={
                    "station_id": "n",
                    "k": "k",
                    "area_km2": "a",
                    "cap_km2": "cap",
                    "farthest_travel_s": "ft",
                    "limit_travel_s": "lt",
                    "problems": "p",
                },
                style={"color": colour, "weight": 2, "dashArray": "6 4", "fillOpacity": 0.0},
                style_by={
                    "prop": "k",
                    "values": {"e": {"fillColor": colour, "fillOpacity": 0.25, "weight": 1}},
                },
                tooltip={
                    "title": "n",
                    "prefix": tr("map_prefix_district"),
                    "fields": [
                        ["a", tr("map_f_area_km2"), ".2"],
                        ["cap", tr("map_f_cap_km2"), ".0"],
                        ["ft", tr("map_f_farthest_travel"), "s"],
                        ["lt", tr("map_f_travel_limit"), "s"],
                        ["p", tr("map_f_problems"), ""],
                    ],
                },
                display=disp,
            )
        )
    gaps = uncovered(coverage)
    if len(gaps):
        colour = st["uncovered"]["colour"]
        out.append(
            lyr.polygon_spec(
                gaps,
                layer_id="uncovered",
                props={"label": "n", "population": "pop", "response_time_s": "t", "area_km2": "a"},
                style={
                    "color": colour,
                    "fillColor": colour,
                    "weight": 1.5,
                    "dashArray": "4 3",
                    "fillOpacity": 0.9,
                },
                tooltip={
                    "title": "n",
                    "fields": [
                        ["pop", tr("map_f_residents"), "int"],
                        ["t", tr("map_f_first_engine"), "s"],
                        ["a", tr("map_f_area_km2"), ".2"],
                    ],
                },
                display=disp,
            )
        )
    return out


def uncovered(coverage: CoverageResult) -> gpd.GeoDataFrame:
    """Uncovered communities, and the uncovered part of the area grid as one feature."""
    com = coverage.communities
    gaps = com.loc[~com["covered"].astype(bool)].copy()
    names = gaps["name"].astype(str) if "name" in gaps else gaps.index.astype(str)
    gaps["label"] = tr("map_not_reached_prefix") + names
    gaps["area_km2"] = gaps.geometry.area / 1e6
    frames = [gaps[["label", "population", "response_time_s", "area_km2", "geometry"]]]
    cells = coverage.area_units
    if len(cells) and "covered" in cells:
        bad = cells.loc[~cells["covered"].astype(bool)]
        if len(bad):
            import shapely

            geom = shapely.coverage_union_all(bad.geometry.to_numpy())  # cells: no overlap
            area = float(bad["area_km2"].sum()) if "area_km2" in bad else geom.area / 1e6
            frames.append(
                gpd.GeoDataFrame(
                    {"label": [tr("map_area_not_reached")], "area_km2": [area]},
                    geometry=[geom],
                    crs=cells.crs,
                )
            )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=com.crs)
