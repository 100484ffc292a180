"""Kernel density over tiles with a halo of one bandwidth: the untiled result, in process and on Dask."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from dask_factory import two_workers
from shapely import Point, box

from gis.errors import InputError
from risk_models import category_density, kernel_density
from risk_models.density import _tile_tasks


@pytest.fixture(scope="module")
def dask_executor():
    """One LocalCluster of 2 worker processes for the module's Dask tests."""
    with two_workers() as ex:
        yield ex


def _case(seed: int = 11) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # clustered and scattered sources, some outside the targets' extent, some with zero weight
    parks = rng.uniform(0, 30_000, (12, 2))
    src = np.vstack(
        [
            parks[rng.integers(0, 12, 3000)] + rng.normal(0, 900, (3000, 2)),
            rng.uniform(-3000, 33_000, (2000, 2)),
        ]
    )
    w = rng.uniform(0.1, 5.0, len(src))
    w[::97] = 0.0
    xs = np.arange(250.0, 30_000, 500.0)
    gx, gy = np.meshgrid(xs, xs)
    tgt = np.column_stack([gx.ravel(), gy.ravel()])
    return src, w, tgt


@pytest.mark.parametrize("kernel", ["epanechnikov", "linear", "tophat"])
@pytest.mark.parametrize("tile_m", [300.0, 1500.0, 7000.0, 1e7])
def test_tiles_equal_untiled(kernel: str, tile_m: float) -> None:
    src, w, tgt = _case()
    h = 1500.0
    ref = kernel_density(src, tgt, bandwidth_m=h, source_weights=w, kernel=kernel)
    tiled = kernel_density(src, tgt, bandwidth_m=h, source_weights=w, kernel=kernel, tile_m=tile_m)
    assert (ref > 0).mean() > 0.8
    np.testing.assert_allclose(tiled, ref, rtol=1e-12, atol=0)


def test_tiles_on_unsorted_points_and_edges() -> None:
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 5000, (400, 2))
    tgt = rng.uniform(-500, 5500, (900, 2))
    tgt[:5] = src[:5]  # targets on sources, and a target exactly one bandwidth from a source
    tgt[5] = src[6] + [800.0, 0.0]
    ref = kernel_density(src, tgt, bandwidth_m=800.0)
    for tile_m in (100.0, 999.0):
        np.testing.assert_allclose(
            kernel_density(src, tgt, bandwidth_m=800.0, tile_m=tile_m), ref, rtol=1e-12
        )
    assert kernel_density(np.empty((0, 2)), tgt, bandwidth_m=800.0, tile_m=500.0).sum() == 0
    with pytest.raises(InputError, match="`tile_m` is -5"):
        kernel_density(src, tgt, bandwidth_m=800.0, tile_m=-5)
    with pytest.raises(InputError, match="`source_weights` has shape"):
        kernel_density(src, tgt, bandwidth_m=800.0, source_weights=[1.0, 2.0])


def test_category_density_with_tiles() -> None:
    h = gpd.GeoDataFrame(
        {"category": ["mining", "mining", "chemical"]},
        geometry=[Point(50, 50), Point(900, 300), Point(4000, 10)],
        crs=32649,
    )
    cells = [box(x, y, x + 500, y + 500) for x in range(0, 5000, 500) for y in range(0, 2000, 500)]
    units = gpd.GeoDataFrame(geometry=cells, crs=32649)
    sev = pd.Series([1.0, 2.0, 3.0])
    bw = {"mining": 1000.0, "chemical": 1500.0}
    ref = category_density(h, units, severity=sev, bandwidths_m=bw, at="area")
    tiled = category_density(h, units, severity=sev, bandwidths_m=bw, at="area", tile_m=700.0)
    np.testing.assert_allclose(tiled.to_numpy(), ref.to_numpy(), rtol=1e-12)


@pytest.mark.dask
def test_dask_tiles_equal_in_process(dask_executor) -> None:
    src, w, tgt = _case(3)
    h = 2000.0
    ref = kernel_density(src, tgt, bandwidth_m=h, source_weights=w)
    same_tiles = kernel_density(src, tgt, bandwidth_m=h, source_weights=w, tile_m=4000.0)
    calls: list[tuple[int, int]] = []
    shared_before = dask_executor.n_shared
    on_dask = kernel_density(
        src,
        tgt,
        bandwidth_m=h,
        source_weights=w,
        tile_m=4000.0,
        executor=dask_executor,
        progress=lambda d, t: calls.append((d, t)),
    )
    # nothing broadcast: each task carries its run of tiles and the sources of its box only
    assert dask_executor.n_shared == shared_before
    np.testing.assert_array_equal(on_dask, same_tiles)  # bit for bit: the same tiles, the same sums
    np.testing.assert_allclose(on_dask, ref, rtol=1e-12, atol=0)
    assert calls[-1][0] == calls[-1][1] == len(calls) - 1 <= 8  # about 4 tasks per worker
    # tile size chosen from the workers when not given
    np.testing.assert_allclose(
        kernel_density(src, tgt, bandwidth_m=h, source_weights=w, executor=dask_executor.client),
        ref,
        rtol=1e-12,
    )


def test_a_task_carries_its_targets_and_every_source_that_reaches_them() -> None:
    src, w, tgt = _case(5)
    h = 1500.0
    tasks, positions = _tile_tasks(src, w, tgt, side=4000.0, h=h, n_tasks=6)
    assert 1 < len(tasks) <= 6
    # every target in exactly one task, in increasing order within it
    assert np.array_equal(np.sort(np.concatenate(positions)), np.arange(len(tgt)))
    assert all(np.all(np.diff(p) > 0) for p in positions)
    shipped = 0
    for (t_src, t_w, t_tgt, _key), pos in zip(tasks, positions, strict=True):
        assert np.array_equal(t_tgt, tgt[pos])
        # the sources within h of one of the task's targets are all there, in input order
        near = np.flatnonzero(
            (np.hypot(*(src[:, None, :] - t_tgt[None, ::7, :]).transpose(2, 0, 1)) <= h).any(axis=1)
        )
        rows = {tuple(r) for r in t_src}
        assert {tuple(r) for r in src[near]} <= rows
        assert np.array_equal(t_w, w[np.flatnonzero(np.isin(src[:, 0], t_src[:, 0]))])
        shipped += len(t_src)
    # the boxes overlap by a bandwidth or so, never a copy of all the sources per task
    assert shipped < 2.0 * len(src)


@pytest.mark.parametrize("kernel", ["epanechnikov", "linear", "tophat"])
def test_a_source_exactly_one_bandwidth_away_adds_nothing(kernel: str) -> None:
    src = np.array([[0.0, 0.0], [0.0, 8.0]])
    # 5 m (the bandwidth) from the first source and 3 m from the other; 5 m from both; 5 m; far
    tgt = np.array([[0.0, 5.0], [3.0, 4.0], [0.0, -5.0], [30.0, 40.0]])
    d = kernel_density(src, tgt, bandwidth_m=5.0, kernel=kernel)
    one = kernel_density(src[:1], [[0.0, 0.0]], bandwidth_m=5.0, kernel=kernel)[0]
    profile = {"epanechnikov": 1 - 0.36, "linear": 1 - 0.6, "tophat": 1.0}[kernel]  # 3 m from the other
    np.testing.assert_allclose(d, [profile * one, 0.0, 0.0, 0.0], rtol=1e-12)
