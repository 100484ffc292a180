"""Median and center models: :func:`p_median` and :func:`p_center` on a demand x candidate cost matrix.

p-median: heuristic incumbent, then an assignment MILP on each row's nearest candidates (with an
"elsewhere" variable that keeps the bound valid), or a Lagrangian bound; optionally capacitated.
p-center: binary search over the distinct costs, each radius decided by the shared set-covering
solve (:mod:`._set_cover`).

``n_new`` always counts *new* sites; ``existing`` columns are open in every solution.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gis.errors import InputError
from gis.speech import say

from ._costs import densify, nearest_open, row_max, row_of_entry
from ._heuristics import center_greedy, median_cost, median_lagrangian_bound, median_search, worst_cost
from ._median_sparse import (
    median_alternate,
    median_greedy,
    median_repair,
    median_sparse_bound,
    sparse_median_cost,
)
from ._milp import assignment_model, main_assignment
from ._reduce import coverage_matrix, nearest_candidates
from ._result import LocationResult, relative_gap
from ._scaffold import (
    HEURISTIC_SHARE,
    Best,
    FloatArray,
    IntArray,
    Method,
    assemble_result,
    check_method,
    free_columns,
    solve_assignment,
    solve_deadline,
)
from ._set_cover import solve_set_cover
from ._validate import Problem, validate_inputs

__all__ = ["p_center", "p_median"]

_MAX_PAIRS = 2_000_000  # p-median assignment variables before reducing to the k nearest
_DENSE_CELLS = 4_000_000  # a sparse cost up to this many cells is densified (the exact dense path)
_SPARSE_HEURISTIC_SHARE = 0.25  # of the time limit: greedy + locate-allocate on a large sparse cost
_SPARSE_BOUND_SHARE = 0.6  # of the time limit: the Lagrangian bound on a large sparse cost


def _dense_or_sparse(prob: Problem, model: str) -> tuple[Problem, bool]:
    """A small sparse cost densified (``inf`` where absent); ``True`` when it stays sparse."""
    if not prob.sparse:
        return prob, False
    n, m = prob.cost.shape
    if n * m <= _DENSE_CELLS:
        dense = densify(prob.cost)
        dense.flags.writeable = False
        return dataclasses.replace(prob, cost=dense), False
    if model == "p-center":
        msg = (
            f"`p_center` needs a dense `cost`, and this sparse one is {n:,} x {m:,}. Fix: solve "
            "`lscp` at a few radii (it takes sparse costs), or pass a smaller dense matrix."
        )
        raise InputError(msg)
    return prob, True


def p_median(
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
    n_new: int,
    *,
    existing: npt.ArrayLike | None = None,
    capacities: npt.ArrayLike | None = None,
    k_nearest: int | None = None,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> LocationResult:
    """p-median: ``n_new`` new sites minimising the weighted mean cost from demand to its nearest site.

    Parameters
    ----------
    cost, weights, n_new, existing, method, time_limit_s, mip_gap
        As in :func:`mclp`; every row needs at least one finite cost.
    capacities
        Per candidate column, the weight a site can serve; demand may then be split between
        sites and is not always served by the nearest (solved by the MILP only).
    k_nearest
        Give the MILP only the ``k`` cheapest candidates of each row, plus one "elsewhere"
        variable costing the row's (k+1)-th cost. The MILP's bound stays valid for the full
        problem and the solution is priced on the full matrix. Default: all candidates up to
        2 million demand-candidate pairs, then as many per row as fit.

    Returns
    -------
    LocationResult
        ``objective`` is the weighted mean cost; ``bound`` a lower bound on it.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0.0, 4.0, 8.0], [4.0, 0.0, 4.0], [8.0, 4.0, 0.0]])
    >>> res = p_median(cost, [1, 1, 3], n_new=1)
    >>> res.selected.tolist(), round(res.objective, 6), res.assignment.tolist()
    ([2], 2.4, [2, 2, 2])
    """
    t0 = time.perf_counter()
    check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(
        cost,
        weights=weights,
        n_new=n_new,
        existing=existing,
        capacities=capacities,
        need_facility=True,
        unreachable="raise",
    )
    if prob.capacities is not None and method == "heuristic":
        msg = "`capacities` need the MILP. Fix: use `method='auto'` or `'exact'`."
        raise InputError(msg)
    W = float(prob.weights.sum())
    if W <= 0:
        msg = "`weights` sum to 0, so every choice of sites has mean cost 0. Fix: give positive weights."
        raise InputError(msg)
    prob, stays_sparse = _dense_or_sparse(prob, "p-median")
    if stays_sparse:
        return _p_median_sparse(prob, method=method, time_limit_s=time_limit_s, mip_gap=mip_gap, t0=t0)
    n, m = prob.cost.shape
    n_open = prob.n_new + len(prob.existing)
    t_end = t0 + time_limit_s
    finite = np.isfinite(prob.cost)
    big = float(prob.cost[finite].max()) * (n + 1) + 1.0
    pen = np.where(finite, prob.cost, big)  # heuristics need finite costs
    best = Best("min")
    start_cols = None
    if prob.capacities is None and method != "exact":
        share = time_limit_s * (1.0 if method == "heuristic" else HEURISTIC_SHARE)
        start_cols, _ = median_search(pen, prob.weights, prob.n_new, fixed=prob.existing, time_limit_s=share)
        best.offer(start_cols, median_cost(prob.cost, prob.weights, start_cols) / W, "heuristic")
    if prob.capacities is not None:
        most = (
            prob.capacities[prob.existing].sum()
            + np.sort(np.delete(prob.capacities, prob.existing))[::-1][: prob.n_new].sum()
        )
        if most < W:
            msg = (
                f"the {n_open} largest `capacities` add up to {most:g}, below the total weight {W:g}. "
                "Fix: raise `n_new` or the capacities, or give `weights` in the unit of the capacities."
            )
            raise InputError(msg)
        k = m
    else:
        k = k_nearest if k_nearest is not None else (m if n * m <= _MAX_PAIRS else max(_MAX_PAIRS // n, 2))
        k = max(1, min(int(k), m))
    ran = method != "heuristic" and (best.cols is None or relative_gap(best.objective, best.bound) > mip_gap)
    assignment = None
    if ran:
        cols_k, costs_k, nxt = nearest_candidates(prob.cost, k)
        ok = np.isfinite(costs_k).ravel()
        pi = np.repeat(np.arange(n), k)[ok]
        pj = cols_k.ravel()[ok]
        elsewhere = None
        if k < m:  # any site beyond the k nearest costs at least the (k+1)-th cost: the bound stays valid
            elsewhere = np.where(np.isfinite(nxt), prob.weights * nxt / W, 1e6 * big)
            best.notes.append(say("loc_nearest_elsewhere", k=k))
        model = assignment_model(
            pi,
            pj,
            n_rows=n,
            n_candidates=m,
            cost=np.concatenate([np.zeros(m), prob.weights[pi] * costs_k.ravel()[ok] / W]),
            existing=prob.existing,
            load=prob.weights,
            capacities=prob.capacities,
            n_open=n_open,
            elsewhere_cost=elsewhere,
        )
        start = _median_start(
            start_cols, pi, pj, n_rows=n, n_candidates=m, with_elsewhere=elsewhere is not None
        )
        out = solve_assignment(model, best, t_end=t_end, mip_gap=mip_gap, n_open=n_open, start=start)
        assert out.x is not None
        xs = np.flatnonzero(out.x[:m] > 0.5).astype(np.intp)
        if prob.capacities is not None:
            best.offer(xs, out.objective, out.solver)
            assignment = main_assignment(pi, pj, out.x[m : m + len(pi)], n)
            best.notes.append(say("loc_capacitated"))
        else:
            best.offer(xs, median_cost(prob.cost, prob.weights, xs) / W, out.solver)
        best.tighten(out.bound)
    if not math.isfinite(best.bound) and prob.capacities is None:
        lag = median_lagrangian_bound(
            pen,
            prob.weights,
            n_open,
            fixed=prob.existing,
            upper=best.objective * W,
            time_limit_s=max(t_end - time.perf_counter(), 1.0),
        )
        best.tighten(lag / W)
        best.notes.append(say("loc_bound_assignment"))
    if best.cols is None or not math.isfinite(best.objective):
        msg = (
            f"no choice of {n_open} sites reaches every demand row at a finite cost. "
            "Fix: raise `n_new`, add candidates, or drop rows that only far-away sites can reach."
        )
        raise InputError(msg)
    return assemble_result(
        "p-median",
        prob,
        selected=best.cols,
        objective=best.objective,
        bound=min(best.bound, best.objective),
        status=best.status(mip_gap, ran),
        sense="min",
        t0=t0,
        solver=best.solver,
        notes=best.notes,
        assignment=assignment,
    )


def _p_median_sparse(
    prob: Problem, *, method: Method, time_limit_s: float, mip_gap: float, t0: float
) -> LocationResult:
    """p-median on a sparse cost too large to densify: lazy greedy, locate-allocate, Lagrangian bound.

    When the stored pairs fit the assignment MILP (``_MAX_PAIRS``), HiGHS gets the time left,
    warm-started; it is exact for the sparse problem (an absent pair cannot be assigned).
    """
    cost = prob.cost
    assert isinstance(cost, sp.csr_array)
    if prob.capacities is not None:
        n, m = cost.shape
        msg = (
            f"`capacities` with a sparse `cost` of {n:,} x {m:,} (too large to densify) are not supported. "
            "Fix: solve without `capacities`, or pass a smaller (dense) matrix."
        )
        raise InputError(msg)
    w, fixed = prob.weights, prob.existing
    W = float(w.sum())
    n_open = prob.n_new + len(fixed)
    t_pass = time.perf_counter()
    row_max(cost)  # one pass over the stored pairs: what pricing the answer at the end costs
    t_end = solve_deadline(t0, time_limit_s, time.perf_counter() - t_pass)
    budget = t_end - t0
    best = Best("min")
    t_greedy = time.perf_counter()
    cols = median_greedy(cost, w, prob.n_new, fixed=fixed)
    t_round = time.perf_counter()
    t_greedy = t_round - t_greedy
    cols, total = median_alternate(
        cost, w, cols, fixed=fixed, t_end=t0 + _SPARSE_HEURISTIC_SHARE * budget, rounds=1
    )
    t_round = time.perf_counter() - t_round  # what one round of locate-allocate costs here
    cols, total = median_alternate(
        cost, w, cols, fixed=fixed, t_end=t0 + _SPARSE_HEURISTIC_SHARE * budget, round_s=t_round
    )
    best.offer(cols, total / W, "heuristic")
    near = nearest_open(cost, cols)[1] if math.isfinite(total) else None
    start = w * near if near is not None else w * row_max(cost)
    # the multipliers' steps skip pairs well beyond the costs that serve rows in a good solution
    reach = (
        max(2.0 * float(np.median(near)), float(np.quantile(near, 0.99))) if near is not None else math.inf
    )
    bound, lag_cols, lag_cost = median_sparse_bound(
        cost,
        w,
        n_open,
        fixed=fixed,
        upper=total if math.isfinite(total) else float(w @ row_max(cost)),
        start=start,
        t_end=t0 + (_SPARSE_HEURISTIC_SHARE + _SPARSE_BOUND_SHARE) * budget,
        threshold=reach,
    )
    best.tighten((bound - 1e-9 * abs(bound)) / W)  # summed in floating point: a hair below
    best.notes.append(say("loc_bound_assignment_sparse"))
    if lag_cols is not None and not math.isfinite(lag_cost) and t_end - time.perf_counter() > 2 * t_greedy:
        repaired = median_repair(cost, w, lag_cols, fixed=fixed)  # the Lagrangian heuristic
        if repaired is not None:
            lag_cols, lag_cost = repaired, sparse_median_cost(cost, w, repaired)
    if lag_cols is not None and lag_cost < total:
        lag_cols, lag_cost = median_alternate(cost, w, lag_cols, fixed=fixed, t_end=t_end, round_s=t_round)
        best.offer(lag_cols, lag_cost / W, "lagrangian + locate-allocate")
    ran = False
    if (
        method != "heuristic"
        and cost.nnz <= _MAX_PAIRS
        and relative_gap(best.objective, best.bound) > mip_gap
    ):
        ran = True
        n, m = cost.shape
        pi = row_of_entry(cost)
        pj = cost.indices.astype(np.intp)
        model = assignment_model(
            pi,
            pj,
            n_rows=n,
            n_candidates=m,
            cost=np.concatenate([np.zeros(m), w[pi] * cost.data / W]),
            existing=fixed,
            load=w,
            capacities=None,
            n_open=n_open,
        )
        start_x = _median_start(best.cols, pi, pj, n_rows=n, n_candidates=m, with_elsewhere=False)
        out = solve_assignment(model, best, t_end=t_end, mip_gap=mip_gap, n_open=n_open, start=start_x)
        if out.x is not None:
            xs = np.flatnonzero(out.x[:m] > 0.5).astype(np.intp)
            best.offer(xs, sparse_median_cost(cost, w, xs) / W, out.solver)
        best.tighten(out.bound)
    if best.cols is None or not math.isfinite(best.objective):
        msg = (
            f"no choice of {n_open} sites found that reaches every demand row within the stored (cutoff) "
            "costs. Fix: raise `n_new`, add candidates, or build the sparse costs with a larger cutoff."
        )
        raise InputError(msg)
    return assemble_result(
        "p-median",
        prob,
        selected=best.cols,
        objective=best.objective,
        bound=min(best.bound, best.objective),
        status=best.status(mip_gap, ran),
        sense="min",
        t0=t0,
        solver=best.solver,
        notes=best.notes,
    )


def _median_start(
    cols: IntArray | None, pi: IntArray, pj: IntArray, *, n_rows: int, n_candidates: int, with_elsewhere: bool
) -> FloatArray | None:
    """Warm start of the p-median MILP: each row on its cheapest open listed pair, else elsewhere."""
    if cols is None:
        return None
    x = np.zeros(n_candidates)
    x[cols] = 1.0
    z = np.zeros(len(pi))
    open_pair = np.flatnonzero(x[pj] > 0)  # pairs are sorted by cost within each row
    first = np.full(n_rows, -1, dtype=np.intp)
    first[pi[open_pair[::-1]]] = open_pair[::-1]
    z[first[first >= 0]] = 1.0
    parts = [x, z]
    if with_elsewhere:
        parts.append((first < 0).astype(np.float64))
    return np.concatenate(parts)


def p_center(
    cost: npt.ArrayLike,
    n_new: int,
    *,
    existing: npt.ArrayLike | None = None,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> LocationResult:
    """p-center: ``n_new`` new sites minimising the worst cost from any demand row to its nearest site.

    Solved exactly as a sequence of set-covering problems: binary search over the distinct
    costs for the smallest radius that ``n_new`` new sites (with ``existing``) can cover. A radius
    proven infeasible gives the lower bound. Parameters as in :func:`mclp`.

    Returns
    -------
    LocationResult
        ``objective`` is the worst cost; ``bound`` a lower bound on it.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0.0, 4.0, 8.0], [4.0, 0.0, 4.0], [8.0, 4.0, 0.0]])
    >>> res = p_center(cost, n_new=1)
    >>> res.selected.tolist(), res.objective, res.bound
    ([1], 4.0, 4.0)
    """
    t0 = time.perf_counter()
    check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(cost, n_new=n_new, existing=existing, need_facility=True, unreachable="raise")
    prob, _ = _dense_or_sparse(prob, "p-center")
    t_end = t0 + time_limit_s
    cost_m = prob.cost
    free = free_columns(prob)
    best_cols = center_greedy(cost_m, prob.existing, free, prob.n_new)
    upper = worst_cost(cost_m, best_cols)
    lower = float(cost_m.min(axis=1).max())  # every row is served by some site
    radii = np.unique(cost_m[(cost_m >= lower) & (cost_m <= upper)])  # the optimum is one of these
    lo, hi, proven_lo = -1, len(radii) - 1, -1
    notes: list[str] = []
    solver, ran = "heuristic", False
    while hi - lo > 1:
        if time.perf_counter() > t_end:
            notes.append(say("loc_radius_time_limit"))
            break
        mid = (lo + hi) // 2
        full = coverage_matrix(cost_m, float(radii[mid]))
        feasible, new, info = solve_set_cover(
            full, prob.existing, free, n_new=prob.n_new, method=method, t_end=t_end, mip_gap=mip_gap
        )
        ran = ran or bool(info.milp_status)
        if feasible:
            assert new is not None
            hi, best_cols, solver = mid, np.concatenate([prob.existing, new]), info.solver
        else:
            lo = mid
            proven_lo = mid if feasible is False else proven_lo
    best_cols = center_greedy(cost_m, best_cols, free, prob.n_new + len(prob.existing) - len(best_cols))
    objective = worst_cost(cost_m, best_cols)
    bound = min(float(radii[proven_lo + 1]), objective)
    notes.append(say("loc_radius_searched", count=len(radii), lower=f"{lower:g}", upper=f"{upper:g}"))
    best = Best("min", objective=objective, bound=bound)
    return assemble_result(
        "p-center",
        prob,
        selected=best_cols,
        objective=objective,
        bound=bound,
        status=best.status(0.0, ran) if objective > bound else "optimal",
        sense="min",
        t0=t0,
        solver=solver,
        notes=notes,
    )
