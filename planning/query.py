"""Point query: response times from the k nearest stations to any lon/lat, in milliseconds.

:class:`ResponseQuery` precomputes once the travel time from every station to every road
node and a KD-tree (:class:`scipy.spatial.cKDTree`) on the node coordinates; a query then
projects the point, finds its nearest road node and reads the times: no graph search at
query time. The object is frozen, so one web request can never change what another sees.

:meth:`ResponseQuery.nearest` is the numpy-only path (arrays in, a :class:`Nearest` of arrays
out, about 50 microseconds for one point); :meth:`ResponseQuery.query` wraps the same
arrays in a long-format DataFrame for notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
from scipy.spatial import cKDTree

from gis.errors import InputError

from .names import DEFAULT_STANDARD
from .snapping import snap_stations
from .standards import ResponseStandard, response_standard
from .travel import road_matrix

if TYPE_CHECKING:
    from gis.network.graph import GraphLike

__all__ = ["Nearest", "ResponseQuery"]


@dataclass(frozen=True, eq=False)
class Nearest:
    """The ``k`` fastest stations to each of ``n`` points, as plain arrays, one row per point.

    Attributes
    ----------
    station
        ``(n, k)`` station ids, fastest first.
    response_time_s
        ``(n, k)`` response times (turnout included), float64; ``inf`` when unreachable.
    covered
        ``(n, k)`` within the standard's response time.
    snap_distance_m
        ``(n,)`` point to its nearest road node.
    flagged
        ``(n,)`` snap distance beyond ``max_snap_m``.
    """

    station: npt.NDArray[np.object_]
    response_time_s: npt.NDArray[np.float64]
    covered: npt.NDArray[np.bool_]
    snap_distance_m: npt.NDArray[np.float64]
    flagged: npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class ResponseQuery:
    """Precomputed station-to-node response times, queried by lon/lat.

    Build with :meth:`build`. Attributes: ``station_ids``, ``response_s`` (``(n, k)``
    float32 response times from each station to each road node, turnout included: a
    :data:`~planning.travel.TargetsBySources` matrix), ``tree`` (KD-tree on node coordinates),
    ``standard`` (the response profile), ``speed_factor`` and ``max_snap_m``.
    """

    station_ids: npt.NDArray[np.object_]
    response_s: npt.NDArray[np.float32]
    tree: cKDTree
    standard: ResponseStandard
    speed_factor: float
    max_snap_m: float
    _to_graph: pyproj.Transformer

    @classmethod
    def build(
        cls,
        graph: GraphLike,
        stations: gpd.GeoDataFrame,
        *,
        standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
        speed_factor: float = 1.0,
        max_snap_m: float = 500.0,
        edge_weight: str = "travel_time_s",
    ) -> ResponseQuery:
        """Precompute the times from every station (one Dijkstra each) and the KD-tree.

        ``standard`` is the response profile (:class:`~planning.standards.ResponseStandard`:
        turnout plus the travel allowed for the first engine), by name or as given;
        ``edge_weight`` is the edge attribute minimised.

        Examples
        --------
        With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

        >>> from gis import graph_from_lines
        >>> q = ResponseQuery.build(graph_from_lines(city["roads"]), city["fire_stations"])
        >>> q.response_s.shape[1]
        6
        """
        std = response_standard(standard)
        if speed_factor <= 0:
            msg = f"`speed_factor` is {speed_factor}. Fix: give a positive factor."
            raise InputError(msg)
        snaps = snap_stations(graph, stations, max_snap_m=max_snap_m, edge_weight=edge_weight)
        m = road_matrix(graph, edge_weight=edge_weight)
        travel = m.one_to_all(m.positions(snaps["node"].tolist())) / speed_factor
        to_graph = pyproj.Transformer.from_crs(4326, pyproj.CRS.from_user_input(m.crs), always_xy=True)
        return cls(
            np.asarray(snaps.index, dtype=object),
            (std.turnout_s + travel).astype(np.float32, order="C"),  # a row per node: fast lookups
            cKDTree(m.xy),
            std,
            float(speed_factor),
            float(max_snap_m),
            to_graph,
        )

    def nearest(self, lon: float | npt.ArrayLike, lat: float | npt.ArrayLike, *, k: int = 3) -> Nearest:
        """The ``k`` fastest stations to each lon/lat (WGS84), as arrays (no DataFrame).

        ``k`` is clamped to 1..number of stations; :meth:`query` is built from this.

        Examples
        --------
        With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

        >>> from gis import graph_from_lines
        >>> st = city["fire_stations"]
        >>> q = ResponseQuery.build(graph_from_lines(city["roads"]), st)
        >>> p = st.geometry.to_crs(4326).iloc[0]
        >>> near = q.nearest(p.x, p.y, k=2)
        >>> near.station.shape, near.station[0, 0]
        ((1, 2), 'FS1')
        """
        xy = np.column_stack(self._to_graph.transform(np.atleast_1d(lon), np.atleast_1d(lat)))
        if not np.isfinite(xy).all():
            msg = (
                "Some query points are not valid lon/lat. "
                "Fix: pass longitude first, then latitude, in degrees (WGS84)."
            )
            raise InputError(msg)
        dist, node = self.tree.query(xy)
        k = max(1, min(int(k), len(self.station_ids)))
        times = self.response_s[node]  # (points, stations)
        order = np.argsort(times, axis=1)[:, :k]
        best = np.take_along_axis(times, order, axis=1)
        return Nearest(
            self.station_ids[order],
            best.astype(np.float64),
            best <= self.standard.response_s,
            np.asarray(dist, dtype=np.float64),
            np.asarray(dist > self.max_snap_m),
        )

    def query(self, lon: float | npt.ArrayLike, lat: float | npt.ArrayLike, *, k: int = 3) -> pd.DataFrame:
        """Response times from the ``k`` fastest stations to each lon/lat (WGS84).

        Returns
        -------
        pandas.DataFrame
            One row per point and rank: ``point``, ``rank`` (1 = fastest), ``station``,
            ``response_time_s``, ``covered`` (within the standard), ``snap_distance_m``
            (point to its nearest road node) and ``flagged`` (beyond ``max_snap_m``).

        Examples
        --------
        With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

        >>> from gis import graph_from_lines
        >>> st = city["fire_stations"]
        >>> q = ResponseQuery.build(graph_from_lines(city["roads"]), st)
        >>> p = st.geometry.to_crs(4326).iloc[0]
        >>> ans = q.query(p.x, p.y, k=2)
        >>> ans["station"].iloc[0], bool(ans["response_time_s"].iloc[0] < 120)
        ('FS1', True)
        """
        near = self.nearest(lon, lat, k=k)
        n_pts, k = near.station.shape
        # point-major: row i * k + r is point i at rank r + 1
        return pd.DataFrame(
            {
                "point": np.repeat(np.arange(n_pts), k),
                "rank": np.tile(np.arange(1, k + 1), n_pts),
                "station": near.station.ravel(),
                "response_time_s": near.response_time_s.ravel(),
                "covered": near.covered.ravel(),
                "snap_distance_m": np.repeat(near.snap_distance_m, k),
                "flagged": np.repeat(near.flagged, k),
            }
        )
