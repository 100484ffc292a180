"""The point query agrees with the travel-time engine and answers in milliseconds."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from gis import InputError, demo_city, graph_from_lines
from planning.query import ResponseQuery
from planning.snapping import snap_stations
from planning.travel import road_matrix, travel_times


def test_query_matches_engine() -> None:
    raw = demo_city(n_road_nodes=2000)
    G = graph_from_lines(raw["roads"])
    stations = raw["fire_stations"]
    q = ResponseQuery.build(G, stations, standard="nfpa-1710")
    nodes = snap_stations(G, stations)["node"]
    m = road_matrix(G)
    rng = np.random.default_rng(0)
    pick = rng.choice(m.n_nodes, 50, replace=False)
    lonlat = shapely_lonlat(m.xy[pick], m.crs)
    ans = q.query(lonlat[:, 0], lonlat[:, 1], k=3)
    assert len(ans) == 150
    expect = travel_times(G, nodes.tolist())[pick] + 80.0  # (points, stations)
    best = np.sort(expect, axis=1)[:, :3].ravel()
    assert np.allclose(ans["response_time_s"], best, atol=0.01)
    assert (ans["snap_distance_m"] < 0.01).all()
    assert ans["covered"].equals(ans["response_time_s"] <= 320.0)
    start = time.perf_counter()
    for lon, lat in lonlat[:20]:
        q.query(lon, lat, k=3)
    per_query_s = (time.perf_counter() - start) / 20
    assert per_query_s < 0.05  # milliseconds, with a wide margin for slow CI machines
    with pytest.raises(InputError, match="lon/lat"):
        q.query(np.inf, 37.0)


def shapely_lonlat(xy: np.ndarray, crs: object) -> np.ndarray:
    import pyproj

    t = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _reference_query(q: ResponseQuery, lon: np.ndarray, lat: np.ndarray, k: int) -> pd.DataFrame:
    """The DataFrame-building implementation the numpy fast path replaced, kept as the reference."""
    x, y = q._to_graph.transform(np.atleast_1d(lon), np.atleast_1d(lat))
    dist, node = q.tree.query(np.column_stack([x, y]))
    k = max(1, min(int(k), len(q.station_ids)))
    times = q.response_s[node].T  # (stations, points)
    order = np.argsort(times, axis=0)[:k]
    best = np.take_along_axis(times, order, axis=0)
    n_pts = len(node)
    return pd.DataFrame(
        {
            "point": np.tile(np.arange(n_pts), k),
            "rank": np.repeat(np.arange(1, k + 1), n_pts),
            "station": q.station_ids[order].ravel(),
            "response_time_s": best.ravel().astype(np.float64),
            "covered": best.ravel() <= q.standard.response_s,
            "snap_distance_m": np.tile(dist, k),
            "flagged": np.tile(dist > q.max_snap_m, k),
        }
    ).sort_values(["point", "rank"], ignore_index=True)


@pytest.mark.parametrize("k", [1, 3, 6, 20])
def test_fast_path_matches_the_dataframe_reference(k: int) -> None:
    raw = demo_city(n_road_nodes=2000)
    G = graph_from_lines(raw["roads"])
    q = ResponseQuery.build(G, raw["fire_stations"], standard="cn-gb51080")
    m = road_matrix(G)
    rng = np.random.default_rng(1)
    west, south = shapely_lonlat(m.xy.min(axis=0, keepdims=True), m.crs)[0]
    east, north = shapely_lonlat(m.xy.max(axis=0, keepdims=True), m.crs)[0]
    # points on and off the network (some beyond the snap limit), plus the nodes themselves
    lon = np.concatenate([rng.uniform(west - 0.02, east + 0.02, 200), shapely_lonlat(m.xy[:50], m.crs)[:, 0]])
    lat = np.concatenate(
        [rng.uniform(south - 0.02, north + 0.02, 200), shapely_lonlat(m.xy[:50], m.crs)[:, 1]]
    )
    expect = _reference_query(q, lon, lat, k)
    pd.testing.assert_frame_equal(q.query(lon, lat, k=k), expect)
    assert expect["flagged"].any() and not expect["flagged"].all()
    for i in range(0, len(lon), 25):  # one point at a time, as the web endpoint asks
        near = q.nearest(lon[i], lat[i], k=k)
        rows = expect[expect["point"] == i]
        assert near.station.shape == (1, len(rows))  # one row per point, one column per rank
        assert near.station[0].tolist() == rows["station"].tolist()
        assert near.response_time_s[0].tolist() == rows["response_time_s"].tolist()
        assert near.covered[0].tolist() == rows["covered"].tolist()
        assert near.snap_distance_m[0] == rows["snap_distance_m"].iloc[0]
        assert bool(near.flagged[0]) == rows["flagged"].iloc[0]
