"""Station workload, expected P90, concurrency and the queueing-aware swap (planning.reliability)."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gis import InputError
from planning.reliability import (
    concurrency_by_hour,
    exact_hypercube,
    queueing_swap,
    simulate_hypercube,
    station_workload,
    weighted_quantile,
    workload_by_hour,
)


def _times(seed: int, areas: int, sites: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = np.linalg.norm(rng.random((areas, 1, 2)) - rng.random((1, sites, 2)), axis=2)
    return pd.DataFrame(
        60.0 + 600.0 * d, index=[f"A{i}" for i in range(areas)], columns=[f"S{j}" for j in range(sites)]
    )


def test_several_units_per_station_against_exact_and_simulation() -> None:
    t = _times(1, 15, 4)
    rates = np.random.default_rng(2).random(15)
    units = [2, 1, 2, 1]
    service_min = 60.0 * 0.35 * 6 / rates.sum()
    approx = station_workload(t, rates, service_min, response_units=units, standard_s=300.0)
    exact = station_workload(t, rates, service_min, response_units=units, standard_s=300.0, solver="exact")
    assert np.abs(approx.stations["busy_fraction"] - exact.stations["busy_fraction"]).max() < 0.02
    gap = np.abs(approx.areas["busy_fraction_first_due"] - exact.areas["busy_fraction_first_due"]).max()
    # a station of two units is "busy" when both are: the busy-set laws alone miss the co-located
    # units' dependence by 2.3 points here; the station's own Erlang loss brings it within 1 point
    assert gap < 0.02
    # the exact solver's unit busy fractions are the same system's as the simulation's
    prefs = np.argsort(t.to_numpy()[:, exact.unit_station], axis=1, kind="stable")
    sim = simulate_hypercube(rates, prefs, service_min / 60.0, calls=60_000, seed=5)
    assert np.abs(sim.busy - exact.hypercube.busy).max() < 0.02
    # shares of each area's calls: first-due station, 2nd, 3rd, lost and the rest sum to one
    a = exact.areas
    assert (
        (1 - a["busy_fraction_first_due"]) + a["second_due_share"] + a["third_due_share"] + a["lost_share"]
        <= 1 + 1e-9
    ).all()
    assert exact.stations["response_units"].tolist() == units
    assert exact.stations["calls_per_day"].sum() == pytest.approx(24 * (rates * (1 - a["lost_share"])).sum())


def test_first_due_busy_and_p90_by_hand() -> None:
    # one station of one unit per area; exact two-unit system by hand
    t = pd.DataFrame({"S1": [100.0, 400.0], "S2": [500.0, 150.0]}, index=["A", "B"])
    lam, tau = np.array([1.0, 0.5]), 0.5  # calls per hour, hours
    w = station_workload(t, lam, 60 * tau, standard_s=300.0, solver="exact")
    # states 00, 10 (S1 busy), 01, 11 with rates 1.5 in, 2 out: solve by hand
    L, mu = lam.sum(), 1 / tau
    q = np.array(
        [[-L, lam[0], lam[1], 0], [mu, -(mu + L), 0, L], [mu, 0, -(mu + L), L], [0, mu, mu, -2 * mu]]
    )
    a = np.vstack([q.T[:-1], np.ones(4)])
    pi = np.linalg.solve(a, np.r_[0, 0, 0, 1.0])
    assert w.areas.loc["A", "busy_fraction_first_due"] == pytest.approx(pi[1] + pi[3])
    assert w.areas.loc["A", "second_due_share"] == pytest.approx(pi[1])
    assert w.areas.loc["A", "lost_share"] == pytest.approx(pi[3])
    assert w.areas.loc["A", "expected_coverage"] == pytest.approx(pi[0] + pi[2])
    # A: 100 s with pi0 + pi2 (~0.71), 500 s with pi1 (~0.15), lost pi3 (~0.14): p90 beyond reach
    assert w.areas.loc["A", "expected_response_p90_s"] == np.inf
    assert weighted_quantile(np.array([100.0, 500.0, np.inf]), np.array([0.8, 0.15, 0.05]), 0.9) == 500.0
    assert list(w.areas["first_due"]) == ["S1", "S2"]


def test_by_hour_equals_the_day_when_rates_are_flat() -> None:
    t = _times(3, 10, 3)
    rates = pd.DataFrame(np.full((10, 24), 0.3), index=t.index, columns=range(24))
    per_hour, table = workload_by_hour(t, rates, 30.0, standard_s=300.0)
    day = station_workload(t, np.full(10, 0.3), 30.0, standard_s=300.0)
    assert per_hour[7].stations["busy_fraction"].to_numpy() == pytest.approx(
        day.stations["busy_fraction"].to_numpy()
    )
    assert table.index[-1] == "city" and set(table.index[:-1]) == set(day.areas["first_due"])
    assert (table.loc["city"] == day.city["expected_response_p90_s"]).all()
    night = rates.copy()
    night[3] = 0.01
    _, quiet = workload_by_hour(t, night, 30.0)
    assert quiet.loc["city", 3] <= quiet.loc["city", 12]
    with pytest.raises(InputError, match=r"0\.\.23"):
        workload_by_hour(t, rates.iloc[:, :12], 30.0)


def test_concurrency_poisson_and_erlang() -> None:
    r = pd.DataFrame(np.tile(np.linspace(0.5, 3.0, 24), (2, 1)), columns=range(24))
    c = concurrency_by_hour(r, pd.Series([30.0, 90.0]), k_max=3, units=4)
    mean = r.to_numpy()[0] * 0.5 + r.to_numpy()[1] * 1.5
    assert c["mean_in_progress"].to_numpy() == pytest.approx(mean)
    assert c["p_at_least_3"].to_numpy() == pytest.approx(stats.poisson.sf(2, mean))
    a = mean[5]
    erlang_b = (a**4 / 24) / sum(a**k / np.prod(range(1, k + 1)) for k in range(5))
    assert c.loc[5, "p_all_units_busy"] == pytest.approx(erlang_b)
    assert (np.diff(c["p_at_least_1"]) > 0).all()


def test_queueing_swap_finds_the_brute_force_optimum() -> None:
    for seed in (4, 7, 11):
        t = _times(seed, 12, 6)
        rates = np.random.default_rng(seed).random(12) * 2
        evaluate = {
            sites: station_workload(t[list(sites)], rates, 40.0, standard_s=300.0, solver="exact").city[
                "expected_coverage"
            ]
            for sites in combinations(t.columns, 2)
        }
        best = max(evaluate.values())
        worst = min(evaluate, key=evaluate.__getitem__)
        res = queueing_swap(t, rates, 40.0, list(worst), standard_s=300.0, solver="exact")
        assert res.expected_coverage == pytest.approx(best)
        assert res.start_coverage == pytest.approx(evaluate[worst]) and res.moves


def test_queueing_swap_keeps_fixed_sites_and_checks_the_plan() -> None:
    t = _times(5, 12, 5)
    rates = np.ones(12)
    res = queueing_swap(t, rates, 30.0, ["S0", "S1"], standard_s=300.0, fixed=["S0"])
    assert "S0" in res.sites and res.expected_coverage >= res.start_coverage
    with pytest.raises(InputError, match="fixed"):
        queueing_swap(t, rates, 30.0, ["S1"], standard_s=300.0, fixed=["S0"])
    with pytest.raises(InputError, match="not columns"):
        queueing_swap(t, rates, 30.0, ["S9"], standard_s=300.0)


def test_bad_inputs_are_named() -> None:
    t = pd.DataFrame({"S1": [100.0, np.nan]})
    with pytest.raises(InputError, match="without NaN"):
        station_workload(t, [1.0, 1.0], 30.0)
    with pytest.raises(InputError, match="one rate per area"):
        station_workload(pd.DataFrame({"S1": [1.0, 2.0]}), [1.0], 30.0)
    with pytest.raises(InputError, match="response_units"):
        station_workload(pd.DataFrame({"S1": [1.0]}), [1.0], 30.0, response_units=[0])
    with pytest.raises(InputError, match="one service time"):
        station_workload(pd.DataFrame({"S1": [1.0, 2.0]}), [1.0, 1.0], [30.0, 40.0], solver="exact")
    assert exact_hypercube(np.array([1.0]), np.array([[0]]), 1.0).busy[0] == pytest.approx(0.5)
