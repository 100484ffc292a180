"""Roads a flood closes: the edges whose flood depth exceeds a threshold, for a return period.

:func:`flooded_edges` samples a flood depth raster along every edge of the road graph
(:func:`gis.rasters.line_maxima`) and closes those deeper than ``[flood_roads] closed_depth_m`` of
``planning_norms.toml`` (0.3 m, where Pregnolato et al. (2017)'s depth-disruption function brings a
vehicle to a stop); :func:`flood_closed_graph` gives the graph without them, on which every
analysis (coverage, isochrones, depots) runs as on any graph. :func:`flood_hours` gives the relief
depots' delivery times on that graph (``flood_depth=`` of :func:`planning.plan_depots` and
:func:`planning.depot_tiers.plan_depot_network`): never shorter than on the open roads, and the
communities the flood cuts off from every depot marked as such, never assigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt

from gis.errors import InputError
from gis.network.graph import GraphLike, RoadGraph, as_road_graph
from gis.rasters import line_maxima
from gis.snap import default_max_snap_m
from gis.speech import say
from gis.tables import TableOverrides

from .names import Distance
from .siting import load_norms
from .snapping import snap_points
from .travel import cost_matrix

__all__ = [
    "FloodHours",
    "depot_hours",
    "flood_closed_graph",
    "flood_hours",
    "flooded_edges",
    "mark_cut_off",
]


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


@dataclass(frozen=True, eq=False)
class FloodHours:
    """Road hours from sources (depots) to targets (communities) with a flood's roads closed.

    Attributes
    ----------
    hours
        ``(targets, sources)`` hours on the flood-closed graph, never shorter than ``open_hours``
        (a place whose own road is under water snaps to another one, which could be nearer a
        source: the longer of the two times is kept); ``inf`` in the rows of the places cut off
        and the columns of the sources cut off.
    open_hours
        The same on the open roads.
    cut_off
        Per target: reached from some source on the open roads, from none once the flood closes
        its roads (or its nearest open road is beyond the snap limit).
    sources_cut_off
        Per source: its nearest open road beyond the snap limit (it cannot send anything out).
    closed_edges
        Edges the flood closes.
    """

    hours: npt.NDArray[np.float64]
    open_hours: npt.NDArray[np.float64]
    cut_off: npt.NDArray[np.bool_]
    sources_cut_off: npt.NDArray[np.bool_]
    closed_edges: int


def flood_hours(
    graph: GraphLike,
    sources: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    depth_raster: str | Path,
    *,
    closed_depth_m: float | None = None,
    max_snap_m: float | None = None,
    planning_norms: TableOverrides = None,
) -> FloodHours:
    """Road hours from ``sources`` to ``targets`` on the graph without the roads the flood closes.

    Parameters
    ----------
    graph
        The open road graph.
    sources, targets
        Point layers (depots, communities) in any CRS.
    depth_raster
        The flood's depth raster in metres.
    closed_depth_m, planning_norms
        As in :func:`flooded_edges`.
    max_snap_m
        A place or source whose nearest open road is farther than this (default ``max_snap_m``
        of ``road_speeds.toml``) while its road was within it before the flood is cut off.

    Returns
    -------
    FloodHours
    """
    g = as_road_graph(graph)
    flooded, closed = flood_closed_graph(
        g, depth_raster, closed_depth_m=closed_depth_m, planning_norms=planning_norms
    )
    open_h = cost_matrix(g, sources, targets) / 3600.0
    flood_h = np.maximum(cost_matrix(flooded, sources, targets) / 3600.0, open_h)
    limit = default_max_snap_m() if max_snap_m is None else float(max_snap_m)

    def stranded(points: gpd.GeoDataFrame) -> npt.NDArray[np.bool_]:
        before = snap_points(g, points, max_snap_m=limit)["flagged"].to_numpy(bool)
        after = snap_points(flooded, points, max_snap_m=limit)["flagged"].to_numpy(bool)
        return after & ~before

    sources_cut = stranded(sources)
    flood_h[:, sources_cut] = np.inf
    reached = np.isfinite(open_h).any(axis=1)
    cut = reached & (stranded(targets) | ~np.isfinite(flood_h).any(axis=1))
    flood_h[cut] = np.inf
    return FloodHours(flood_h, open_h, cut, sources_cut, int(closed.sum()))


def depot_hours(
    graph: GraphLike | None,
    depots: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    distance: Distance = "network",
    cfg: TableOverrides = None,
    flood: str | Path | None = None,
    notes: list[str] | None = None,
) -> tuple[npt.NDArray[np.float64], FloodHours | None]:
    """The depot plans' hours ``(communities, depots)``: :func:`cost_matrix` / 3600, or :func:`flood_hours`.

    With ``flood`` (a depth raster) the hours run on the roads the flood leaves open, and a note
    in ``notes`` says how many roads closed and which communities and depots it cut off; the
    :class:`FloodHours` is returned too (None without a flood). ``cfg``: the planning norms.

    Raises
    ------
    InputError
        A flood with straight-line distances or without a road graph.
    """
    if flood is None:
        return cost_matrix(graph, depots, communities, distance=distance, planning_norms=cfg) / 3600.0, None
    if distance != "network" or graph is None:
        msg = (
            f"The depots' delivery times on the flooded roads (`flood_depth` {str(flood)!r}) need the "
            "road network. Fix: plan with `distance='network'` and the road graph, or drop `flood_depth`."
        )
        raise InputError(msg)
    fh = flood_hours(graph, depots, communities, flood, planning_norms=cfg)
    if notes is not None:
        ids = communities.index[fh.cut_off].astype(str).tolist()
        cut_depots = depots.index[fh.sources_cut_off].astype(str).tolist()
        shown = f"{', '.join(ids[:20])}{', ...' if len(ids) > 20 else ''}"
        notes.append(
            say("flood_delivery", raster=Path(flood).name, closed=fh.closed_edges, count=len(ids))
            + (say("flood_delivery_ids", ids=shown) if ids else "")
            + (say("flood_delivery_depots", depots=", ".join(cut_depots)) if cut_depots else "")
        )
    return fh.hours, fh


def mark_cut_off(plan_communities: gpd.GeoDataFrame, flood: FloodHours | None) -> None:
    """Add ``flood_cut_off`` and ``nearest_depot_open_h`` to a depot plan's communities, in place.

    A community the flood cuts off with people to relocate is unmet with the reason ``cut_off``.
    """
    if flood is None:
        return
    c = plan_communities
    c["flood_cut_off"] = flood.cut_off
    c["nearest_depot_open_h"] = flood.open_hours.min(axis=1) if flood.open_hours.shape[1] else np.inf
    c.loc[flood.cut_off & (c["unmet_people"].to_numpy() > 0), "unmet_reason"] = "cut_off"
