"""Location models on a demand x candidate cost matrix (seconds or metres; ``inf`` = unreachable).

Every model validates its inputs in one place (:mod:`._validate`), reduces the instance
(:mod:`._reduce`), finds an incumbent with a fast heuristic (:mod:`._heuristics`), then solves
the MILP with HiGHS under a time limit, warm-started from that incumbent when ``highspy`` is
installed. The result carries the best solution found, a proven bound and the gap.

``p`` always counts *new* sites; ``existing`` columns are open in every solution.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gis._errors import InputError, RiskplanError

from ._exact import cover_enumerate, coverage_enumerate
from ._heuristics import (
    center_greedy,
    coverage_search,
    greedy_cover,
    median_cost,
    median_lagrangian_bound,
    median_search,
    open_counts,
    packing_bound,
    submodular_bound,
    worst_cost,
)
from ._milp import (
    MilpModel,
    MilpOutcome,
    assignment_model,
    coverage_model,
    coverage_start,
    main_assignment,
    solve_milp,
)
from ._reduce import coverage_matrix, dominated_columns, merge_rows, nearest_candidates
from ._result import LocationResult, Status, relative_gap
from ._validate import Problem, _rows, validate_inputs

__all__ = ["backup_coverage", "lscp", "mclp", "p_center", "p_median"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Method = Literal["auto", "exact", "heuristic"]

_HEURISTIC_SHARE = 0.3  # share of the time limit the heuristic may use before the MILP
_DENSE_COVER_CELLS = 250_000  # LSCP rows x candidates tried by dense reduction and enumeration
_MAX_PAIRS = 2_000_000  # p-median assignment variables before reducing to the k nearest


@dataclass
class _Best:
    """Running best solution and bound of one solve (internal, never returned)."""

    sense: Literal["max", "min"]
    cols: IntArray | None = None  # in the reduced column space
    objective: float = math.nan
    bound: float = math.nan
    solver: str = "heuristic"
    milp_status: str = ""
    notes: list[str] = field(default_factory=list)

    def offer(self, cols: IntArray | None, objective: float, solver: str) -> None:
        if cols is None or not math.isfinite(objective):
            return
        better = objective > self.objective if self.sense == "max" else objective < self.objective
        if self.cols is None or better:
            self.cols, self.objective, self.solver = np.sort(cols), objective, solver

    def tighten(self, bound: float) -> None:
        if not math.isfinite(bound):
            return
        if not math.isfinite(self.bound):
            self.bound = bound
        else:
            self.bound = min(self.bound, bound) if self.sense == "max" else max(self.bound, bound)

    def status(self, mip_gap: float, ran_milp: bool) -> Status:
        if relative_gap(self.objective, self.bound) <= mip_gap + 1e-9:
            return "optimal"
        return "time_limit" if ran_milp else "heuristic"


def _check_method(method: str, time_limit_s: float, mip_gap: float) -> None:
    if method not in ("auto", "exact", "heuristic"):
        msg = f"`method` is {method!r}. Fix: use 'auto', 'exact' or 'heuristic'."
        raise InputError(msg)
    if not (time_limit_s > 0):
        msg = f"`time_limit_s` is {time_limit_s}. Fix: give a positive number of seconds."
        raise InputError(msg)
    if not (0 <= mip_gap < 1):
        msg = f"`mip_gap` is {mip_gap}. Fix: give a relative gap in [0, 1), such as 1e-4."
        raise InputError(msg)


def _run_milp(
    model: MilpModel, best: _Best, *, start: FloatArray | None, t_end: float, mip_gap: float
) -> MilpOutcome:
    """Solve with the time left (a little kept back to build the result); note how it ended."""
    left = t_end - time.perf_counter()
    out = solve_milp(
        model,
        maximize=best.sense == "max",
        time_limit_s=max(0.85 * left - 0.5, 0.2),  # HiGHS may overrun its limit by a second or two
        mip_gap=mip_gap,
        start=start,
    )
    best.milp_status = out.status
    if out.status == "time_limit":
        best.notes.append("the MILP stopped at the time limit: best solution and proven bound reported")
    elif out.status == "error":
        best.notes.append(f"the MILP solver failed ({out.message}); heuristic solution kept")
        log.warning("HiGHS failed: %s", out.message)
    return out


def _nearest(cost: npt.NDArray[np.float64], cols: IntArray, limit: float = math.inf) -> IntArray:
    """Column of the cheapest open site per row (``-1`` when above ``limit`` or unreachable)."""
    if len(cols) == 0:
        return np.full(cost.shape[0], -1, dtype=np.intp)
    sub = cost[:, cols]
    k = np.argmin(sub, axis=1)
    d = sub[np.arange(len(k)), k]
    return np.where(np.isfinite(d) & (d <= limit), cols[k], -1).astype(np.intp)


def _result(
    model: str,
    prob: Problem,
    *,
    selected: IntArray,
    objective: float,
    bound: float,
    status: Status,
    sense: Literal["max", "min"],
    t0: float,
    solver: str,
    notes: list[str],
    coverage: npt.NDArray[np.int64] | None = None,
    assignment: IntArray | None = None,
) -> LocationResult:
    selected = np.unique(selected).astype(np.intp)
    radius = prob.radius if prob.radius is not None else math.inf
    result = LocationResult(
        model=model,
        selected=selected,
        is_existing=np.isin(selected, prob.existing),
        objective=float(objective),
        bound=float(bound),
        status=status,
        sense=sense,
        assignment=assignment if assignment is not None else _nearest(prob.cost, selected, radius),
        weights=prob.weights,
        unreachable=prob.unreachable,
        coverage_count=coverage,
        radius=prob.radius,
        wall_time_s=time.perf_counter() - t0,
        solver=solver,
        notes=tuple(dict.fromkeys(notes)),
    )
    log.info("%s", result.summary())
    return result


def _pad(chosen: IntArray, pool: IntArray, score: FloatArray, p: int) -> IntArray:
    """Add the best-scoring unchosen ``pool`` columns until ``p`` are chosen."""
    if len(chosen) >= p:
        return chosen
    rest = pool[~np.isin(pool, chosen)]
    rest = rest[np.argsort(-score[rest], kind="stable")]
    return np.sort(np.concatenate([chosen, rest[: p - len(chosen)]])).astype(np.intp)


# --------------------------------------------------------------------------- coverage models


def _coverage(
    model: str,
    prob: Problem,
    values: FloatArray,
    *,
    drop_dominated: bool,
    method: Method,
    time_limit_s: float,
    mip_gap: float,
    reduce: bool,
    t0: float,
) -> LocationResult:
    """MCLP (values 0, 1) and backup coverage (values 0, theta, 1): maximise sum w * values[count]."""
    assert prob.radius is not None
    levels = len(values) - 1
    t_end = t0 + time_limit_s
    full = coverage_matrix(prob.cost, prob.radius)
    w = prob.weights
    base = np.minimum(open_counts(full, prob.existing), levels)
    free = np.setdiff1d(np.arange(prob.n_candidates), prob.existing).astype(np.intp)
    on_free = sp.csr_array(full[:, free])
    live = np.flatnonzero((base < levels) & (np.diff(on_free.indptr) > 0))  # rows a new site can improve
    constant = float(w @ values[base]) - float(w[live] @ values[base[live]])
    best = _Best("max")
    if reduce:
        merged = merge_rows(sp.csr_array(on_free[live]), w[live], extra=base[live])
        cover, w_r, base_r = merged.A, merged.weights, base[live][merged.first]
        keep = ~dominated_columns(cover) if drop_dominated else np.asarray(cover.sum(axis=0)).ravel() > 0
        best.notes.append(
            f"reduced to {cover.shape[0]} demand groups (from {len(live)} rows) and "
            f"{int(keep.sum())} candidates (from {len(free)})"
        )
    else:
        cover, w_r, base_r = sp.csr_array(on_free[live]), w[live], base[live]
        keep = np.ones(len(free), dtype=bool)
    kcols = np.flatnonzero(keep).astype(np.intp)
    cover = sp.csr_array(cover[:, kcols])
    p_k = min(prob.p, len(kcols))
    # a bound with no search at all: every row at its best reachable level
    reach = np.minimum(np.diff(cover.indptr), p_k)
    best.tighten(float(w_r @ values[np.minimum(base_r + reach, levels)]))
    if p_k == 0:
        best.offer(np.zeros(0, dtype=np.intp), float(w_r @ values[base_r]), "trivial")
    ran = False

    def search(stall: int, share: float) -> None:
        cols, obj = coverage_search(
            cover,
            w_r,
            p_k,
            base=base_r,
            values=values,
            time_limit_s=share,
            max_stall=stall,
            target=best.bound,
        )
        best.offer(cols, obj, "heuristic")
        if levels == 1:
            best.tighten(submodular_bound(cover, w_r, cols, p_k))

    def exact(until: float) -> None:
        start = None if best.cols is None else coverage_start(cover, base_r, levels, best.cols)
        out = _run_milp(milp, best, start=start, t_end=until, mip_gap=mip_gap)
        if out.x is not None:
            xs = np.flatnonzero(out.x[: len(kcols)] > 0.5).astype(np.intp)
            best.offer(
                xs, float(w_r @ values[np.minimum(base_r + open_counts(cover, xs), levels)]), out.solver
            )
        best.tighten(out.bound)

    def open_gap() -> bool:
        return p_k > 0 and relative_gap(best.objective, best.bound) > mip_gap

    enumerated = (
        coverage_enumerate(cover, w_r, p_k, base=base_r, values=values)
        if method == "auto" and open_gap()
        else None
    )
    if enumerated is not None:  # tiny after reduction: every subset scored, optimal without a MILP
        best.offer(enumerated[0], enumerated[1], "enumeration")
        best.tighten(enumerated[1])
        best.notes.append(f"solved exactly by scoring all {math.comb(len(kcols), p_k)} sets of {p_k} sites")
    elif method == "heuristic" and p_k > 0:
        search(200, time_limit_s)
    elif method == "exact" and open_gap():
        milp = coverage_model(cover, w_r, base_r, values, p_k)
        exact(t_end)
        ran = True
    elif open_gap():
        # quick incumbent, a short MILP (small instances end here, proven), then a long local
        # search and the MILP again, warm-started, for the time left; the bound is the best seen
        search(25, time_limit_s * _HEURISTIC_SHARE)
        if open_gap():
            milp = coverage_model(cover, w_r, base_r, values, p_k)
            now = time.perf_counter()
            exact(now + 0.2 * (t_end - now))
            ran = True
            if open_gap() and time.perf_counter() < t_end:
                search(200, _HEURISTIC_SHARE * (t_end - time.perf_counter()))
                if open_gap() and t_end - time.perf_counter() > 1.0:
                    exact(t_end)
    new = free[kcols[best.cols]] if best.cols is not None else np.zeros(0, dtype=np.intp)
    new = _pad(new, free, np.asarray(full.T @ w).ravel(), prob.p)
    selected = np.concatenate([prob.existing, new])
    count = open_counts(full, selected)
    objective = float(w @ values[np.minimum(count, levels)])
    if abs(objective - (best.objective + constant)) > 1e-6 * max(1.0, abs(objective)):
        log.warning("%s: reduced objective %.6g != full %.6g", model, best.objective + constant, objective)
        best.notes.append("the reduced objective differed from the full one; the full one is reported")
    return _result(
        model,
        prob,
        selected=selected,
        objective=objective,
        bound=max(best.bound + constant, objective),
        status=best.status(mip_gap, ran),
        sense="max",
        t0=t0,
        solver=best.solver,
        notes=best.notes,
        coverage=count,
    )


def mclp(
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
    radius: float,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    reduce: bool = True,
) -> LocationResult:
    """Maximal covering location problem: ``p`` new sites maximising the weight within ``radius``.

    Parameters
    ----------
    cost
        Demand x candidate matrix, seconds or metres; ``np.inf`` = unreachable.
    weights
        Demand weight per row (population, risk score).
    radius
        Coverage standard in the units of ``cost`` (for example 240 s of travel).
    p
        Number of new sites, besides ``existing``.
    existing
        Columns (indices or a boolean mask) that are always open: the current stations.
    method
        ``"auto"``: heuristic, then HiGHS warm-started from it; ``"exact"``: HiGHS only;
        ``"heuristic"``: greedy + swaps with the submodularity bound, no MILP.
    time_limit_s
        Wall-time limit of the whole call; the best solution and its gap are returned.
    mip_gap
        Relative optimality gap at which to stop.
    reduce
        Merge demand with identical coverage sets and drop dominated candidates first.

    Returns
    -------
    LocationResult
        ``objective`` is the covered weight; ``bound`` an upper bound on it.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 9.0, 9.0], [9.0, 1.0, 9.0], [9.0, 1.0, 1.0]])
    >>> res = mclp(cost, [3, 1, 3], radius=2.0, p=1)
    >>> res.selected.tolist(), res.objective, res.status
    ([1], 4.0, 'optimal')
    >>> mclp(cost, [3, 1, 3], radius=2.0, p=1, existing=[0]).selected.tolist()
    [0, 1]
    """
    t0 = time.perf_counter()
    _check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(cost, weights=weights, radius=radius, p=p, existing=existing)
    values = np.array([0.0, 1.0])
    return _coverage(
        "mclp",
        prob,
        values,
        drop_dominated=True,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        reduce=reduce,
        t0=t0,
    )


def backup_coverage(
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
    radius: float,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    first_cover_weight: float = 0.0,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    reduce: bool = True,
) -> LocationResult:
    """Backup coverage (Hogan & ReVelle): ``p`` new sites maximising the weight covered twice.

    The objective is ``theta * (weight covered at least once) + (1 - theta) * (weight covered at
    least twice)`` with ``theta = first_cover_weight``; the default 0 maximises the weight
    covered twice, for high-risk units that need a second engine when the first is busy.
    Other parameters as in :func:`mclp` (dominated candidates are not dropped here: two sites
    over the same demand both count).

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 1.0, 1.0], [1.0, 9.0, 1.0]])
    >>> res = backup_coverage(cost, [1, 10], radius=2.0, p=2)
    >>> res.selected.tolist(), res.objective, res.backup_share
    ([0, 2], 11.0, 1.0)
    """
    t0 = time.perf_counter()
    _check_method(method, time_limit_s, mip_gap)
    if not (0.0 <= first_cover_weight <= 1.0):
        msg = f"`first_cover_weight` is {first_cover_weight}. Fix: give a weight in [0, 1]."
        raise InputError(msg)
    prob = validate_inputs(cost, weights=weights, radius=radius, p=p, existing=existing)
    values = np.array([0.0, first_cover_weight, 1.0])
    return _coverage(
        "backup_coverage",
        prob,
        values,
        drop_dominated=False,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        reduce=reduce,
        t0=t0,
    )


# --------------------------------------------------------------------------- set covering


def lscp(
    cost: npt.ArrayLike,
    radius: float,
    *,
    existing: npt.ArrayLike | None = None,
    capacities: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    allow_unreachable: bool = False,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    reduce: bool = True,
) -> LocationResult:
    """Location set covering: the fewest new sites so that every demand row is within ``radius``.

    Parameters
    ----------
    cost, radius, existing, method, time_limit_s, mip_gap, reduce
        As in :func:`mclp`.
    capacities
        Per candidate column, the demand a site can serve (station workload, depot stock);
        demand quantities are ``weights``. A row's demand may be split between sites.
    weights
        Demand quantity per row; used only with ``capacities`` (default 1 per row).
    allow_unreachable
        Rows no candidate reaches within ``radius`` raise an :class:`~gis._errors.InputError`
        that lists them; with ``True`` they are left out (listed in ``unreachable`` and the notes).

    Returns
    -------
    LocationResult
        ``objective`` is the number of new sites; ``bound`` a lower bound on it.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 9.0, 9.0], [9.0, 1.0, 1.0], [1.0, 1.0, 9.0]])
    >>> res = lscp(cost, radius=2.0)
    >>> res.selected.tolist(), res.objective, res.status
    ([0, 1], 2.0, 'optimal')
    >>> lscp(cost, radius=2.0, capacities=[1, 1, 1]).objective
    3.0
    """
    t0 = time.perf_counter()
    _check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(
        cost,
        weights=weights,
        radius=radius,
        existing=existing,
        capacities=capacities,
        unreachable="allow" if allow_unreachable else "raise",
    )
    notes = (
        [f"rows {_rows(prob.unreachable)} cannot be covered and are left out"]
        if len(prob.unreachable)
        else []
    )
    if prob.capacities is not None:
        return _lscp_capacitated(prob, notes, time_limit_s=time_limit_s, mip_gap=mip_gap, t0=t0)
    assert prob.radius is not None
    full = coverage_matrix(prob.cost, prob.radius)
    free = np.setdiff1d(np.arange(prob.n_candidates), prob.existing).astype(np.intp)
    _, cols, best = _cover(
        full, prob.existing, free, method=method, t_end=t0 + time_limit_s, mip_gap=mip_gap, reduce=reduce
    )
    assert cols is not None
    selected = np.concatenate([prob.existing, cols])
    return _result(
        "lscp",
        prob,
        selected=selected,
        objective=len(cols),
        bound=best.bound,
        status=best.status(mip_gap, bool(best.milp_status)),
        sense="min",
        t0=t0,
        solver=best.solver,
        notes=notes + best.notes,
        coverage=open_counts(full, selected),
    )


def _cover(
    full: sp.csr_array,
    existing: IntArray,
    free: IntArray,
    *,
    p: int | None = None,
    method: Method,
    t_end: float,
    mip_gap: float,
    reduce: bool = True,
) -> tuple[bool | None, IntArray | None, _Best]:
    """Fewest ``free`` columns covering every row that can be covered (not already by ``existing``).

    With ``p``, answers "can ``p`` new sites cover every row?": ``(True, cols)``, ``(False, None)``
    when proven impossible, ``(None, None)`` when undecided in time. ``_Best`` holds the bound.
    """
    best = _Best("min")
    base = open_counts(full, existing)
    on_free = sp.csr_array(full[:, free])
    reach = np.diff(on_free.indptr)
    need = np.flatnonzero((base == 0) & (reach > 0))
    if p is not None and ((base == 0) & (reach == 0)).any():
        return False, None, best
    if len(need) == 0:
        best.offer(np.zeros(0, dtype=np.intp), 0.0, "trivial")
        best.tighten(0.0)
        return True, np.zeros(0, dtype=np.intp), best
    cover = sp.csr_array(on_free[need])
    if method == "auto" and reduce and cover.shape[0] * cover.shape[1] <= _DENSE_COVER_CELLS:
        exact = cover_enumerate(cover.toarray().astype(bool))
        if exact is not None:  # tiny after reduction: proven by trying smaller sets, no MILP
            best.offer(exact, float(len(exact)), "enumeration")
            best.tighten(float(len(exact)))
            best.notes.append(f"solved exactly by reduction and enumeration ({len(exact)} sites)")
            cols = free[exact]
            if p is None or len(exact) <= p:
                return True, cols, best
            return False, None, best
    if reduce:
        cover = merge_rows(cover, np.ones(len(need))).A
        kcols = np.flatnonzero(~dominated_columns(cover)).astype(np.intp)
        best.notes.append(f"reduced to {cover.shape[0]} demand groups and {len(kcols)} candidates")
    else:
        kcols = np.flatnonzero(np.asarray(cover.sum(axis=0)).ravel() > 0).astype(np.intp)
    cover = sp.csr_array(cover[:, kcols])
    best.tighten(float(packing_bound(cover)))
    x0 = None
    r, k = cover.shape
    if method != "exact":
        start = greedy_cover(cover)
        best.offer(start, float(len(start)), "heuristic")
        x0 = np.zeros(k)
        x0[start] = 1.0
    if p is None:
        run = best.cols is None or relative_gap(best.objective, best.bound) > mip_gap
    else:
        run = best.cols is None or not (best.objective <= p or best.bound > p)
    run = run and method != "heuristic"
    model = MilpModel(
        np.ones(k), cover, np.ones(r), np.full(r, np.inf), np.zeros(k), np.ones(k), np.ones(k, dtype=bool)
    )
    if run:
        out = _run_milp(model, best, start=x0, t_end=t_end, mip_gap=mip_gap)
        if out.x is not None:
            xs = np.flatnonzero(out.x > 0.5).astype(np.intp)
            best.offer(xs, float(len(xs)), out.solver)
        if math.isfinite(out.bound):
            best.tighten(math.ceil(out.bound - 1e-6))  # the number of sites is an integer
    found: IntArray | None = free[kcols[best.cols]] if best.cols is not None else None
    if p is None or best.objective <= p:
        return True, found, best
    return (False if best.bound > p else None), None, best


def _lscp_capacitated(
    prob: Problem, notes: list[str], *, time_limit_s: float, mip_gap: float, t0: float
) -> LocationResult:
    assert prob.radius is not None and prob.capacities is not None
    full = coverage_matrix(prob.cost, prob.radius)
    rows = np.setdiff1d(np.arange(prob.n_demand), prob.unreachable)
    pairs = sp.coo_array(full[rows])
    q, cap = prob.weights[rows], prob.capacities
    if cap.sum() < q.sum():
        msg = (
            f"total `capacities` {cap.sum():g} is below the total demand `weights` {q.sum():g}: "
            "no set of sites can serve it. Fix: raise capacities or add candidate sites."
        )
        raise InputError(msg)
    is_new = np.ones(prob.n_candidates)
    is_new[prob.existing] = 0.0
    pi, pj = pairs.row.astype(np.intp), pairs.col.astype(np.intp)
    model = assignment_model(
        pi,
        pj,
        n_rows=len(rows),
        n_candidates=prob.n_candidates,
        cost=np.concatenate([is_new, np.zeros(len(pi))]),
        existing=prob.existing,
        load=q,
        capacities=cap,
    )
    best = _Best("min")
    out = _solve_assignment(model, best, t_end=t0 + time_limit_s, mip_gap=mip_gap, n_open=None, start=None)
    assert out.x is not None
    x, z = out.x[: prob.n_candidates], out.x[prob.n_candidates : prob.n_candidates + len(pi)]
    selected = np.flatnonzero(x > 0.5).astype(np.intp)
    assign = np.full(prob.n_demand, -1, dtype=np.intp)
    assign[rows] = main_assignment(pi, pj, z, len(rows))
    best.offer(selected, float(is_new @ (x > 0.5)), out.solver)
    best.tighten(max(math.ceil(out.bound - 1e-6), 0.0) if math.isfinite(out.bound) else 0.0)
    notes.append("capacitated: demand may be split between sites; `assignment` gives each row's main site")
    return _result(
        "lscp",
        prob,
        selected=selected,
        objective=best.objective,
        bound=best.bound,
        status=best.status(mip_gap, True),
        sense="min",
        t0=t0,
        solver=out.solver,
        notes=notes + best.notes,
        coverage=open_counts(full, selected),
        assignment=assign,
    )


def _solve_assignment(
    model: MilpModel,
    best: _Best,
    *,
    t_end: float,
    mip_gap: float,
    n_open: int | None,
    start: FloatArray | None,
) -> MilpOutcome:
    """Solve an assignment MILP; infeasibility and "no solution in time" become clear errors."""
    out = _run_milp(model, best, start=start, t_end=t_end, mip_gap=mip_gap)
    if out.status == "infeasible":
        sites = f" with {n_open} open sites" if n_open is not None else ""
        msg = (
            f"no choice of sites{sites} can serve every demand row at a finite cost within the given "
            "`capacities` (if any). Fix: raise `p` or the capacities, add candidate sites, or drop rows "
            "that only far-away sites can reach."
        )
        raise InputError(msg)
    if out.x is None:
        msg = (
            f"HiGHS found no feasible solution in the time limit ({out.message}). "
            "Fix: raise `time_limit_s`, or solve without `capacities` first."
        )
        raise RiskplanError(msg)
    return out


# --------------------------------------------------------------------------- median and center


def p_median(
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    capacities: npt.ArrayLike | None = None,
    k_nearest: int | None = None,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> LocationResult:
    """p-median: ``p`` new sites minimising the weighted mean cost from demand to its nearest site.

    Parameters
    ----------
    cost, weights, p, existing, method, time_limit_s, mip_gap
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
    >>> res = p_median(cost, [1, 1, 3], p=1)
    >>> res.selected.tolist(), round(res.objective, 6), res.assignment.tolist()
    ([2], 2.4, [2, 2, 2])
    """
    t0 = time.perf_counter()
    _check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(
        cost,
        weights=weights,
        p=p,
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
    n, m = prob.cost.shape
    n_open = prob.p + len(prob.existing)
    t_end = t0 + time_limit_s
    finite = np.isfinite(prob.cost)
    big = float(prob.cost[finite].max()) * (n + 1) + 1.0
    pen = np.where(finite, prob.cost, big)  # heuristics need finite costs
    best = _Best("min")
    start_cols = None
    if prob.capacities is None and method != "exact":
        share = time_limit_s * (1.0 if method == "heuristic" else _HEURISTIC_SHARE)
        start_cols, _ = median_search(pen, prob.weights, prob.p, fixed=prob.existing, time_limit_s=share)
        best.offer(start_cols, median_cost(prob.cost, prob.weights, start_cols) / W, "heuristic")
    if prob.capacities is not None:
        most = (
            prob.capacities[prob.existing].sum()
            + np.sort(np.delete(prob.capacities, prob.existing))[::-1][: prob.p].sum()
        )
        if most < W:
            msg = (
                f"the {n_open} largest `capacities` add up to {most:g}, below the total weight {W:g}. "
                "Fix: raise `p` or the capacities, or give `weights` in the unit of the capacities."
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
            best.notes.append(f"MILP on the {k} nearest candidates per row plus an 'elsewhere' variable")
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
        out = _solve_assignment(model, best, t_end=t_end, mip_gap=mip_gap, n_open=n_open, start=start)
        assert out.x is not None
        xs = np.flatnonzero(out.x[:m] > 0.5).astype(np.intp)
        if prob.capacities is not None:
            best.offer(xs, out.objective, out.solver)
            assignment = main_assignment(pi, pj, out.x[m : m + len(pi)], n)
            best.notes.append(
                "capacitated: demand may be split between sites; `assignment` gives the main site"
            )
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
        best.notes.append("bound from a Lagrangian relaxation of the assignment constraints")
    if best.cols is None or not math.isfinite(best.objective):
        msg = (
            f"no choice of {n_open} sites reaches every demand row at a finite cost. "
            "Fix: raise `p`, add candidates, or drop rows that only far-away sites can reach."
        )
        raise InputError(msg)
    return _result(
        "p_median",
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
    p: int,
    *,
    existing: npt.ArrayLike | None = None,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> LocationResult:
    """p-center: ``p`` new sites minimising the worst cost from any demand row to its nearest site.

    Solved exactly as a sequence of set-covering problems: binary search over the distinct
    costs for the smallest radius that ``p`` new sites (with ``existing``) can cover. A radius
    proven infeasible gives the lower bound. Parameters as in :func:`mclp`.

    Returns
    -------
    LocationResult
        ``objective`` is the worst cost; ``bound`` a lower bound on it.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0.0, 4.0, 8.0], [4.0, 0.0, 4.0], [8.0, 4.0, 0.0]])
    >>> res = p_center(cost, p=1)
    >>> res.selected.tolist(), res.objective, res.bound
    ([1], 4.0, 4.0)
    """
    t0 = time.perf_counter()
    _check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(cost, p=p, existing=existing, need_facility=True, unreachable="raise")
    t_end = t0 + time_limit_s
    cost_m = prob.cost
    free = np.setdiff1d(np.arange(prob.n_candidates), prob.existing).astype(np.intp)
    best_cols = center_greedy(cost_m, prob.existing, free, prob.p)
    upper = worst_cost(cost_m, best_cols)
    lower = float(cost_m.min(axis=1).max())  # every row is served by some site
    radii = np.unique(cost_m[(cost_m >= lower) & (cost_m <= upper)])  # the optimum is one of these
    lo, hi, proven_lo = -1, len(radii) - 1, -1
    notes: list[str] = []
    solver, ran = "heuristic", False
    while hi - lo > 1:
        if time.perf_counter() > t_end:
            notes.append("time limit reached during the radius search")
            break
        mid = (lo + hi) // 2
        full = coverage_matrix(cost_m, float(radii[mid]))
        feasible, new, info = _cover(
            full, prob.existing, free, p=prob.p, method=method, t_end=t_end, mip_gap=mip_gap
        )
        ran = ran or bool(info.milp_status)
        if feasible:
            assert new is not None
            hi, best_cols, solver = mid, np.concatenate([prob.existing, new]), info.solver
        else:
            lo = mid
            proven_lo = mid if feasible is False else proven_lo
    best_cols = center_greedy(cost_m, best_cols, free, prob.p + len(prob.existing) - len(best_cols))
    objective = worst_cost(cost_m, best_cols)
    bound = min(float(radii[proven_lo + 1]), objective)
    notes.append(f"{len(radii)} distinct costs between the bounds {lower:g} and {upper:g} searched")
    best = _Best("min", objective=objective, bound=bound)
    return _result(
        "p_center",
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
