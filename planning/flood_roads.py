"""Roads a flood closes: the edges whose flood depth exceeds a threshold, for a return period.

:func:`flooded_edges` samples a flood depth raster along every edge of the road graph
(:func:`gis.rasters.line_maxima`) and closes those deeper than ``[flood_roads] closed_depth_m`` of
``planning_norms.toml`` (0.3 m, where Pregnolato et al. (2017)'s depth-disruption function brings a
vehicle to a stop); :func:`flood_closed_graph` gives the graph without them, on which every
analysis (coverage, isochrones, depots) runs as on any graph.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt

from gis.errors import InputError
from gis.network.graph import GraphLike, RoadGraph, as_road_graph
from gis.rasters import line_maxima
from gis.tables import TableOverrides

from .siting import load_norms

__all__ = ["flood_closed_graph", "flooded_edges"]


def flooded_edges(
    graph: GraphLike,
    depth_raster: str | Path,
    *,
    closed_depth_m: float | None = None,
    planning_norms: TableOverrides = None,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """``(closed, depth_m)`` per edge of ``graph``: its largest flood depth and whether it closes.

    Parameters
    ----------
    graph
        The road graph (a :class:`gis.network.RoadGraph` or an osmnx-style graph) with a CRS.
    depth_raster
        A flood (waterlogging) depth raster in metres for one return period.
    closed_depth_m
        Close an edge deeper than this (default ``[flood_roads] closed_depth_m``).
    planning_norms
        Overrides of ``planning/data/planning_norms.toml``.

    Raises
    ------
    InputError
        A negative threshold, a graph without a CRS, a raster that cannot be read.
    """
    g = as_road_graph(graph)
    limit = float(
        load_norms(planning_norms)["flood_roads"]["closed_depth_m"]
        if closed_depth_m is None
        else closed_depth_m
    )
    if not np.isfinite(limit) or limit < 0:
        msg = f"`closed_depth_m` is {closed_depth_m!r}. Fix: give a depth in metres, 0 or more."
        raise InputError(msg)
    if g.crs is None:
        msg = "The road graph has no CRS, so it cannot be laid over a flood raster. Fix: build it with one."
        raise InputError(msg)
    lines = gpd.GeoSeries(g.edge_geometries(), crs=g.crs)
    depth = line_maxima(lines, depth_raster, what="Flood depth raster")
    return depth > limit, depth


def flood_closed_graph(
    graph: GraphLike,
    depth_raster: str | Path,
    *,
    closed_depth_m: float | None = None,
    planning_norms: TableOverrides = None,
) -> tuple[RoadGraph, npt.NDArray[np.bool_]]:
    """The graph without the edges the flood closes (:func:`flooded_edges`), and their mask."""
    g = as_road_graph(graph)
    closed, _ = flooded_edges(g, depth_raster, closed_depth_m=closed_depth_m, planning_norms=planning_norms)
    return g.without_edges(np.flatnonzero(closed)), closed
