"""Snapping split into strips of the road lines (one per worker) equals the whole tree, ties included.

The strips run in process here (:class:`gis.executor.InProcessExecutor` ignores ``pin``), so any
number of strips and any reach is tried without a cluster; tests/test_snap_dask.py runs the same
on a LocalCluster of 2 workers.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import RoadGraph, demo_city, graph_from_lines
from gis.executor import InProcessExecutor
from gis.snap import nearest_distances, snap_targets
from planning import response, snapping
from planning.travel import lowest_nearest, nearest_edges, road_matrix

CRS = "EPSG:32649"
X0, Y0 = 500_000.0, 4_190_000.0


@pytest.fixture(scope="module")
def city() -> tuple[dict[str, gpd.GeoDataFrame], RoadGraph]:
    raw = demo_city(n_road_nodes=2000)
    return raw, graph_from_lines(raw["roads"])


@pytest.fixture(scope="module")
def ladder() -> RoadGraph:
    """Two-way roads along y = 0 and y = 10 (x 0..1000), rungs every 100 m: many exact ties."""
    lines = [
        shapely.LineString([(X0 + a, Y0 + y), (X0 + a + 100, Y0 + y)])
        for y in (0, 10)
        for a in range(0, 1000, 100)
    ]
    lines += [shapely.LineString([(X0 + a, Y0), (X0 + a, Y0 + 10)]) for a in range(0, 1001, 100)]
    roads = gpd.GeoDataFrame({"highway": ["residential"] * len(lines)}, geometry=lines, crs=CRS)
    return graph_from_lines(roads)


def _split(m: Any, places: dict[str, Any], n: int, reach_m: float, within_m: float | None) -> dict[str, Any]:
    regions = snapping.road_regions(m.graph.edge_shapes(), n, reach_m=reach_m)
    held = (regions, [r.bounds() for r in regions])
    targets = {k: snap_targets(v, m.crs, where=k) for k, v in places.items()}
    return snapping._snap_on_workers(
        {k: (t[1], t[2]) for k, t in targets.items()}, InProcessExecutor(), held, within_m
    )


def _assert_equal(whole: dict[str, pd.DataFrame], split: dict[str, Any]) -> None:
    for name, frame in whole.items():
        edge, dist, along, frac, road = split[name]
        np.testing.assert_array_equal(edge, frame["edge"].to_numpy())
        np.testing.assert_array_equal(dist, frame["snap_distance_m"].to_numpy())
        np.testing.assert_array_equal(along, frame["along_m"].to_numpy())
        np.testing.assert_array_equal(frac, frame["frac"].to_numpy())
        np.testing.assert_array_equal(road, frame["road_distance_m"].to_numpy())


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize(("n", "reach_m"), [(2, 2000.0), (3, 150.0), (5, 40.0), (8, 0.0)])
def test_strips_equal_the_whole_tree(
    city: tuple[dict[str, Any], RoadGraph], n: int, reach_m: float, exact: bool
) -> None:
    """Points, polygons and cells far off the roads, on strips of small reaches (many second rounds)."""
    raw, G = city
    m = road_matrix(G)
    (x0, y0), (x1, y1) = G.node_xy.min(axis=0), G.node_xy.max(axis=0)
    grid = response.area_grid(shapely.box(x0 - 3000, y0 - 3000, x1 + 3000, y1 + 3000), cell_m=400, crs=G.crs)
    places = {"communities": raw["communities"], "hazards": raw["hazards"], "cells": grid}
    whole = snapping._snap_layers(m, places, max_snap_m=500.0, exact_road_distance=exact)
    _assert_equal(whole, _split(m, places, n, reach_m, None if exact else 500.0))


@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_strips_keep_the_lowest_of_equally_near_edges(ladder: RoadGraph, n: int) -> None:
    """Points halfway between the two roads, at the rungs and on the strips' sides: every one ties."""
    m = road_matrix(ladder)
    xs = np.r_[np.arange(0, 1001, 12.5), np.arange(0, 1001, 100.0)]
    pts = gpd.GeoDataFrame(geometry=shapely.points(X0 + xs, Y0 + 5.0), crs=CRS)
    far = gpd.GeoDataFrame(geometry=shapely.points(X0 + xs, Y0 + 5.0 + 3000 * (xs % 2 == 0)), crs=CRS)
    places = {"mid": pts, "far": far}
    whole = snapping._snap_layers(m, places, max_snap_m=500.0)
    _assert_equal(whole, _split(m, places, n, 20.0, None))
    # the rule itself: the lowest-numbered of the edges at the least distance (by brute force)
    geoms = ladder.edge_shapes().geoms
    for frame, layer in ((whole["mid"], pts), (whole["far"], far)):
        d = shapely.distance(layer.geometry.to_numpy()[:, None], geoms[None, :])
        best = d.min(axis=1)
        lowest = np.argmax(d == best[:, None], axis=1)
        np.testing.assert_array_equal(frame["edge"].to_numpy(), lowest)
        np.testing.assert_array_equal(frame["snap_distance_m"].to_numpy(), best)
        assert ((d == best[:, None]).sum(axis=1) > 1).mean() > 0.5  # the ties are real


def test_lowest_nearest_is_the_brute_force_answer() -> None:
    """Random segments with reversed twins and duplicates: the least distance, the lowest number."""
    rng = np.random.default_rng(14)
    a = rng.integers(0, 50, (300, 2)).astype(float)
    b = a + rng.integers(-5, 6, (300, 2))
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    lines = np.concatenate([lines, shapely.reverse(lines[:100]), lines[:50]])
    perm = rng.permutation(len(lines))
    lines = lines[perm]
    tree = shapely.STRtree(lines)
    pts = shapely.points(rng.integers(-10, 60, (2000, 2)).astype(float) / 2)
    which, item, dist = lowest_nearest(tree, pts)
    d = shapely.distance(pts[:, None], lines[None, :])
    best = d.min(axis=1)
    np.testing.assert_array_equal(which, np.arange(len(pts)))
    np.testing.assert_array_equal(dist, best)
    np.testing.assert_array_equal(item, np.argmax(d == best[:, None], axis=1))
    # bounded: the points with nothing within the bound are left out, the others answered alike
    w2, i2, _ = lowest_nearest(tree, pts, max_distance=1.0)
    keep = best <= 1.0
    np.testing.assert_array_equal(w2, np.flatnonzero(keep))
    np.testing.assert_array_equal(i2, item[keep])
    _, d3 = nearest_distances(tree, pts)
    np.testing.assert_array_equal(d3, best)
    e, *_ = nearest_edges(lines, tree, pts)
    np.testing.assert_array_equal(e, item)


def test_road_regions_cover_every_edge_and_split_them(city: tuple[dict[str, Any], RoadGraph]) -> None:
    _, G = city
    shapes = G.edge_shapes()
    regions = snapping.road_regions(shapes, 3, reach_m=500.0)
    m = len(shapes.offsets) - 1
    assert np.union1d(np.union1d(regions[0].edges, regions[1].edges), regions[2].edges).tolist() == list(
        range(m)
    )
    assert all(len(r.edges) < m for r in regions)
    for r in regions:  # the strip's lines are the graph's, bit for bit
        assert shapely.equals_exact(r.shapes.geoms, shapes.geoms[r.edges], tolerance=0).all()
    assert regions[0].x_lo == -np.inf and regions[-1].x_hi == np.inf
