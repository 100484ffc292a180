"""Isochrones built from the reached road edges, and the population inside each band.

For each station and break, every directed edge whose start is reached within the budget
contributes the part of it that the engine can drive before the time runs out (whole edges,
and partial edges cut at the remaining time). The reached road is buffered into polygons on a
fine grid and small holes (street blocks) are filled: the result follows the road network,
unlike a hull of reached nodes, and never jumps a river without a bridge.

Each pixel within the buffer of a road is tied once per graph to its nearest edges (every edge
at the minimum distance; both directions of a two-way road) and the point on them nearest to
its centre, by array arithmetic over the edges' segments band by band of the grid
(:mod:`planning._edge_pixels`, GEOS's distance and ``line_locate_point`` formulas), where one
GEOS nearest query per pixel took 50-100 us on the 3 M-node demo province (docs/scale.md has the
figures). Against that query, the only difference is on ties: GEOS's nearest query
sometimes keeps one direction of a two-way road where both lie at the same distance to 1e-13 m;
here both count (tests/test_province_rasters.py). Then each station's polygon is a vectorised
minimum over the pixels that its reached nodes lead to.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError

from ._edge_pixels import nearest_edges, twins
from .travel import RoadMatrix, TargetsBySources, road_matrix

if TYPE_CHECKING:
    from gis.network.graph import GraphLike

__all__ = ["band_population", "isochrones"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Raster:
    """Pixels within ``buffer_m`` of a road, each tied to its nearest edge(s) and the position on them.

    Pixels are in row-major order of the grid (``row``, then ``col``); pixel ``(row, col)`` is the
    square ``x_edges[col] .. x_edges[col + 1]``, ``y_edges[row] .. y_edges[row + 1]``. The pair
    arrays hold one entry per (pixel, nearest edge), grouped by pixel in the pixels' order.
    """

    x_edges: FloatArray
    y_edges: FloatArray
    col: npt.NDArray[np.int64]  # grid column and row of each pixel, (p,)
    row: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]  # first pair of each pixel in the pair arrays
    pixel: npt.NDArray[np.int64]  # pair arrays: the pixel (index into col / row), the edge's start
    u: npt.NDArray[np.int64]  # node, and the cost from it to the point nearest to the pixel
    along: FloatArray


# rasters depend on the road geometry only: built once per road matrix and grid, like its STRtree
_RASTERS: weakref.WeakKeyDictionary[RoadMatrix, dict[tuple[float, float], _Raster]] = (
    weakref.WeakKeyDictionary()
)


def _raster(m: RoadMatrix, pixel_m: float, buffer_m: float) -> _Raster:
    per_matrix = _RASTERS.setdefault(m, {})
    key = (float(pixel_m), float(buffer_m))
    if key not in per_matrix:
        per_matrix[key] = _build_raster(m, pixel_m, buffer_m)
    return per_matrix[key]


#: Pixels of the whole-graph grid above which the isochrones of a chunked search draw only the
#: pixels that the reached roads can touch (a 4,000 x 4,000 grid; the demo city's is far smaller).
RASTER_MAX_PIXELS = 16_000_000


def _grid(m: RoadMatrix, pixel_m: float, buffer_m: float) -> tuple[FloatArray, FloatArray]:
    """Pixel centres (x, y) of the grid over the whole graph: the same grid whatever is drawn."""
    x0, y0 = np.nanmin(m.xy, axis=0) - buffer_m
    x1, y1 = np.nanmax(m.xy, axis=0) + buffer_m
    half = pixel_m / 2
    return np.arange(x0, x1, pixel_m) + half, np.arange(y0, y1, pixel_m) + half


def _build_raster(
    m: RoadMatrix, pixel_m: float, buffer_m: float, only: npt.NDArray[np.int64] | None = None
) -> _Raster:
    """The raster of the whole grid, or of the pixels ``only`` (flat row-major indices, sorted).

    Each pixel goes to every edge nearest to its centre within ``buffer_m`` (both directions of
    a two-way road tie), at the point of the edge nearest to it: GEOS's nearest-edge query and
    ``line_locate_point``, computed over the edges' segments as arrays
    (:func:`planning._edge_pixels.nearest_edges`), band by band of the grid.
    """
    cx, cy = _grid(m, pixel_m, buffer_m)
    half = pixel_m / 2
    nx_, ny_ = len(cx), len(cy)
    mask = None
    if only is not None:
        mask = np.zeros(nx_ * ny_, dtype=bool)
        mask[only] = True
    graph = m.graph
    xy, offsets = graph.geometry_xy, graph.geometry_offsets
    twin = twins(xy, offsets, m.edge_uv)
    pix, edge, frac = nearest_edges(
        xy, offsets, cx, cy, pixel_m=pixel_m, buffer_m=buffer_m, only=mask, twin=twin
    )
    starts = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]]) if len(pix) else np.empty(0, np.int64)
    used = pix[starts].astype(np.int64)
    pixel = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(np.r_[starts, len(pix)]))
    return _Raster(
        np.r_[cx - half, cx[-1:] + half],
        np.r_[cy - half, cy[-1:] + half],
        used % nx_,
        used // nx_,
        starts,
        pixel,
        m.edge_uv[edge, 0],
        frac * m.edge_cost[edge],
    )


def _reachable_pixels(
    m: RoadMatrix, reached: npt.NDArray[np.bool_], pixel_m: float, buffer_m: float
) -> npt.NDArray[np.int64]:
    """Flat indices of the pixels that roads out of the ``reached`` nodes can bring into an isochrone.

    A pixel is drawn through its nearest edge ``u -> v`` only when ``u`` is reached, and it lies
    within ``buffer_m`` of that edge, whose line stays within its length of ``u``: so within a
    square of half-side ``length + buffer_m`` (one pixel to spare) around some reached ``u``.
    """
    cx, cy = _grid(m, pixel_m, buffer_m)
    nx_, ny_ = len(cx), len(cy)
    out_edges = np.flatnonzero(reached[m.edge_uv[:, 0]])
    u = m.edge_uv[out_edges, 0]
    reach = np.zeros(m.n_nodes)
    np.maximum.at(reach, u, shapely.length(m.edge_geometry[out_edges]))
    nodes = np.flatnonzero(reached)
    r = reach[nodes] + buffer_m + pixel_m
    x, y = m.xy[nodes, 0], m.xy[nodes, 1]
    x0, y0 = cx[0] - pixel_m / 2, cy[0] - pixel_m / 2
    c0 = np.clip(np.floor((x - r - x0) / pixel_m), 0, nx_).astype(np.int64)
    c1 = np.clip(np.floor((x + r - x0) / pixel_m) + 1, 0, nx_).astype(np.int64)
    r0 = np.clip(np.floor((y - r - y0) / pixel_m), 0, ny_).astype(np.int64)
    r1 = np.clip(np.floor((y + r - y0) / pixel_m) + 1, 0, ny_).astype(np.int64)
    # the squares painted at once: a 2-D difference array, summed along both axes
    paint = np.zeros((ny_ + 1, nx_ + 1), np.int32)
    np.add.at(paint, (r0, c0), 1)
    np.add.at(paint, (r0, c1), -1)
    np.add.at(paint, (r1, c0), -1)
    np.add.at(paint, (r1, c1), 1)
    covered = np.cumsum(np.cumsum(paint, axis=0, dtype=np.int32), axis=1, dtype=np.int32)[:ny_, :nx_] > 0
    return np.flatnonzero(covered.ravel()).astype(np.int64)


def _pixel_polygon(grid: _Raster, inside: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> shapely.Geometry:
    """Union of the ``inside`` pixels (a mask, or ascending indices): rectangles of runs, coverage union.

    Each run's top and bottom sides keep a vertex at every pixel corner, so runs of adjacent rows
    share exact segments (a valid coverage); the result equals the union of the pixel squares.
    """
    col, row = grid.col[inside], grid.row[inside]  # row-major, so runs are consecutive
    if len(col) == 0:
        return shapely.Polygon()
    brk = np.r_[True, (row[1:] != row[:-1]) | (col[1:] != col[:-1] + 1)]
    start = np.flatnonzero(brk)
    length = np.diff(np.r_[start, len(col)])
    n = 2 * length + 3  # bottom side left to right, top side right to left, closing point
    ring = np.repeat(np.arange(len(start)), n)
    pos = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    run_len, run_col, run_row = np.repeat(length, n), np.repeat(col[start], n), np.repeat(row[start], n)
    bottom = pos <= run_len
    closing = pos == 2 * run_len + 2
    xs = np.where(closing, run_col, np.where(bottom, run_col + pos, run_col + 2 * run_len + 1 - pos))
    ys = np.where(bottom | closing, run_row, run_row + 1)
    runs = shapely.polygons(shapely.linearrings(grid.x_edges[xs], grid.y_edges[ys], indices=ring))
    return shapely.coverage_union_all(runs)


def _fill_holes(poly: shapely.Geometry, max_hole_m2: float) -> shapely.Geometry:
    if max_hole_m2 <= 0 or poly.is_empty:
        return poly
    kept = [
        shapely.Polygon(p.exterior, [r for r in p.interiors if shapely.Polygon(r).area > max_hole_m2])
        for p in shapely.get_parts(poly)
    ]
    return shapely.union_all(kept) if len(kept) > 1 else kept[0]


def isochrones(
    graph: GraphLike,
    sources: pd.Series,
    *,
    breaks_s: Sequence[float] = (180.0, 300.0, 480.0),
    offset_s: float = 0.0,
    speed_factor: float = 1.0,
    buffer_m: float = 100.0,
    pixel_m: float = 50.0,
    max_hole_m2: float = 250_000.0,
    edge_weight: str = "travel_time_s",
    node_times: TargetsBySources | None = None,
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
    edge_weight
        Edge attribute to minimise (seconds).
    node_times
        Precomputed ``(n, len(sources))`` travel times at speed factor 1 (saves a search).
        Without them the stations are searched 16 at a time, each only as far as the largest
        break: memory is bounded by a chunk of stations x nodes, whatever the number of stations.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per station and break: ``station``, ``break_s``, ``break_min``, ``area_km2``,
        ``n_pixels`` and the polygon, in the graph CRS.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> from planning.snapping import snap_stations
    >>> graph = graph_from_lines(city["roads"])
    >>> nodes = snap_stations(graph, city["fire_stations"])["node"]
    >>> iso = isochrones(graph, nodes.iloc[:1], breaks_s=[180, 300])
    >>> bool(iso["area_km2"].is_monotonic_increasing)
    True
    """
    return _isochrones(
        road_matrix(graph, edge_weight=edge_weight),
        sources,
        breaks_s=breaks_s,
        offset_s=offset_s,
        speed_factor=speed_factor,
        buffer_m=buffer_m,
        pixel_m=pixel_m,
        max_hole_m2=max_hole_m2,
        node_times=node_times,
    )


def _isochrones(
    m: RoadMatrix,
    sources: pd.Series,
    *,
    breaks_s: Sequence[float],
    offset_s: float,
    speed_factor: float,
    buffer_m: float,
    pixel_m: float,
    max_hole_m2: float,
    node_times: TargetsBySources | None,
    chunk_size: int = 16,
    nearest_cost: FloatArray | None = None,
) -> gpd.GeoDataFrame:
    """:func:`isochrones` on a road matrix already looked up.

    ``nearest_cost``: the travel cost of every node from its nearest source at speed factor 1
    (a multi-source search already run), which bounds the pixels drawn on a large grid.
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
    cx, cy = _grid(m, pixel_m, buffer_m)
    if node_times is None and len(cx) * len(cy) > RASTER_MAX_PIXELS:
        # a province: draw only the pixels the reached roads can touch, not the whole grid
        cutoff = _cutoff(breaks[-1], offset_s, speed_factor)
        if nearest_cost is None:
            nearest_cost = m.nearest(m.positions(sources.tolist()), cutoff=cutoff)[0]
        reached = nearest_cost <= cutoff
        grid = _build_raster(m, pixel_m, buffer_m, _reachable_pixels(m, reached, pixel_m, buffer_m))
        log.info("isochrones: %d of %d pixels drawn", len(grid.starts), len(cx) * len(cy))
    else:
        grid = _raster(m, pixel_m, buffer_m)
    rows = []
    chunks = _station_times(
        m,
        sources,
        node_times,
        last_break_s=breaks[-1],
        offset_s=offset_s,
        speed_factor=speed_factor,
        chunk_size=chunk_size,
    )
    for start, times in chunks:
        # the pairs through nodes some station of the chunk reaches (the others are never inside)
        chunk_reached = np.asarray(np.isfinite(times).any(axis=1), dtype=bool)
        through = np.flatnonzero(chunk_reached[grid.u])
        u, along, pixel = grid.u[through], grid.along[through], grid.pixel[through]
        for j in range(times.shape[1]):
            station = sources.index[start + j]
            t = times[u, j]
            ok = np.flatnonzero(np.isfinite(t))
            at, pix = t[ok] + along[ok], pixel[ok]  # grouped by pixel, in the pixels' order
            first = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]]) if len(pix) else ok
            best = np.minimum.reduceat(at, first) if len(pix) else np.empty(0)
            pix = pix[first]
            for b in breaks:
                budget = (b - offset_s) * speed_factor
                inside = pix[best <= budget] if budget > 0 else pix[:0]
                poly = _fill_holes(_pixel_polygon(grid, inside), max_hole_m2)
                rows.append((station, b, b / 60.0, poly.area / 1e6, len(inside), poly))
    out = gpd.GeoDataFrame(
        rows,
        columns=["station", "break_s", "break_min", "area_km2", "n_pixels", "geometry"],
        geometry="geometry",
        crs=m.crs,
    )
    log.info("isochrones: %d stations x %d breaks", len(sources), len(breaks))
    return out


def _cutoff(last_break_s: float, offset_s: float, speed_factor: float) -> float:
    """Graph cost a hair above the travel of the largest break (rounding never drops a node)."""
    return max(last_break_s - offset_s, 0.0) * speed_factor * (1.0 + 1e-9) + 1e-6


def _station_times(
    m: RoadMatrix,
    sources: pd.Series,
    node_times: TargetsBySources | None,
    *,
    last_break_s: float,
    offset_s: float,
    speed_factor: float,
    chunk_size: int,
) -> Iterator[tuple[int, TargetsBySources]]:
    """``(first station, (n, chunk) node times)`` for each chunk of stations.

    Without ``node_times``, each chunk is searched only as far as the largest break (``inf``
    beyond): a pixel within a break is reached through a node within it, so the polygons are
    those of the full search, and memory is one chunk of stations x nodes.
    """
    if node_times is not None:
        yield 0, node_times
        return
    pos = m.positions(sources.tolist())
    cutoff = _cutoff(last_break_s, offset_s, speed_factor)
    step = max(1, int(chunk_size))
    for start in range(0, len(pos), step):
        yield start, m.one_to_all(pos[start : start + step], cutoff=cutoff)


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
