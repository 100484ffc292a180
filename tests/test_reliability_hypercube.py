"""The approximate hypercube against the exact 2^N solution on small instances."""

import math

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


# The cases: up to 10 units the default (the 2^N state chain, power iteration or sparse LU)
# is the exact hypercube; 8 units at load 0.4 and 10 at load 0.3 are where the conditional law was
# 3.0 and 2.9 points off (benchmarks/bench_reliability.py).
@pytest.mark.parametrize(
    ("seed", "units", "load"),
    [(1, 4, 0.3), (2, 6, 0.5), (3, 8, 0.2), (5, 8, 0.4), (6, 10, 0.3), (1, 10, 0.5)],
)
def test_approximation_within_two_points_of_exact(seed: int, units: int, load: float) -> None:
    rates, prefs = _instance(seed, 20, units)
    service = load * units / rates.sum()
    exact = exact_hypercube(rates, prefs, service)
    approx = approximate_hypercube(rates, prefs, service)
    assert approx.method == "state"
    assert np.allclose(exact.dispatch.sum(axis=1), 1.0)
    assert np.abs(exact.busy - approx.busy).max() < 0.02
    assert np.abs(exact.dispatch - approx.dispatch).max() < 0.02
    # exact: the same 2^N system, solved another way
    assert np.abs(exact.busy - approx.busy).max() < 1e-8
    assert np.abs(exact.dispatch - approx.dispatch).max() < 1e-8


def test_state_chain_power_iteration_beyond_the_direct_solve() -> None:
    # 10 units (1,024 states) take the power iteration; the busy fractions sum to the Erlang law's
    rates, prefs = _instance(7, 30, 10)
    service = 0.45 * 10 / rates.sum()
    res = approximate_hypercube(rates, prefs, service)
    offered = float(rates.sum() * service)
    erlang = np.array([offered**k / math.factorial(k) for k in range(11)])
    erlang /= erlang.sum()
    assert res.busy.sum() == pytest.approx(float((np.arange(11) * erlang).sum()), abs=1e-8)
    assert res.dispatch[:, -1] == pytest.approx(np.full(30, erlang[-1]), abs=1e-8)


def test_loaded_uneven_systems_against_simulation_above_the_state_chain() -> None:
    # 14 units: beyond the state chain (auto takes the conditional law); busy within 2 points
    rates, prefs = _instance(8, 40, 14)
    service = 0.35 * 14 / rates.sum()
    approx = approximate_hypercube(rates, prefs, service)
    assert approx.method == "conditional"
    sim = simulate_hypercube(rates, prefs, service, calls=80_000, seed=2)
    assert np.abs(approx.busy - sim.busy).max() < 0.02
    with pytest.raises(InputError, match="state chain"):
        approximate_hypercube(*_instance(1, 4, 21), 1.0, method="state")


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
    # Jarvis' extension: calls of different areas keep units busy for different times; the state
    # chain with unit service rates fitted to the calls each unit answers, and the conditional law
    rates, prefs = _instance(5, 12, 6)
    service = np.linspace(0.5, 2.0, 12) * 0.35 * 6 / rates.sum()
    sim = simulate_hypercube(rates, prefs, service, calls=200_000, seed=3)
    for method in ("auto", "conditional"):
        approx = approximate_hypercube(rates, prefs, service, method=method)
        assert approx.method == ("state" if method == "auto" else method)
        assert np.abs(approx.busy - sim.busy).max() < 0.02
    approx = approximate_hypercube(rates, prefs, service)
    assert np.abs(approx.dispatch - sim.dispatch).max() < 0.02
    with pytest.raises(InputError, match="service times"):
        approximate_hypercube(rates, prefs, np.zeros(12))
    with pytest.raises(InputError, match="method"):
        approximate_hypercube(rates, prefs, 1.0, method="bogus")
