"""Communities to relief depots within delivery limits and capacities: the single-sourcing MILP.

:func:`assign_capacitated` assigns each community (its people) to one depot it reaches within
the depot's delivery limit, never over a depot's capacity, serving the most people, then the
fewest people x hours: a generalised assignment problem, solved by HiGHS
(:func:`scipy.optimize.milp`).

Before the solver runs, the rows it cannot change are fixed (an exact reduction, so the
answer's served people and people x hours equal the full model's): a depot that every
community allowed to use it together would not fill is *never binding*; a community whose
nearest allowed depot is never binding goes there in some optimal assignment (going elsewhere
costs more and frees room nobody needs). Only the other rows go to the MILP, against the room
left. Where depots have room (a city whose stock covers its relocation demand), the model
shrinks to the few contested rows or vanishes; where every depot binds (the synthetic
province's depots hold 3-96 % of the demand they can reach) it is the full model.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gis.errors import InputError

from .travel import TargetsBySources

__all__ = ["assign_capacitated"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def assign_capacitated(
    hours: TargetsBySources,
    people: FloatArray,
    capacity: FloatArray,
    limit_h: FloatArray,
    *,
    time_limit_s: float = 30.0,
    mip_rel_gap: float | None = None,
) -> tuple[IntArray, str]:
    """Assign each demand row to one depot within its delivery limit and capacity.

    ``hours`` is ``(targets, sources)``: one row per community, one column per depot.

    Maximises the people served, then minimises people x hours (a single-sourcing MILP solved
    by HiGHS, stopping at ``time_limit_s`` or, when given, once the solution is proven within
    ``mip_rel_gap`` of the optimum), on the rows the exact reduction of the module leaves.
    Returns the column per row (``-1`` = unmet) and the solver status.

    Examples
    --------
    >>> hours = np.array([[1.0, 2.0], [1.0, 3.0], [9.0, 1.0]])
    >>> people, capacity = np.array([60.0, 50.0, 10.0]), np.array([100.0, 100.0])
    >>> assign_capacitated(hours, people, capacity, np.array([6.0, 6.0]))
    (array([1, 0, 1]), 'optimal')
    """
    hours = np.asarray(hours, dtype=np.float64)
    people = np.asarray(people, dtype=np.float64)
    capacity = np.asarray(capacity, dtype=np.float64)
    n, _ = hours.shape
    allowed = np.isfinite(hours) & (hours <= np.asarray(limit_h, dtype=np.float64)[None, :])
    out = np.full(n, -1, dtype=np.intp)
    fixed = _fixed_rows(hours, people, capacity, allowed)
    out[fixed >= 0] = fixed[fixed >= 0]
    rest = np.flatnonzero((fixed < 0) & allowed.any(axis=1))
    if len(rest) == 0:
        return out, "optimal"
    used = np.bincount(fixed[fixed >= 0], weights=people[fixed >= 0], minlength=len(capacity))
    col, status = _solve(
        hours[rest],
        people[rest],
        capacity - used,
        allowed[rest],
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
    )
    out[rest] = col
    return out, status


def _fixed_rows(
    hours: FloatArray, people: FloatArray, capacity: FloatArray, allowed: npt.NDArray[np.bool_]
) -> IntArray:
    """Each row's nearest allowed depot where that depot is never binding, else ``-1``."""
    reach = people @ allowed  # the people who may use each depot
    free = reach <= capacity * (1 - 1e-12)
    masked = np.where(allowed, hours, np.inf)
    nearest = np.argmin(masked, axis=1)
    has = allowed.any(axis=1)
    keep = has & free[nearest]
    return np.where(keep, nearest, -1).astype(np.intp)


def _solve(
    hours: FloatArray,
    people: FloatArray,
    capacity: FloatArray,
    allowed: npt.NDArray[np.bool_],
    *,
    time_limit_s: float,
    mip_rel_gap: float | None,
) -> tuple[IntArray, str]:
    """The single-sourcing MILP on its rows: x per allowed (row, depot), u per row unmet."""
    n, k = hours.shape
    rows, cols = np.nonzero(allowed)
    big = 1e3 * (float(hours[allowed].max()) + 1.0)
    nx_, nu = len(rows), n
    c = np.concatenate([people[rows] * hours[rows, cols], big * np.maximum(people, 1e-9)])
    one = sp.csr_matrix(
        (np.ones(nx_ + nu), (np.concatenate([rows, np.arange(n)]), np.arange(nx_ + nu))), shape=(n, nx_ + nu)
    )
    cap = sp.csr_matrix((people[rows], (cols, np.arange(nx_))), shape=(k, nx_ + nu))
    res = milp(
        c,
        constraints=[LinearConstraint(one, 1, 1), LinearConstraint(cap, -np.inf, capacity)],
        integrality=np.ones(nx_ + nu),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit_s}
        | ({} if mip_rel_gap is None else {"mip_rel_gap": float(mip_rel_gap)}),
    )
    if res.x is None:
        msg = f"The depot assignment found no solution ({res.message}). Fix: raise `time_limit_s`."
        raise InputError(msg)
    x = res.x[:nx_] > 0.5
    out = np.full(n, -1, dtype=np.intp)
    out[rows[x]] = cols[x]
    gap = float(getattr(res, "mip_gap", math.nan) or 0.0)
    if res.status != 0:
        status = f"time_limit (gap {gap:.2%})"
    elif mip_rel_gap is not None and gap > 1e-9:
        status = f"within {mip_rel_gap:.1%} of optimal (gap {gap:.2%})"
    else:
        status = "optimal"
    return out, status
