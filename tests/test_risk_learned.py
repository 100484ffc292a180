"""Learned-mode helpers and interpolation against brute-force references."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point, box

from risk_models import area_interpolate, getis_ord_gi_star, skill_scores


def test_gi_star_matches_the_formula_by_brute_force() -> None:
    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 1000, (40, 2))
    x = rng.gamma(2.0, 1.0, 40)
    d = 220.0
    got = getis_ord_gi_star(pd.Series(x), gpd.GeoSeries([Point(p) for p in xy], crs=32649), distance_m=d)
    n, xbar, s = len(x), x.mean(), x.std()
    for i in range(n):
        wi = np.array([1.0 if np.hypot(*(xy[i] - xy[j])) <= d else 0.0 for j in range(n)])
        num = (wi * x).sum() - xbar * wi.sum()
        den = s * np.sqrt((n * (wi**2).sum() - wi.sum() ** 2) / (n - 1))
        assert got["gi_z"].iloc[i] == pytest.approx(num / den)


def test_area_interpolate_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    src = gpd.GeoDataFrame(
        {"population": rng.uniform(0, 1000, 9), "share": rng.uniform(0, 1, 9)},
        geometry=[box(100 * i, 100 * j, 100 * (i + 1), 100 * (j + 1)) for i in range(3) for j in range(3)],
        crs=32649,
    )
    tgt = gpd.GeoDataFrame(
        geometry=[box(30, 40, 170, 260), box(150, 0, 300, 90), box(900, 900, 950, 950)], crs=32649
    )
    got = area_interpolate(
        src, tgt, extensive=["population"], intensive=["share"], intensive_weight="population"
    )
    for t, geom in enumerate(tgt.geometry):
        pops, shares = [], []
        for _, row in src.iterrows():
            frac = row.geometry.intersection(geom).area / row.geometry.area
            pops.append(row["population"] * frac)
            shares.append(row["share"])
        total = sum(pops)
        assert got["population"].iloc[t] == pytest.approx(total)
        if total > 0:
            assert got["share"].iloc[t] == pytest.approx(np.dot(pops, shares) / total)
        else:
            assert np.isnan(got["share"].iloc[t])


def test_skill_scores_top_share() -> None:
    s = skill_scores(np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 10]), np.arange(10.0), top_share=0.1)
    assert s["top_share_incidents"] == 1.0 and s["poisson_deviance"] > 0
