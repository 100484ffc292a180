"""The approximate hypercube against the exact 2^N solution on small instances."""

import numpy as np
import pytest

from gis import InputError
from planning.reliability import (
    approximate_hypercube,
    exact_hypercube,
    expected_coverage,
    preference_lists,
    simulate_hypercube,
)


def _instance(seed: int, areas: int, units: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    area_xy = rng.random((areas, 2))
    unit_xy = rng.random((units, 2))
    dist = np.linalg.norm(area_xy[:, None] - unit_xy[None], axis=2)
    return rng.random(areas), np.argsort(dist, axis=1)


# Dispatch tolerance 2 points; the 8-unit case has very uneven unit loads (0.02 .. 0.47), where
# Larson's random placement is 3.3 points off and the conditional-Bernoulli law 1.8 points.
@pytest.mark.parametrize(
    ("seed", "units", "load", "tol"), [(1, 4, 0.3, 0.02), (2, 6, 0.5, 0.02), (3, 8, 0.2, 0.02)]
)
def test_approximation_within_two_points_of_exact(seed: int, units: int, load: float, tol: float) -> None:
    rates, prefs = _instance(seed, 20, units)
    service = load * units / rates.sum()
    exact = exact_hypercube(rates, prefs, service)
    approx = approximate_hypercube(rates, prefs, service)
    assert np.abs(exact.busy - approx.busy).max() < 0.02
    assert np.allclose(exact.dispatch.sum(axis=1), 1.0)
    assert np.abs(exact.dispatch - approx.dispatch).max() < tol


def test_single_unit_is_erlang() -> None:
    result = exact_hypercube(np.array([1.0]), np.array([[0]]), 1.0)
    assert result.busy[0] == pytest.approx(0.5)
    assert result.dispatch[0, 1] == pytest.approx(0.5)


def test_bad_preferences_name_rows() -> None:
    with pytest.raises(InputError, match="preference rows"):
        exact_hypercube(np.array([1.0, 1.0]), np.array([[0, 1], [0, 0]]), 1.0)


def test_simulation_agrees_with_exact_and_is_deterministic() -> None:
    rates, prefs = _instance(4, 10, 5)
    service = 0.4 * 5 / rates.sum()
    exact = exact_hypercube(rates, prefs, service)
    sim = simulate_hypercube(rates, prefs, service, calls=60_000, seed=7)
    assert np.abs(exact.busy - sim.busy).max() < 0.02
    again = simulate_hypercube(rates, prefs, service, calls=60_000, seed=7)
    assert np.array_equal(sim.busy, again.busy)


def test_expected_coverage_counts_busy_first_due() -> None:
    # Two areas, two units; area 0 is covered only by unit 0, area 1 by both.
    times = np.array([[2.0, 9.0], [3.0, 4.0]])
    rates = np.array([1.0, 1.0])
    prefs = preference_lists(times)
    result = exact_hypercube(rates, prefs, 0.5)
    per_area, city = expected_coverage(result, rates, prefs, times, 5.0)
    assert per_area[0] == pytest.approx(result.dispatch[0, 0])
    assert per_area[1] == pytest.approx(1.0 - result.dispatch[1, 2])
    assert city == pytest.approx(per_area.mean())
    assert per_area[0] < 1.0


def test_conditional_law_beats_larson_on_uneven_loads() -> None:
    rates, prefs = _instance(3, 20, 8)
    service = 0.2 * 8 / rates.sum()
    exact = exact_hypercube(rates, prefs, service)
    gaps = {
        m: np.abs(exact.dispatch - approximate_hypercube(rates, prefs, service, method=m).dispatch).max()
        for m in ("larson", "conditional")
    }
    assert gaps["conditional"] < 0.02 < gaps["larson"]
    # equal loads: the conditional law is Larson's placement, both reproduce the Erlang total
    eq = approximate_hypercube(
        np.ones(4), np.array([[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]), 0.5
    )
    assert eq.busy == pytest.approx(np.full(4, eq.busy.mean()))


def test_area_service_times_against_simulation() -> None:
    # Jarvis' extension: calls of different areas keep units busy for different times
    rates, prefs = _instance(5, 12, 6)
    service = np.linspace(0.5, 2.0, 12) * 0.35 * 6 / rates.sum()
    approx = approximate_hypercube(rates, prefs, service)
    sim = simulate_hypercube(rates, prefs, service, calls=60_000, seed=3)
    assert np.abs(approx.busy - sim.busy).max() < 0.02
    with pytest.raises(InputError, match="service times"):
        approximate_hypercube(rates, prefs, np.zeros(12))
    with pytest.raises(InputError, match="method"):
        approximate_hypercube(rates, prefs, 1.0, method="bogus")
