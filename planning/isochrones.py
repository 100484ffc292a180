"""Isochrones built from the reached road edges, and the population inside each band.

For each station and break, every directed edge whose start is reached within the budget
contributes the part of it that the engine can drive before the time runs out (whole edges,
and partial edges cut at the remaining time). The reached road is buffered into polygons on a
fine grid (one STRtree query per graph, then a vectorised minimum per station) and small holes
(street blocks) are filled: the result follows the road network, unlike a hull of reached
nodes, and never jumps a river without a bridge.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis._errors import InputError

from .travel import RoadMatrix, road_matrix

__all__ = ["band_population", "isochrones"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Raster:
    """Pixels within ``buffer_m`` of a road, each tied to its nearest edge(s) and the position on them."""

    boxes: npt.NDArray[np.object_]  # pixel squares, (p,)
    starts: npt.NDArray[np.int64]  # first pair of each pixel in the pair arrays
    pixel: npt.NDArray[np.int64]  # pixel of each run start
    u: npt.NDArray[np.int64]  # pair arrays: start node, weight and fraction of the edge
    w: FloatArray
    frac: FloatArray


def _raster(m: RoadMatrix, pixel_m: float, buffer_m: float) -> _Raster:
    x0, y0 = np.nanmin(m.xy, axis=0) - buffer_m
    x1, y1 = np.nanmax(m.xy, axis=0) + buffer_m
    gx, gy = np.meshgrid(np.arange(x0, x1, pixel_m) + pixel_m / 2, np.arange(y0, y1, pixel_m) + pixel_m / 2)
    cx, cy = gx.ravel(), gy.ravel()
    centres = shapely.points(cx, cy)
    # nearest edges of each pixel (both directions of a two-way road tie)
    pix, edge = m.edge_tree.query_nearest(centres, max_distance=buffer_m, all_matches=True)
    order = np.argsort(pix, kind="stable")
    pix, edge = pix[order], edge[order]
    geoms = m.edge_geometry[edge]
    frac = shapely.line_locate_point(geoms, centres[pix], normalized=True)
    starts = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]]) if len(pix) else np.empty(0, np.int64)
    half = pixel_m / 2
    used = pix[starts]
    boxes = shapely.box(cx[used] - half, cy[used] - half, cx[used] + half, cy[used] + half)
    return _Raster(boxes, starts, used, m.edge_uv[edge, 0], m.edge_weight[edge], frac)


def _fill_holes(poly: shapely.Geometry, max_hole_m2: float) -> shapely.Geometry:
    if max_hole_m2 <= 0 or poly.is_empty:
        return poly
    kept = [
        shapely.Polygon(p.exterior, [r for r in p.interiors if shapely.Polygon(r).area > max_hole_m2])
        for p in shapely.get_parts(poly)
    ]
    return shapely.union_all(kept) if len(kept) > 1 else kept[0]


def isochrones(
    graph: nx.MultiDiGraph,
    sources: pd.Series,
    *,
    breaks_s: Sequence[float] = (180.0, 300.0, 480.0),
    offset_s: float = 0.0,
    speed_factor: float = 1.0,
    buffer_m: float = 100.0,
    pixel_m: float = 50.0,
    max_hole_m2: float = 250_000.0,
    weight: str = "travel_time_s",
    node_times: FloatArray | None = None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons of each source for several time breaks, built from the reached edges.

    The road is reached along each directed edge from its start node, partial edges up to the
    point where the time runs out. The polygon of a break is the band of ``buffer_m`` around
    the reached road, drawn on a grid of ``pixel_m`` squares: a square is in when the nearest
    road to its centre is reached at the point nearest to it. Holes smaller than
    ``max_hole_m2`` (street blocks) are filled. Areas grow with the break by construction.

    Parameters
    ----------
    graph
        Road graph in a metric CRS.
    sources
        Source node of each station, indexed by station id.
    breaks_s
        Time breaks, seconds, including ``offset_s`` (so with the GB 51080 turnout of 60 s as
        offset, the 300 s break is the standard's reach).
    offset_s
        Time spent before driving (turnout); breaks below it give empty polygons.
    speed_factor
        Engine speed relative to the edge speeds (travel time divided by it).
    buffer_m
        Half-width of the band drawn around reached roads.
    pixel_m
        Grid resolution of the band.
    max_hole_m2
        Holes smaller than this are filled; 0 keeps every hole.
    weight
        Edge weight (seconds).
    node_times
        Precomputed ``(len(sources), n)`` travel times at speed factor 1 (saves a search).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per station and break: ``station``, ``break_s``, ``break_min``, ``area_km2``,
        ``n_pixels`` and the polygon, in the graph CRS.

    Examples
    --------
    >>> from gis import demo_city, graph_from_lines
    >>> from planning.travel import snap_stations
    >>> city = demo_city(n_road_nodes=2000)
    >>> graph = graph_from_lines(city["roads"])
    >>> nodes = snap_stations(graph, city["fire_stations"].set_index("id"))["node"]
    >>> iso = isochrones(graph, nodes.iloc[:1], breaks_s=[180, 300])
    >>> bool(iso["area_km2"].is_monotonic_increasing)
    True
    """
    breaks = sorted(float(b) for b in breaks_s)
    if not breaks or breaks[0] <= 0:
        msg = f"`breaks_s` is {list(breaks_s)}. Fix: give one or more positive times in seconds."
        raise InputError(msg)
    if speed_factor <= 0 or buffer_m <= 0 or pixel_m <= 0:
        msg = (
            f"`speed_factor`, `buffer_m` and `pixel_m` must be positive (got {speed_factor}, "
            f"{buffer_m}, {pixel_m}). Fix: pass positive values."
        )
        raise InputError(msg)
    m = road_matrix(graph, weight=weight)
    if node_times is None:
        node_times = m.one_to_all(m.positions(sources.tolist()))
    grid = _raster(m, pixel_m, buffer_m)
    rows = []
    for i, station in enumerate(sources.index):
        if len(grid.starts):
            at = node_times[i, grid.u] + grid.frac * grid.w
            best = np.minimum.reduceat(at, grid.starts)
        else:
            best = np.empty(0)
        for b in breaks:
            budget = (b - offset_s) * speed_factor
            inside = best <= budget if budget > 0 else np.zeros(len(best), bool)
            poly = shapely.coverage_union_all(grid.boxes[inside]) if inside.any() else shapely.Polygon()
            poly = _fill_holes(poly, max_hole_m2)
            rows.append((station, b, b / 60.0, poly.area / 1e6, int(inside.sum()), poly))
    out = gpd.GeoDataFrame(
        rows,
        columns=["station", "break_s", "break_min", "area_km2", "n_pixels", "geometry"],
        geometry="geometry",
        crs=m.crs,
    )
    log.info("isochrones: %d stations x %d breaks", len(sources), len(breaks))
    return out


def band_population(
    iso: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    population: str = "population",
) -> gpd.GeoDataFrame:
    """Add the population inside each isochrone and each band, by area-weighted overlap.

    A community contributes ``population * area(overlap) / area(community)``. The band of a
    break is the ring between it and the station's previous break.

    Returns
    -------
    geopandas.GeoDataFrame
        ``iso`` with ``population_within`` and ``population_band`` (on ``iso``'s index).

    Examples
    --------
    >>> sq = shapely.box(0, 0, 100, 100)
    >>> iso = gpd.GeoDataFrame({"station": ["A", "A"], "break_s": [60.0, 120.0]},
    ...     geometry=[shapely.box(0, 0, 50, 100), sq], crs=32649)
    >>> com = gpd.GeoDataFrame({"population": [1000]}, geometry=[sq], crs=32649)
    >>> band_population(iso, com)[["population_within", "population_band"]].to_numpy().tolist()
    [[500.0, 500.0], [1000.0, 500.0]]
    """
    if population not in communities.columns:
        msg = f"Layer `communities` has no `{population}` column. Fix: add it or pass `population=`."
        raise InputError(msg)
    com = communities.to_crs(iso.crs) if communities.crs != iso.crs else communities
    cgeom = com.geometry.to_numpy()
    pop = com[population].to_numpy(float)
    carea = shapely.area(cgeom)
    igeom = iso.geometry.to_numpy()
    tree = shapely.STRtree(cgeom)
    left, right = tree.query(igeom, predicate="intersects")
    share = np.zeros(len(left))
    if len(left):
        inter = shapely.area(shapely.intersection(igeom[left], cgeom[right]))
        share = np.divide(inter, carea[right], out=np.zeros_like(inter), where=carea[right] > 0)
    within = np.bincount(left, weights=share * pop[right], minlength=len(iso))
    out = iso.copy()
    out["population_within"] = within
    prev = out.groupby("station", sort=False)["population_within"].shift(1).fillna(0.0)
    out["population_band"] = np.maximum(out["population_within"] - prev, 0.0)
    return out
