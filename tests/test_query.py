"""The point query agrees with the travel-time engine and answers in milliseconds."""

from __future__ import annotations

import time

import numpy as np
import pytest

from gis import InputError, demo_city, graph_from_lines
from planning.query import ResponseQuery
from planning.travel import road_matrix, snap_stations, travel_times


def test_query_matches_engine() -> None:
    raw = demo_city(n_road_nodes=2000)
    G = graph_from_lines(raw["roads"])
    stations = raw["fire_stations"].set_index("id")
    q = ResponseQuery.build(G, stations, standard="nfpa-1710")
    nodes = snap_stations(G, stations)["node"]
    m = road_matrix(G)
    rng = np.random.default_rng(0)
    pick = rng.choice(m.n_nodes, 50, replace=False)
    lonlat = shapely_lonlat(m.xy[pick], m.crs)
    ans = q.query(lonlat[:, 0], lonlat[:, 1], k=3)
    assert len(ans) == 150
    expect = travel_times(G, nodes.tolist())[:, pick] + 80.0
    best = np.sort(expect, axis=0)[:3].T.ravel()
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
