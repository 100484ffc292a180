"""MEXCLP (Daskin) against brute force on tiny instances, and its input checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gis.errors import InputError
from planning.location import expected_coverage, mclp, mexclp


def _brute(cost, w, radius, n_new, q, *, existing=(), max_units=1):
    m = cost.shape[1]
    lo = np.zeros(m, dtype=int)
    lo[list(existing)] = 1
    best = -1.0
    for extra in itertools.product(range(max_units + 1), repeat=m):
        units = lo + np.array(extra)
        if units.sum() != lo.sum() + n_new or (units > max(max_units, 1)).any():
            continue
        best = max(best, expected_coverage(cost, w, radius, units, q))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_mexclp_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 9, 5
    cost = rng.uniform(0, 10, size=(n, m))
    cost[rng.random((n, m)) < 0.1] = np.inf
    w = rng.integers(1, 20, size=n).astype(float)
    q = float(rng.uniform(0.05, 0.6))
    max_units = 1 + seed % 3
    existing = [0] if seed % 2 else []
    n_new = 2 + seed % 2
    res = mexclp(
        cost, w, 5.0, n_new, busy_fraction=q, existing=existing or None, max_units_per_site=max_units
    )
    ref = _brute(cost, w, 5.0, n_new, q, existing=existing, max_units=max_units)
    assert res.expected_covered == pytest.approx(ref, rel=1e-6)
    assert res.location.status == "optimal"
    assert int(res.units.sum()) == len(existing) + n_new
    assert res.units.max() <= max_units
    assert all(res.units[e] >= 1 for e in existing)
    assert res.location.model == "mexclp"
    assert res.expected_covered == pytest.approx(expected_coverage(cost, w, 5.0, res.units, q))
    assert res.location.bound >= res.expected_covered - 1e-9


def test_busy_fraction_zero_is_mclp() -> None:
    rng = np.random.default_rng(7)
    cost = rng.uniform(0, 10, size=(30, 8))
    w = rng.integers(1, 9, size=30).astype(float)
    res = mexclp(cost, w, 4.0, 3, busy_fraction=0.0)
    assert res.expected_covered == pytest.approx(mclp(cost, w, 4.0, 3).objective)
    assert res.covered == pytest.approx(res.expected_covered)


def test_busy_stations_favour_double_cover() -> None:
    # one big row reachable from two sites, two small rows each reachable from a third site only
    cost = np.array([[1.0, 1.0, 9.0], [9.0, 9.0, 1.0]])
    w = np.array([100.0, 10.0])
    idle = mexclp(cost, w, 2.0, 2, busy_fraction=0.01)
    busy = mexclp(cost, w, 2.0, 2, busy_fraction=0.9)
    assert idle.location.coverage_count.tolist() == [1, 1]
    assert busy.location.coverage_count.tolist() == [2, 0]


def test_existing_units_and_bad_input() -> None:
    cost = np.array([[1.0, 9.0], [9.0, 1.0]])
    res = mexclp(
        cost, [1, 1], 2.0, 1, busy_fraction=0.5, existing=[0], existing_units=[2], max_units_per_site=2
    )
    assert res.units.tolist() == [2, 1]
    with pytest.raises(InputError, match="busy_fraction"):
        mexclp(cost, [1, 1], 2.0, 1, busy_fraction=1.0)
    with pytest.raises(InputError, match="max_units_per_site"):
        mexclp(cost, [1, 1], 2.0, 3, busy_fraction=0.2)
    with pytest.raises(InputError, match="existing_units"):
        mexclp(cost, [1, 1], 2.0, 1, busy_fraction=0.2, existing=[0], existing_units=[1, 2])
