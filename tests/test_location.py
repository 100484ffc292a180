"""Location models against brute force on tiny instances, plus invariants and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from gis.errors import InputError
from planning.location import LocationResult, backup_coverage, lscp, mclp, mexclp, p_center, p_median
from planning.location._milp import have_highspy
from planning.location._reduce import coverage_matrix, dominated_columns, merge_rows

FloatArray = npt.NDArray[np.float64]
SEEDS = range(12)
RADIUS = 8.0


def instance(seed: int, n: int = 10, m: int = 6, inf_share: float = 0.1) -> tuple[FloatArray, FloatArray]:
    """Integer costs 0..20 (ties on purpose), some unreachable pairs, weights 1..9."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 21, size=(n, m)).astype(np.float64)
    cost[rng.random((n, m)) < inf_share] = np.inf
    return cost, rng.integers(1, 10, size=n).astype(np.float64)


def combos(m: int, p: int, existing: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    free = [j for j in range(m) if j not in existing]
    return [tuple(sorted(existing + c)) for c in itertools.combinations(free, p)]


def cover_value(cost: FloatArray, w: FloatArray, cols: tuple[int, ...], theta: float | None = None) -> float:
    count = (cost[:, list(cols)] <= RADIUS).sum(axis=1)
    if theta is None:
        return float(w @ (count >= 1))
    return float(w @ (theta * (count >= 1) + (1 - theta) * (count >= 2)))


def transport_cost(cost: FloatArray, w: FloatArray, cap: FloatArray, cols: tuple[int, ...]) -> float:
    """Cheapest split assignment of weights to the open columns within capacities (LP)."""
    sub = cost[:, list(cols)]
    n, k = sub.shape
    c = np.where(np.isfinite(sub), w[:, None] * sub, 0.0).ravel()
    ub = np.where(np.isfinite(sub), 1.0, 0.0).ravel()
    a_eq = np.kron(np.eye(n), np.ones(k))
    a_ub = np.zeros((k, n * k))
    for i in range(n):
        a_ub[:, i * k : (i + 1) * k] = np.eye(k) * w[i]
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=cap[list(cols)],
        A_eq=a_eq,
        b_eq=np.ones(n),
        bounds=list(zip(0 * ub, ub, strict=True)),
    )
    return float(res.fun) if res.status == 0 else math.inf


# ----------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("existing", [(), (1,)])
def test_mclp_brute_force(seed: int, existing: tuple[int, ...]) -> None:
    cost, w = instance(seed)
    for p in (1, 2, 3):
        best = max(cover_value(cost, w, c) for c in combos(cost.shape[1], p, existing))
        res = mclp(cost, w, RADIUS, p, existing=list(existing))
        assert res.status == "optimal"
        assert res.objective == pytest.approx(best)
        assert res.bound >= res.objective - 1e-9
        assert len(res.new_sites) == p and set(existing) <= set(res.selected.tolist())
        assert cover_value(cost, w, tuple(res.selected)) == pytest.approx(res.objective)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_mclp_methods_agree_or_report_gap(seed: int, method: str) -> None:
    cost, w = instance(seed, n=14, m=8)
    best = max(cover_value(cost, w, c) for c in combos(8, 3))
    res = mclp(cost, w, RADIUS, 3, method=method, reduce=method == "exact")
    assert res.objective <= best + 1e-9 <= res.bound + 2e-9
    if method == "exact":
        assert res.objective == pytest.approx(best)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("theta", "existing"), [(0.0, ()), (0.3, ()), (0.0, (2,)), (0.7, (0, 4))])
def test_backup_brute_force(seed: int, theta: float, existing: tuple[int, ...]) -> None:
    cost, w = instance(seed)
    for p in (1, 2, 3):
        best = max(cover_value(cost, w, c, theta) for c in combos(6, p, existing))
        res = backup_coverage(cost, w, RADIUS, p, existing=list(existing), first_cover_weight=theta)
        assert res.status == "optimal"
        assert res.objective == pytest.approx(best)
        assert set(existing) <= set(res.selected.tolist()) and len(res.new_sites) == p


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("existing", [(), (3,)])
def test_lscp_brute_force(seed: int, existing: tuple[int, ...]) -> None:
    cost, _ = instance(seed, n=10, m=7, inf_share=0.0)
    reach = (cost <= RADIUS).any(axis=1)
    cost = cost[reach]
    needed = next(
        k
        for k in range(8)
        if any((cost[:, list(c)] <= RADIUS).any(axis=1).all() for c in combos(7, k, existing))
    )
    res = lscp(cost, RADIUS, existing=list(existing))
    assert res.objective == needed == len(res.new_sites)
    assert res.status == "optimal" and res.bound == needed
    assert res.covered is not None and res.covered.all()
    assert (res.assignment >= 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_capacitated_lscp_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    cost = rng.integers(0, 12, size=(7, 5)).astype(np.float64)
    cost[:, 0] = 1.0  # every row can reach column 0, so the instance is feasible with enough capacity
    w = rng.integers(1, 4, size=7).astype(np.float64)
    cap = rng.integers(3, 9, size=5).astype(np.float64)
    cap[0] = w.sum()
    inside = np.where(cost <= RADIUS, 1.0, np.inf)
    needed = next(
        k for k in range(1, 6) if any(transport_cost(inside, w, cap, c) < math.inf for c in combos(5, k))
    )
    res = lscp(cost, RADIUS, capacities=cap, weights=w)
    assert res.objective == needed and res.status == "optimal"
    assert transport_cost(inside, w, cap, tuple(res.selected)) < math.inf


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("existing", [(), (0,)])
def test_p_median_brute_force(seed: int, existing: tuple[int, ...]) -> None:
    cost, w = instance(seed, inf_share=0.0)
    for p in (1, 2, 3):
        best = min(float(w @ cost[:, list(c)].min(axis=1)) for c in combos(6, p, existing)) / w.sum()
        res = p_median(cost, w, p, existing=list(existing))
        assert res.status == "optimal"
        assert res.objective == pytest.approx(best)
        assert res.bound <= res.objective + 1e-9
        assert set(existing) <= set(res.selected.tolist()) and len(res.new_sites) == p


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_p_median_k_nearest_bound_stays_valid(seed: int) -> None:
    cost, w = instance(seed, n=12, m=8, inf_share=0.0)
    best = min(float(w @ cost[:, list(c)].min(axis=1)) for c in combos(8, 2)) / w.sum()
    res = p_median(cost, w, 2, k_nearest=2, method="exact")
    assert res.bound <= best + 1e-9 <= res.objective + 2e-9
    lag = p_median(cost, w, 2, method="heuristic")
    assert lag.bound <= best + 1e-9 <= lag.objective + 2e-9
    assert lag.status in {"heuristic", "optimal"}


@pytest.mark.parametrize("seed", SEEDS[:6])
def test_capacitated_p_median_brute_force(seed: int) -> None:
    cost, w = instance(seed, n=7, m=5, inf_share=0.0)
    cap = np.full(5, w.sum() / 2 + 1)
    best = min(transport_cost(cost, w, cap, c) for c in combos(5, 2)) / w.sum()
    res = p_median(cost, w, 2, capacities=cap)
    assert res.objective == pytest.approx(best, rel=1e-6)
    assert res.status == "optimal"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("existing", [(), (5,)])
def test_p_center_brute_force(seed: int, existing: tuple[int, ...]) -> None:
    cost, _ = instance(seed, inf_share=0.0)
    for p in (1, 2, 3):
        best = min(float(cost[:, list(c)].min(axis=1).max()) for c in combos(6, p, existing))
        res = p_center(cost, p, existing=list(existing))
        assert res.objective == best == res.bound
        assert res.status == "optimal"
        assert set(existing) <= set(res.selected.tolist()) and len(res.new_sites) == p


# ----------------------------------------------------------------------------- invariants


@st.composite
def coverage_instances(draw: st.DrawFn) -> tuple[FloatArray, FloatArray, list[int]]:
    n = draw(st.integers(3, 12))
    m = draw(st.integers(2, 7))
    cost = np.array(draw(st.lists(st.integers(0, 15), min_size=n * m, max_size=n * m)), dtype=float).reshape(
        n, m
    )
    w = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype=float)
    existing = draw(st.lists(st.integers(0, m - 1), max_size=m - 1, unique=True))
    return cost, w, existing


@given(coverage_instances())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_more_sites_never_lower_coverage(inst: tuple[FloatArray, FloatArray, list[int]]) -> None:
    cost, w, existing = inst
    if not (cost <= RADIUS).any():
        return
    free = cost.shape[1] - len(existing)
    prev_cover, prev_backup = -1.0, -1.0
    for p in range(free + 1):
        res = mclp(cost, w, RADIUS, p, existing=existing)
        back = backup_coverage(cost, w, RADIUS, p, existing=existing)
        assert set(existing) <= set(res.selected.tolist()) and set(existing) <= set(back.selected.tolist())
        assert res.objective >= prev_cover - 1e-9 and back.objective >= prev_backup - 1e-9
        prev_cover, prev_backup = res.objective, back.objective


@given(coverage_instances())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_existing_always_selected_and_more_sites_never_worse(
    inst: tuple[FloatArray, FloatArray, list[int]],
) -> None:
    cost, w, existing = inst
    w = w + 1.0
    prev_median, prev_center = math.inf, math.inf
    for p in range(int(not existing), cost.shape[1] - len(existing) + 1):
        med = p_median(cost, w, p, existing=existing)
        cen = p_center(cost, p, existing=existing)
        for res in (med, cen):
            assert set(existing) <= set(res.selected.tolist())
            assert res.is_existing.sum() == len(existing)
        assert med.objective <= prev_median + 1e-9 and cen.objective <= prev_center + 1e-9
        prev_median, prev_center = med.objective, cen.objective


# ----------------------------------------------------------------------------- result object


def test_result_is_frozen_and_self_consistent() -> None:
    cost, w = instance(3)
    res = mclp(cost, w, RADIUS, 2, existing=[0])
    assert isinstance(res, LocationResult)
    with pytest.raises(AttributeError):
        res.objective = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        res.selected[0] = 5
    assert res.existing.tolist() == [0] and len(res.new_sites) == 2
    assert res.coverage_share == pytest.approx(res.objective / w.sum())
    covered = res.covered
    assert covered is not None
    assert ((res.assignment >= 0) == covered).all()
    assert np.isin(res.assignment[covered], res.selected).all()
    assert res.gap == 0.0 and "mclp: optimal" in res.summary()


def test_caller_arrays_untouched() -> None:
    cost, w = instance(4)
    before = cost.copy()
    mclp(cost, w, RADIUS, 2)
    assert np.array_equal(cost, before) and cost.flags.writeable


# ----------------------------------------------------------------------------- reduction


def test_merge_and_dominance_are_exact() -> None:
    cost, w = instance(7, n=30, m=8)
    A = coverage_matrix(cost, RADIUS)
    merged = merge_rows(A, w)
    assert merged.weights.sum() == pytest.approx(w.sum())
    assert (merged.A.toarray()[merged.group] == A.toarray()).all()
    dom = dominated_columns(A)
    dense = A.toarray().astype(bool)
    for j in np.flatnonzero(dom):
        assert any((dense[:, j] <= dense[:, k]).all() for k in np.flatnonzero(~dom))
    full = mclp(cost, w, RADIUS, 3, reduce=False)
    red = mclp(cost, w, RADIUS, 3, reduce=True)
    assert full.objective == pytest.approx(red.objective)


# ----------------------------------------------------------------------------- bad input


def test_infeasible_lscp_lists_unreachable_rows() -> None:
    cost = np.array([[1.0, 2.0], [50.0, np.inf], [3.0, 1.0], [np.inf, np.inf]])
    with pytest.raises(InputError, match=r"rows \[1, 3\]") as err:
        lscp(cost, 10.0)
    assert "`radius`" in str(err.value) and "allow_unreachable" in str(err.value)
    res = lscp(cost, 10.0, allow_unreachable=True)
    assert res.unreachable.tolist() == [1, 3] and res.objective == 1
    assert res.assignment.tolist()[1] == -1 and any("[1, 3]" in n for n in res.notes)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda c, w: mclp(c, w, 5.0, 4), r"`n_new` = 4 new sites but only 3"),
        (lambda c, w: mclp(c, w, 5.0, 2, existing=[0, 1]), r"`n_new` = 2 new sites but only 1"),
        (lambda c, w: mclp(np.zeros((3, 0)), w, 5.0, 1), r"`cost` has no candidate columns"),
        (lambda c, w: mclp(c, w, 0.5, 1), r"no demand row can be reached"),
        (lambda c, w: p_median(np.full((3, 3), np.inf), w, 1), r"no demand row can be reached"),
        (
            lambda c, w: mclp(np.where(c == 8, np.nan, c), w, 5.0, 1),
            r"`cost` has 1 NaN value\(s\) at \(row, column\) \[\(1, 2\)\]",
        ),
        (lambda c, w: mclp(-c, w, 5.0, 1), r"`cost` has 9 negative value\(s\) at \(row, column\) \[\(0, 0\)"),
        (lambda c, w: mclp(c, w[:2], 5.0, 1), r"`weights` has 2 values but `cost` has 3"),
        (
            lambda c, w: mclp(c, -w, 5.0, 1),
            r"`weights` has NaN, infinite or negative values at rows \[0, 1, 2\]",
        ),
        (lambda c, w: mclp(c, w, -1.0, 1), r"`radius` is -1"),
        (lambda c, w: mclp(c, w, 5.0, 1, existing=[7]), r"`existing` has column indices \[7\] outside 0..2"),
        (lambda c, w: mclp(c, w, 5.0, 1, existing=[1, 1]), r"`existing` repeats columns \[1\]"),
        (lambda c, w: p_median(c, w, 0), r"no site would be open"),
        (lambda c, w: p_median(c, w, 1, capacities=[1, 1, 1]), r"largest `capacities` add up to 1"),
        (
            lambda c, w: lscp(c, 5.0, capacities=[1, 1, 1], weights=[5, 5, 5]),
            r"total `capacities` 3 is below",
        ),
        (lambda c, w: mclp(c, w, 5.0, 1, method="fast"), r"`method` is 'fast'"),
        (lambda c, w: p_median(np.array([[1.0, np.inf], [np.inf, 1.0], [1.0, 1.0]]), w, 1), r"finite cost"),
    ],
)
def test_bad_input_is_explained(call: object, pattern: str) -> None:
    cost = np.array([[1.0, 4.0, 9.0], [6.0, 2.0, 8.0], [9.0, 7.0, 3.0]])
    w = np.array([1.0, 2.0, 3.0])
    with pytest.raises(InputError, match=pattern):
        call(cost, w)  # type: ignore[operator]


def test_time_limit_returns_best_solution_with_gap() -> None:
    # 5,000 x 500, p = 20 in a 20 km square: HiGHS alone still has a 1.7 % gap after 300 s
    rng = np.random.default_rng(0)
    pts, cands = rng.uniform(0, 20_000, (5000, 2)), rng.uniform(0, 20_000, (500, 2))
    cost = np.hypot(pts[:, None, 0] - cands[None, :, 0], pts[:, None, 1] - cands[None, :, 1])
    w = rng.integers(1, 1001, 5000).astype(float)
    res = mclp(cost, w, 2500.0, 20, time_limit_s=2.0)
    assert res.status == "time_limit" and res.gap > 0
    assert res.bound > res.objective > 0 and len(res.new_sites) == 20
    assert any("time limit" in note for note in res.notes)
    heur = mclp(cost, w, 2500.0, 20, method="heuristic", time_limit_s=2.0)
    assert heur.status == "heuristic" and heur.bound >= res.objective


@pytest.mark.skipif(not have_highspy(), reason="highspy not installed: the SciPy back end is the only one")
def test_scipy_backend_agrees_with_highspy(monkeypatch: pytest.MonkeyPatch) -> None:
    from planning.location import _milp

    cost, w = instance(5, n=20, m=8)
    a = mclp(cost, w, RADIUS, 3, method="exact")
    monkeypatch.setattr(_milp, "have_highspy", lambda: False)
    b = mclp(cost, w, RADIUS, 3, method="exact")
    assert a.objective == pytest.approx(b.objective) and "scipy" in b.solver


@pytest.mark.parametrize("seed", range(6))
def test_enumeration_shortcut_equals_the_milp(seed: int) -> None:
    """Instances small enough after reduction are solved by scoring every subset: same optimum."""
    cost, w = instance(seed, n=60, m=18, inf_share=0.2)
    fast = mclp(cost, w, RADIUS, 4)
    exact = mclp(cost, w, RADIUS, 4, method="exact")
    assert fast.solver == "enumeration"
    assert fast.status == "optimal" and fast.bound == pytest.approx(fast.objective)
    assert fast.objective == pytest.approx(exact.objective)
    assert cover_value(cost, w, tuple(fast.selected)) == pytest.approx(fast.objective)
    backup_fast = backup_coverage(cost, w, RADIUS, 4, first_cover_weight=0.3)
    backup_exact = backup_coverage(cost, w, RADIUS, 4, first_cover_weight=0.3, method="exact")
    assert backup_fast.objective == pytest.approx(backup_exact.objective)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("existing", [(), (2, 5)])
def test_lscp_reduction_and_enumeration_equal_the_milp(seed: int, existing: tuple[int, ...]) -> None:
    """Small LSCPs are reduced to a fixed point and solved by trying sets of growing size."""
    rng = np.random.default_rng(seed)
    cost, _ = instance(seed, n=int(rng.integers(20, 80)), m=int(rng.integers(8, 24)), inf_share=0.3)
    cost = cost[(cost <= RADIUS).any(axis=1)]
    fast = lscp(cost, RADIUS, existing=list(existing))
    exact = lscp(cost, RADIUS, existing=list(existing), method="exact")
    assert fast.solver == "enumeration"
    assert fast.status == "optimal" and fast.bound == fast.objective == exact.objective
    assert set(existing) <= set(fast.selected.tolist())
    assert (cost[:, fast.selected] <= RADIUS).any(axis=1).all()


def test_cover_reduce_keeps_a_minimum_cover() -> None:
    from planning.location._exact import cover_enumerate, cover_reduce

    for seed in range(30):
        rng = np.random.default_rng(seed)
        A = rng.random((12, 7)) < 0.3
        A[np.arange(12), rng.integers(0, 7, 12)] = True  # every row has a column
        needed = next(
            k
            for k in range(8)
            for c in itertools.combinations(range(7), k)
            if A[:, list(c)].any(axis=1).all()
        )
        forced, rest, _ = cover_reduce(A)
        got = cover_enumerate(A)
        assert got is not None and len(got) == needed and A[:, got].any(axis=1).all()
        assert len(forced) <= needed and (rest.any(axis=1)).all()


def test_infeasible_capacitated_p_median_is_a_solver_error() -> None:
    from gis import SolverError

    inf = math.inf
    # rows 0 and 1 (20 units) can only reach site 0, which holds 15: no assignment exists,
    # though the capacities add up to the demand
    cost = np.array([[1.0, inf], [1.0, inf], [inf, 1.0]])
    with pytest.raises(SolverError, match=r"capacities.*Fix:") as err:
        p_median(cost, np.array([10.0, 10.0, 10.0]), 2, capacities=np.array([15.0, 15.0]))
    assert isinstance(err.value, InputError)  # the CLI exits 2, the API answers 422


def test_results_name_their_model_as_plans_and_the_command_line_do() -> None:
    from planning.names import MODELS

    cost = np.array([[1.0, 4.0], [6.0, 2.0]])
    w = [1.0, 1.0]
    results = [
        lscp(cost, 3.0),
        mclp(cost, w, 3.0, 1),
        p_median(cost, w, 1),
        p_center(cost, 1),
        backup_coverage(cost, w, 3.0, 1),
        mexclp(cost, w, 3.0, 1, busy_fraction=0.2).location,
    ]
    assert tuple(r.model for r in results) == MODELS
