"""Coverage models: :func:`mclp` and :func:`backup_coverage` on a demand x candidate cost matrix.

Both maximise ``sum_i w_i * value[min(count_i, L)]`` over the number of open sites within
``radius`` of each demand row (MCLP: values (0, 1); backup coverage: (0, theta, 1)), on one
shared solve: rows no new site can improve set aside, identical rows merged, dominated
candidates dropped (MCLP), then enumeration, local search and HiGHS under the time limit.

``n_new`` always counts *new* sites; ``existing`` columns are open in every solution.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gis.errors import InputError
from gis.speech import say

from ..names import Model
from ._coverage_solve import CoverageSolve
from ._exact import coverage_enumerate
from ._heuristics import open_counts
from ._reduce import coverage_matrix, reduce_coverage
from ._result import LocationResult
from ._scaffold import (
    FloatArray,
    IntArray,
    Method,
    assemble_result,
    check_method,
    free_columns,
    solve_deadline,
)
from ._validate import Problem, validate_inputs

__all__ = ["backup_coverage", "mclp"]

log = logging.getLogger(__name__)


def mclp(
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
    radius: float,
    n_new: int,
    *,
    existing: npt.ArrayLike | None = None,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    reduce: bool = True,
) -> LocationResult:
    """Maximal covering location problem: ``n_new`` new sites maximising the weight within ``radius``.

    Parameters
    ----------
    cost
        ``(targets, sources)``: one row per demand unit, one column per candidate site (existing
        ones included), seconds or metres; ``np.inf`` = unreachable.
    weights
        Demand weight per row (population, risk score).
    radius
        Coverage standard in the units of ``cost`` (for example 240 s of travel).
    n_new
        Number of new sites, besides ``existing``.
    existing
        Columns (indices or a boolean mask) that are always open: the current stations.
    method
        How to solve (the model is the function): ``"auto"``: heuristic, then HiGHS
        warm-started from it; ``"exact"``: HiGHS only; ``"heuristic"``: greedy + swaps with the
        submodularity bound, no MILP.
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
    >>> res = mclp(cost, [3, 1, 3], radius=2.0, n_new=1)
    >>> res.selected.tolist(), res.objective, res.status
    ([1], 4.0, 'optimal')
    >>> mclp(cost, [3, 1, 3], radius=2.0, n_new=1, existing=[0]).selected.tolist()
    [0, 1]
    """
    t0 = time.perf_counter()
    check_method(method, time_limit_s, mip_gap)
    prob = validate_inputs(cost, weights=weights, radius=radius, n_new=n_new, existing=existing)
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
    n_new: int,
    *,
    existing: npt.ArrayLike | None = None,
    first_cover_weight: float = 0.0,
    method: Method = "auto",
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
    reduce: bool = True,
) -> LocationResult:
    """Backup coverage (Hogan & ReVelle): ``n_new`` new sites maximising the weight covered twice.

    The objective is ``theta * (weight covered at least once) + (1 - theta) * (weight covered at
    least twice)`` with ``theta = first_cover_weight``; the default 0 maximises the weight
    covered twice, for high-risk units that need a second engine when the first is busy.
    Other parameters as in :func:`mclp` (dominated candidates are not dropped here: two sites
    over the same demand both count).

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 1.0, 1.0], [1.0, 9.0, 1.0]])
    >>> res = backup_coverage(cost, [1, 10], radius=2.0, n_new=2)
    >>> res.selected.tolist(), res.objective, res.backup_share
    ([0, 2], 11.0, 1.0)
    """
    t0 = time.perf_counter()
    check_method(method, time_limit_s, mip_gap)
    if not (0.0 <= first_cover_weight <= 1.0):
        msg = f"`first_cover_weight` is {first_cover_weight}. Fix: give a weight in [0, 1]."
        raise InputError(msg)
    prob = validate_inputs(cost, weights=weights, radius=radius, n_new=n_new, existing=existing)
    values = np.array([0.0, first_cover_weight, 1.0])
    return _coverage(
        "backup",
        prob,
        values,
        drop_dominated=False,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        reduce=reduce,
        t0=t0,
    )


def _coverage(
    model: Model,
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
    t_pass = time.perf_counter()
    full = coverage_matrix(prob.cost, prob.radius)
    t_end = solve_deadline(t0, time_limit_s, time.perf_counter() - t_pass)
    w = prob.weights
    free = free_columns(prob)
    inst = reduce_coverage(
        sp.csr_array(full[:, free]),
        w,
        open_counts(full, prob.existing),
        values,
        reduce=reduce,
        drop_dominated=drop_dominated,
    )
    p_k = min(prob.n_new, len(inst.cols))
    solve = CoverageSolve(inst, values, p_k, drop_dominated=drop_dominated, mip_gap=mip_gap, t_end=t_end)
    best = solve.best
    if inst.note:
        best.notes.append(inst.note)
    enumerated = (
        coverage_enumerate(inst.cover, inst.weights, p_k, base=inst.base, values=values)
        if method == "auto" and solve.open_gap()
        else None
    )
    solve.run(method, enumerated)
    new = free[inst.cols[best.cols]] if best.cols is not None else np.zeros(0, dtype=np.intp)
    new = _pad(new, free, np.asarray(full.T @ w).ravel(), prob.n_new)
    selected = np.concatenate([prob.existing, new])
    count = open_counts(full, selected)
    objective = float(w @ values[np.minimum(count, levels)])
    constant = inst.constant
    if abs(objective - (best.objective + constant)) > 1e-6 * max(1.0, abs(objective)):
        log.warning("%s: reduced objective %.6g != full %.6g", model, best.objective + constant, objective)
        best.notes.append(say("loc_objective_differed"))
    return assemble_result(
        model,
        prob,
        selected=selected,
        objective=objective,
        bound=max(best.bound + constant, objective),
        status=best.status(mip_gap, solve.ran_milp),
        sense="max",
        t0=t0,
        solver=best.solver,
        notes=best.notes,
        coverage=count,
    )


def _pad(chosen: IntArray, pool: IntArray, score: FloatArray, n_new: int) -> IntArray:
    """Add the best-scoring unchosen ``pool`` columns until ``n_new`` are chosen."""
    if len(chosen) >= n_new:
        return chosen
    rest = pool[~np.isin(pool, chosen)]
    rest = rest[np.argsort(-score[rest], kind="stable")]
    return np.sort(np.concatenate([chosen, rest[: n_new - len(chosen)]])).astype(np.intp)
