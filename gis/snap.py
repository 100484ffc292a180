"""The shared rules of snapping features to the road graph.

The snapping itself is :func:`planning.snap_points`, on the travel-time engine's edge index
(one STRtree per graph). This module holds what every snap obeys, in the ground floor: the
checks of the features (:func:`snap_targets`: a CRS, no missing geometries, a point on the
surface of lines and polygons), the snap limit (:func:`default_max_snap_m`), the distance of a
feature itself to the road (:func:`road_distances`), the flag of features farther than the
limit (:func:`flag_far`, never silently snapped or dropped) and :func:`require_snapped`, which
turns flags into a :class:`gis.errors.SnapError`. :func:`edge_geometries` gives the line of
every edge of a graph.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .errors import CRSError, InputError, SnapError
from .tables import load_table

if TYPE_CHECKING:
    from .network.graph import GraphLike

__all__ = [
    "default_max_snap_m",
    "edge_geometries",
    "flag_far",
    "nearest_distances",
    "require_snapped",
    "road_distances",
    "snap_targets",
]

log = logging.getLogger(__name__)


def edge_geometries(graph: GraphLike) -> tuple[Any, Any]:
    """Return ``(uvk, geoms)``: an (m, 3) int array of edge ends and keys and their LineStrings.

    The lines of :meth:`gis.network.RoadGraph.edge_geometries`, in edge order; a networkx
    graph is converted (its straight edges, without ``geometry``, get a segment between their
    nodes).

    Examples
    --------
    >>> import networkx as nx
    >>> G = nx.MultiDiGraph(crs="EPSG:32649")
    >>> G.add_node(0, x=0.0, y=0.0); G.add_node(1, x=3.0, y=4.0)
    >>> _ = G.add_edge(0, 1)
    >>> uvk, geoms = edge_geometries(G)
    >>> uvk.tolist(), geoms[0].length
    ([[0, 1, 0]], 5.0)
    """
    from .network.graph import as_road_graph

    road = as_road_graph(graph)
    nodes = road.nodes
    uvk = np.column_stack([nodes[road.sources], nodes[road.targets], road.key]).astype(np.int64)
    return uvk.reshape(-1, 3), road.edge_geometries()


def default_max_snap_m() -> float:
    """The snap limit of ``road_speeds.toml`` (``[defaults] max_snap_m``), in metres."""
    return float(load_table("road_speeds")["defaults"]["max_snap_m"])


def snap_targets(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    crs: Any,
    *,
    where: str,
) -> tuple[pd.Index, Any, Any]:
    """Check ``points`` and return their index, one point each and their geometries, in ``crs``.

    Raises :class:`CRSError` for points without a CRS and :class:`InputError` for missing
    or empty geometries; lines and polygons are represented by a point on their surface (the
    third array keeps their own geometry, for :func:`road_distances`).
    """
    geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geo.crs is None:
        msg = (
            f"{where} has no CRS, so it cannot be matched to the road network. Fix: set it, "
            "for example `gdf.set_crs('EPSG:4326')`, or declare `crs` in the scenario."
        )
        raise CRSError(msg)
    missing = (geo.isna() | geo.is_empty).to_numpy()
    if missing.any():
        msg = (
            f"{where} has missing or empty geometries in rows {geo.index[missing].tolist()[:10]}."
            " Fix: give those rows a location or drop them."
        )
        raise InputError(msg)
    target = pyproj.CRS.from_user_input(crs)
    if not target.equals(geo.crs):
        geo = geo.to_crs(target)
    geoms = geo.to_numpy()
    arr = geoms
    not_point = shapely.get_type_id(arr) != 0
    if not_point.any():
        arr = arr.copy()
        arr[not_point] = shapely.point_on_surface(arr[not_point])
    return geo.index, arr, geoms


def nearest_distances(
    tree: shapely.STRtree, geoms: Any, *, max_distance: float | None = None, items: bool = False
) -> tuple[Any, ...]:
    """``(inputs, distance)``: each geometry's distance to the nearest geometry of ``tree``.

    The least distance to any geometry of the tree, exactly: GEOS's nearest search can stop at a
    geometry a rounding farther than the nearest (the two directions of a two-way road are
    measured apart and may differ in the last bit), so every geometry within the distance it
    found is measured again (``query(predicate="dwithin")``) and the least is kept. The same
    answer whatever the tree holds beyond, so a tree of part of the roads gives the whole
    tree's distance wherever the nearest is in the part. ``max_distance`` leaves out geometries
    with nothing within it; ``inputs`` ascending. ``items``: also return, third, the nearest
    tree geometry of each input, the lowest-numbered of those equally near.
    """
    (which, _), dist = tree.query_nearest(
        geoms, max_distance=max_distance, return_distance=True, all_matches=False
    )
    which = which.astype(np.int64)
    if not len(which):
        return (which, dist, which.copy()) if items else (which, dist)
    if not items:
        # a feature touching the tree (distance 0: a community a road crosses) cannot be nearer,
        # so only the others are measured again: the dwithin query of a polygon crossed by a
        # road returns every edge inside it (39 s of the province's 59 s off-road check)
        best = np.zeros(len(which))
        again = np.flatnonzero(dist > 0)
        if len(again):
            best[again] = _measured_again(tree, geoms[which[again]], dist[again])
        return which, best
    near = geoms[which]
    ci, cj = tree.query(near, predicate="dwithin", distance=dist * (1 + 1e-9) + 1e-9)
    d = shapely.distance(near[ci], tree.geometries[cj])
    best = np.full(len(which), np.inf)
    np.minimum.at(best, ci, d)
    keep = d == best[ci]
    ci, cj = ci[keep], cj[keep]
    order = np.lexsort((cj, ci))
    ci, cj = ci[order], cj[order]
    head = np.flatnonzero(np.r_[True, ci[1:] != ci[:-1]])
    return which, best, cj[head].astype(np.int64)


def _measured_again(tree: shapely.STRtree, near: Any, dist: Any) -> Any:
    """The least distance from each of ``near`` to the tree's geometries within ``dist`` of it."""
    ci, cj = tree.query(near, predicate="dwithin", distance=dist * (1 + 1e-9) + 1e-9)
    d = shapely.distance(near[ci], tree.geometries[cj])
    best = np.full(len(near), np.inf)
    np.minimum.at(best, ci, d)
    return best


def road_distances(
    geoms: Any, points: Any, snap_distance_m: Any, tree: shapely.STRtree, *, within_m: float | None = None
) -> Any:
    """Distance from each feature itself (not its snapped point) to the nearest road edge.

    A community polygon that a road runs along or through is on the road network even when
    the point inside it that the engine drives to lies far from the road: the off-road flag
    looks at the feature, the travel time at its point.

    ``within_m`` (the snap limit) asks only what the flag needs: the features whose point
    is farther than it are searched, up to it, and the others keep their point's distance (an
    upper bound). Whether a distance exceeds ``within_m`` is then exactly as without it, at a
    fraction of the cost where many features lie far from every road (a province's grid
    cells: a search that is not bounded walks the tree far out).
    """
    out = np.asarray(snap_distance_m, dtype=np.float64).copy()
    area = np.flatnonzero(shapely.get_type_id(geoms) != shapely.get_type_id(points))
    if within_m is None:
        if len(area):
            _, dist = nearest_distances(tree, geoms[area])
            out[area] = np.minimum(out[area], dist)
        return out
    area = area[out[area] > within_m]
    if len(area):  # searched a hair beyond the limit, so that a feature at exactly the limit is found
        reach = float(within_m) * (1 + 1e-9) + 1e-9
        hit, dist = nearest_distances(tree, geoms[area], max_distance=reach)
        out[area[hit]] = np.minimum(out[area[hit]], dist)
    return out


def flag_far(out: pd.DataFrame, max_snap_m: float, *, where: str, layer: str | None) -> pd.DataFrame:
    """Set ``flagged`` where the feature lies farther than the limit from every road and log the ids.

    The distance is ``road_distance_m`` (the feature's own, see :func:`road_distances`) when
    present, else ``snap_distance_m``.
    """
    distance = out["road_distance_m"] if "road_distance_m" in out else out["snap_distance_m"]
    out["flagged"] = distance > max_snap_m
    out.attrs.update(max_snap_m=float(max_snap_m), layer=layer)
    if out["flagged"].any():
        bad = distance[out["flagged"]]
        log.warning(
            "%s: %d point(s) farther than %.0f m from the road network, flagged: %s",
            where,
            len(bad),
            max_snap_m,
            _describe(bad),
        )
    return out


def _describe(distances: pd.Series, limit: int = 10) -> str:
    shown = ", ".join(f"{i} ({d:,.0f} m)" for i, d in distances.head(limit).items())
    more = f" and {len(distances) - limit} more" if len(distances) > limit else ""
    return f"[{shown}{more}]"


def require_snapped(df: pd.DataFrame, *, layer: str, file: str | None = None) -> pd.DataFrame:
    """Raise :class:`SnapError` when any row of a :func:`planning.snap_points` result is flagged.

    Returns ``df`` unchanged otherwise, so calls can be chained.

    Examples
    --------
    >>> df = pd.DataFrame({"snap_distance_m": [12.0, 812.5], "flagged": [False, True]},
    ...                   index=["s1", "s2"])
    >>> df.attrs["max_snap_m"] = 500.0
    >>> require_snapped(df, layer="fire_stations")
    Traceback (most recent call last):
    ...
    gis.errors.SnapError: layer `fire_stations`: 1 point(s) lie farther than 500 m ...
    """
    distance = df["road_distance_m"] if "road_distance_m" in df else df["snap_distance_m"]
    flagged = distance[df["flagged"]]
    if flagged.empty:
        return df
    where = f"`{file}`, layer `{layer}`" if file else f"layer `{layer}`"
    limit = df.attrs.get("max_snap_m")
    limit_txt = f"{limit:,.0f} m" if limit is not None else "`max_snap_m`"
    msg = (
        f"{where}: {len(flagged)} point(s) lie farther than {limit_txt} from the road network: "
        f"rows {_describe(flagged)}. Fix: move the points onto or near a road, add the missing "
        "road to the road layer, or raise `max_snap_m`."
    )
    raise SnapError(msg)
