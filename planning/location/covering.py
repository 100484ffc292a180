"""Set covering: :func:`lscp`, the fewest new sites covering every demand row within ``radius``.

Uncapacitated, on the shared set-covering solve (:mod:`._set_cover`); with ``capacities``,
as an assignment MILP in which a row's demand may be split between sites.

``existing`` columns are open in every solution and do not count as new sites.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gis.errors import InputError
from gis.speech import say

from ._heuristics import open_counts
from ._milp import assignment_model, main_assignment
from ._reduce import coverage_matrix
from ._result import LocationResult
from ._scaffold import (
    Best,
    Method,
    assemble_result,
    check_method,
    free_columns,
    solve_assignment,
    solve_deadline,
)
from ._set_cover import solve_set_cover
from ._validate import Problem, _rows, validate_inputs

__all__ = ["lscp"]


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
        As in :func:`mclp` (``cost`` is ``(targets, sources)``: demand rows x candidate columns).
    capacities
        Per candidate column, the demand a site can serve (station workload, depot stock);
        demand quantities are ``weights``. A row's demand may be split between sites.
    weights
        Demand quantity per row; used only with ``capacities`` (default 1 per row).
    allow_unreachable
        Rows no candidate reaches within ``radius`` raise an :class:`~gis.errors.InputError`
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
    check_method(method, time_limit_s, mip_gap)
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
    t_pass = time.perf_counter()
    full = coverage_matrix(prob.cost, prob.radius)
    t_end = solve_deadline(t0, time_limit_s, time.perf_counter() - t_pass)
    free = free_columns(prob)
    _, cols, best = solve_set_cover(
        full, prob.existing, free, method=method, t_end=t_end, mip_gap=mip_gap, reduce=reduce
    )
    assert cols is not None
    selected = np.concatenate([prob.existing, cols])
    return assemble_result(
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
    best = Best("min")
    out = solve_assignment(model, best, t_end=t0 + time_limit_s, mip_gap=mip_gap, n_open=None, start=None)
    assert out.x is not None
    x, z = out.x[: prob.n_candidates], out.x[prob.n_candidates : prob.n_candidates + len(pi)]
    selected = np.flatnonzero(x > 0.5).astype(np.intp)
    assign = np.full(prob.n_demand, -1, dtype=np.intp)
    assign[rows] = main_assignment(pi, pj, z, len(rows))
    best.offer(selected, float(is_new @ (x > 0.5)), out.solver)
    best.tighten(max(math.ceil(out.bound - 1e-6), 0.0) if math.isfinite(out.bound) else 0.0)
    notes.append(say("loc_capacitated_row"))
    return assemble_result(
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
