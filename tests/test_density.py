"""Exact kernel density against scikit-learn, and the area-mean tolerance."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point, box
from sklearn.neighbors import KernelDensity

from risk_models import category_density, kernel_density, sample_points


@pytest.mark.parametrize("kernel", ["epanechnikov", "linear", "tophat"])
def test_matches_sklearn_kernel_density(kernel: str) -> None:
    rng = np.random.default_rng(7)
    src = rng.uniform(0, 20_000, (3000, 2))
    w = rng.uniform(0.1, 5.0, len(src))
    tgt = rng.uniform(0, 20_000, (2000, 2))
    h = 1500.0
    ours = kernel_density(src, tgt, bandwidth_m=h, source_weights=w, kernel=kernel, chunk_size=700)
    kde = KernelDensity(kernel=kernel, bandwidth=h).fit(src, sample_weight=w)
    ref = np.exp(kde.score_samples(tgt)) * w.sum() * 1e6
    pos = ref > 0
    assert pos.mean() > 0.9
    np.testing.assert_allclose(ours[pos], ref[pos], rtol=1e-6)
    assert np.all(ours[~pos] < 1e-9 * ref.max())


def test_density_integrates_to_total_weight() -> None:
    xs = np.arange(-1000, 1000, 10.0) + 5
    gx, gy = np.meshgrid(xs, xs)
    d = kernel_density(
        [[0.0, 0.0]], np.column_stack([gx.ravel(), gy.ravel()]), bandwidth_m=800.0, source_weights=[3.0]
    )
    assert d.sum() * (10.0 * 10.0) / 1e6 == pytest.approx(3.0, rel=1e-3)  # per km2 * km2


def test_area_mean_tolerance_against_fine_quadrature() -> None:
    from gis import demo_city

    city = demo_city(n_road_nodes=2000)
    hz = city["hazards"]
    comm = city["communities"]
    sev = pd.Series(1.0, index=hz.index)
    bws = {"hazardous_chemicals": 1000.0}
    sub = hz[hz["category"] == "hazardous_chemicals"]
    coarse = category_density(sub, comm, severity=sev, bandwidths_m=bws, at="area", sample_spacing_share=0.1)
    fine = category_density(sub, comm, severity=sev, bandwidths_m=bws, at="area", sample_spacing_share=0.02)
    peak = fine["hazardous_chemicals"].max()
    err = (coarse - fine).abs().max().iloc[0]
    assert err < 0.01 * peak


def test_sample_points_cover_every_unit() -> None:
    units = gpd.GeoSeries([box(0, 0, 1000, 1000), box(5000, 5000, 5001, 5001)], crs=32649)
    xy, owner = sample_points(units, spacing_m=100.0)
    assert np.bincount(owner).tolist() == [100, 1]
    assert Point(xy[-1]).within(units.iloc[1].buffer(1e-6))
