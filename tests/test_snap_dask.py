"""Snaps on Dask workers that hold the road lines equal the driver's, and the workers' environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from dask_factory import two_workers

from gis import RoadGraph, RoadsSource, Scenario, demo_city, graph_from_lines
from gis.executor import InProcessExecutor
from planning import analyse_coverage, response, snapping
from planning.travel import nearest_edges, road_matrix

pytestmark = pytest.mark.dask


@pytest.fixture(scope="module")
def city() -> tuple[Scenario, RoadGraph]:
    raw = demo_city(n_road_nodes=2000)
    sc = Scenario("Demo City (synthetic)", raw, raw["roads"].crs, RoadsSource("layer"), synthetic=True)
    return sc, graph_from_lines(raw["roads"])


@pytest.fixture(scope="module")
def ex() -> Iterator[Any]:
    with two_workers() as executor:
        yield executor


def _places(sc: Scenario, graph: RoadGraph) -> dict[str | None, gpd.GeoDataFrame]:
    """Points, polygons (communities and a grid reaching far off the roads) and an empty layer."""
    (x0, y0), (x1, y1) = graph.node_xy.min(axis=0), graph.node_xy.max(axis=0)
    box = shapely.box(x0 - 3000, y0 - 3000, x1 + 3000, y1 + 3000)
    grid = response.area_grid(box, cell_m=400, crs=graph.crs)
    return {
        "communities": sc["communities"],
        "hazards": sc["hazards"],
        "cells": grid,
        "empty": sc["hazards"].iloc[:0],
    }


def test_snaps_on_workers_equal_the_driver_and_the_lines_go_once(
    city: tuple[Scenario, RoadGraph], ex: Any
) -> None:
    sc, G = city
    m = road_matrix(G)
    places = _places(sc, G)
    here = snapping._snap_layers(m, places, max_snap_m=500.0)
    sent = ex.n_shared
    snapping.share_road_edges(G, ex)
    snapping.share_road_edges(G, ex)  # kept: the same future, not a second send
    assert ex.n_shared == sent + 1
    assert ex.held(G.edge_shapes()) is not None
    there = snapping._snap_layers(m, places, max_snap_m=500.0, executor=ex)
    assert there["cells"]["flagged"].any() and (~there["cells"]["flagged"]).any()
    for name, frame in here.items():
        pd.testing.assert_frame_equal(frame, there[name], check_exact=True)
        assert frame.attrs == there[name].attrs


def test_coverage_with_the_lines_on_the_workers_equals_in_process(
    city: tuple[Scenario, RoadGraph], ex: Any
) -> None:
    sc, G = city
    here = analyse_coverage(sc, G, travel_matrix="chunked", breaks_s=None, districts=False)
    snapping.share_road_edges(G, ex)
    there = analyse_coverage(sc, G, travel_matrix="chunked", breaks_s=None, districts=False, executor=ex)
    for name in ("communities", "hazards", "area_units", "stations"):
        a, b = getattr(here, name), getattr(there, name)
        a, b = a.drop(columns="geometry"), b.drop(columns="geometry")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(here.summary, there.summary, check_exact=True)
    assert here.notes == there.notes


def test_nearest_edges_chunks_give_the_same_rows(city: tuple[Scenario, RoadGraph]) -> None:
    """Each place is answered on its own: any split of the places gives the same rows."""
    _, G = city
    shapes = G.edge_shapes()
    rng = np.random.default_rng(3)
    lo, hi = G.node_xy.min(axis=0) - 2000, G.node_xy.max(axis=0) + 2000
    pts = shapely.points(rng.uniform(lo, hi, (3000, 2)))
    whole = nearest_edges(shapes.geoms, shapes.tree, pts)
    parts = [nearest_edges(shapes.geoms, shapes.tree, pts[a : a + 701]) for a in range(0, 3000, 701)]
    for k in range(4):
        np.testing.assert_array_equal(whole[k], np.concatenate([p[k] for p in parts]))
    # against shapely itself: the distance is the point's distance to the chosen line
    np.testing.assert_allclose(whole[1], shapely.distance(pts, shapes.geoms[whole[0]]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(whole[1], shapely.distance(pts, shapely.union_all(shapes.geoms)), atol=1e-6)


def test_edge_shapes_pickle_as_their_arrays_only(city: tuple[Scenario, RoadGraph]) -> None:
    import pickle

    _, G = city
    shapes = G.edge_shapes()
    shapes.tree  # noqa: B018 - built here, must not travel
    back = pickle.loads(pickle.dumps(shapes))
    assert set(back.__dict__) == {"xy", "offsets"}
    assert shapely.equals_exact(back.geoms, shapes.geoms, tolerance=0).all()


def test_in_process_executor_holds_nothing() -> None:
    ex = InProcessExecutor()
    obj = object()
    assert ex.share(obj, keep=True) is obj
    assert ex.held(obj) is None
    assert ex.on_each_worker(len, [1, 2]) == [2]


def test_workers_run_one_blas_thread_and_glibc_malloc_defaults(ex: Any) -> None:
    """No oversubscription (one BLAS / OpenMP thread per worker), and no MALLOC_TRIM_THRESHOLD_."""

    def env() -> dict[str, str | None]:
        names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")
        return {k: os.environ.get(k) for k in names}

    for got in ex.client.run(env).values():
        assert got == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MALLOC_TRIM_THRESHOLD_": None}
