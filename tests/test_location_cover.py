"""Set covering (LSCP) at size: the LP bound, the row reduction it runs on, the cover local search.

Every bound must hold against brute force on small instances and against HiGHS (the MILP's
optimum, the LP's value) on medium ones; every cover returned must cover every row, and the
local search must never return a larger cover than it started from.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.spatial import cKDTree

from planning.location import lscp
from planning.location._bound import cover_lagrangian, cover_lp_bound, cover_value
from planning.location._cover_search import improve_cover
from planning.location._heuristics import greedy_cover
from planning.location._milp import MilpModel, solve_milp
from planning.location._reduce import merge_rows, rows_with_subset

BoolArray = npt.NDArray[np.bool_]


def disc_cover(seed: int, n: int, m: int, side: float, radius: float) -> sp.csr_array:
    """Rows (uniform points) x columns (uniform sites) within ``radius``; identical rows merged."""
    rng = np.random.default_rng(seed)
    d, c = rng.uniform(0, side, (n, 2)), rng.uniform(0, side, (m, 2))
    S = sp.csr_array(cKDTree(d).sparse_distance_matrix(cKDTree(c), radius, output_type="coo_matrix"))
    A = sp.csr_array((np.ones(S.nnz, dtype=np.int8), S.indices, S.indptr), shape=S.shape)
    A = sp.csr_array(A[np.diff(A.indptr) > 0])
    A.sort_indices()
    return merge_rows(A, np.ones(A.shape[0])).A


def fewest(a: BoolArray) -> int:
    m = a.shape[1]
    return next(
        k
        for k in range(m + 1)
        if any(a[:, list(c)].any(axis=1).all() for c in itertools.combinations(range(m), k))
    )


def milp_optimum(a: sp.csr_array) -> float:
    r, k = a.shape
    model = MilpModel(
        np.ones(k), a, np.ones(r), np.full(r, np.inf), np.zeros(k), np.ones(k), np.ones(k, dtype=bool)
    )
    out = solve_milp(model, maximize=False, time_limit_s=120.0, mip_gap=0.0)
    assert out.status == "optimal"
    return out.objective


def lp_value(a: sp.csr_array) -> float:
    k = a.shape[1]
    out = linprog(
        np.ones(k), A_ub=-sp.csr_array(a, dtype=np.float64), b_ub=-np.ones(a.shape[0]), bounds=(0, 1)
    )
    assert out.status == 0
    return float(out.fun)


small = st.tuples(st.integers(0, 10_000), st.integers(6, 30), st.integers(3, 8))


def random_cover(seed: int, n: int, m: int) -> BoolArray:
    rng = np.random.default_rng(seed)
    A = rng.random((n, m)) < rng.uniform(0.15, 0.5)
    A[np.arange(n), rng.integers(0, m, n)] = True  # every row coverable
    return A


# ----------------------------------------------------------------------------- the row reduction


@settings(max_examples=60, deadline=None)
@given(case=small)
def test_rows_with_subset_are_exactly_the_one_column_supersets(case: tuple[int, int, int]) -> None:
    A = random_cover(*case)
    M = merge_rows(sp.csr_array(A.astype(np.int8)), np.ones(len(A))).A
    D = M.toarray().astype(bool)
    size = D.sum(axis=1)
    inside = (D.astype(int) @ D.T.astype(int)) == size[None, :]  # [i, k]: S(k) within S(i)
    expected = (inside & (size[None, :] == size[:, None] - 1)).any(axis=1)
    assert rows_with_subset(M).tolist() == expected.tolist()


def test_rows_left_out_keep_the_lp_value() -> None:
    A = disc_cover(0, 1_500, 150, 20_000.0, 2_500.0)
    keep = ~rows_with_subset(A)
    assert 0 < keep.sum() < A.shape[0]
    assert lp_value(sp.csr_array(A[np.flatnonzero(keep)])) == pytest.approx(lp_value(A), rel=1e-7)


# ----------------------------------------------------------------------------- the bounds


@settings(max_examples=60, deadline=None)
@given(case=small, scale=st.floats(0.0, 3.0))
def test_any_multiplier_bounds_the_fewest_sites(case: tuple[int, int, int], scale: float) -> None:
    A = random_cover(*case)
    u = np.random.default_rng(case[0]).random(len(A)) * scale
    assert cover_value(sp.csr_array(A.astype(np.int8)), u) <= fewest(A) + 1e-9


@settings(max_examples=40, deadline=None)
@given(case=small)
def test_lp_bound_is_below_the_fewest_sites(case: tuple[int, int, int]) -> None:
    A = random_cover(*case)
    M = sp.csr_array(A.astype(np.int8))
    bound, u = cover_lp_bound(M, time_limit_s=5.0)
    assert u is not None and (u >= 0).all()
    assert bound <= fewest(A)


@pytest.mark.parametrize("seed", range(3))
def test_lp_bound_against_highs_on_a_medium_instance(seed: int) -> None:
    """PDLP's duals, checked exactly: at most the LP value (rounded up) and the MILP's optimum."""
    A = disc_cover(seed, 2_000, 200, 20_000.0, 2_500.0)
    bound, u = cover_lp_bound(A, time_limit_s=10.0)
    lp = lp_value(A)
    assert u is not None
    assert bound <= np.ceil(lp - 1e-6) <= milp_optimum(A)
    assert bound >= 0.97 * lp  # PDLP converges on this size: the bound is the LP's
    polished, _ = cover_lagrangian(A, upper=milp_optimum(A), t_end=float("inf"), u0=u, step=0.1)
    assert polished <= np.ceil(lp - 1e-6)


# ----------------------------------------------------------------------------- the local search


@settings(max_examples=40, deadline=None)
@given(case=small, kick=st.integers(0, 4))
def test_local_search_returns_a_cover_never_larger(case: tuple[int, int, int], kick: int) -> None:
    A = random_cover(*case)
    M = sp.csr_array(A.astype(np.int8))
    start = np.arange(A.shape[1], dtype=np.intp)  # every site: the worst cover
    cols = improve_cover(M, start, t_end=float("inf"), kick_sites=kick, max_stall=20, seed=case[0])
    assert A[:, cols].any(axis=1).all()
    assert fewest(A) <= len(cols) <= A.shape[1]
    assert len(np.unique(cols)) == len(cols)


def test_local_search_rejects_a_start_that_is_not_a_cover() -> None:
    M = sp.csr_array(np.array([[1, 0], [0, 1]], dtype=np.int8))
    with pytest.raises(ValueError, match="cover of every row"):
        improve_cover(M, np.array([0]), t_end=float("inf"))


def test_local_search_improves_the_greedy_on_a_medium_instance() -> None:
    A = disc_cover(1, 2_000, 200, 20_000.0, 2_500.0)
    g = greedy_cover(A)
    cols = improve_cover(A, g, t_end=float("inf"), max_stall=50)
    assert A.toarray()[:, cols].any(axis=1).all()
    assert milp_optimum(A) <= len(cols) < len(g)


# ----------------------------------------------------------------------------- lscp on the large path


@pytest.fixture
def no_milp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every instance treated as too large for HiGHS' MILP: the path of 100,000 x 5,000."""
    from planning.location import _set_cover

    monkeypatch.setattr(_set_cover, "MILP_MAX_ENTRIES", 0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=small)
def test_lscp_large_path_bound_and_cover_against_brute_force(
    no_milp: None, case: tuple[int, int, int]
) -> None:
    A = random_cover(*case)
    cost = np.where(A, 1.0, 9.0)
    res = lscp(cost, 2.0, reduce=False, time_limit_s=10.0)
    assert res.bound <= fewest(A) <= res.objective
    assert A[:, res.selected].any(axis=1).all()


def test_lscp_large_path_on_a_medium_instance(no_milp: None) -> None:
    """The LP bound, the local search, no MILP: a real cover and a bound below HiGHS' optimum."""
    rng = np.random.default_rng(3)
    d, c = rng.uniform(0, 20_000, (2_000, 2)), rng.uniform(0, 20_000, (200, 2))
    S = sp.csr_array(cKDTree(d).sparse_distance_matrix(cKDTree(c), 4_000.0, output_type="coo_matrix"))
    res = lscp(S, 2_500.0, allow_unreachable=True, time_limit_s=10.0)
    A = disc_cover(3, 2_000, 200, 20_000.0, 2_500.0)
    best = milp_optimum(A)
    assert res.bound <= best <= res.objective
    assert res.coverage_count is not None
    assert (res.coverage_count[np.setdiff1d(np.arange(2_000), res.unreachable)] > 0).all()
    assert any("PDLP" in n for n in res.notes) and any("local search" in n for n in res.notes)
    assert res.objective <= 1.15 * best and res.bound >= 0.7 * best  # quality, loosely: the time is short


# ----------------------------------------------------------------------------- coverage swaps


@settings(max_examples=40, deadline=None)
@given(case=small, p=st.integers(1, 4), theta=st.sampled_from([None, 0.0, 0.4]))
def test_several_swaps_per_round_keep_the_objective_exact(
    case: tuple[int, int, int], p: int, theta: float | None
) -> None:
    """Swaps made in one round on disjoint rows: the value reported is the value of the sites."""
    from planning.location._heuristics import coverage_search, coverage_value

    a = random_cover(*case)
    m = a.shape[1]
    p = min(p, m - 1)
    cover = sp.csr_array(a.astype(np.int8))
    w = np.random.default_rng(case[0]).integers(1, 10, len(a)).astype(np.float64)
    values = np.array([0.0, 1.0]) if theta is None else np.array([0.0, theta, 1.0])
    base = np.zeros(len(a), dtype=np.int64)
    cols, value = coverage_search(cover, w, p, base=base, values=values, max_stall=5)
    assert len(cols) == p
    assert value == pytest.approx(coverage_value(cover, w, base, values, cols))
    best = max(
        coverage_value(cover, w, base, values, np.array(c, dtype=np.intp))
        for c in itertools.combinations(range(m), p)
    )
    assert value <= best + 1e-9
