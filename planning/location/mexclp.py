"""Daskin's maximum expected covering location problem (MEXCLP), solved exactly with HiGHS.

Every unit is busy with the same probability ``q`` (the system busy fraction), independently
of the others, so a demand row covered by ``n`` units within ``radius`` is served in time with
probability ``1 - q**n``. MEXCLP places units (several may share a site) to maximise the
expected covered weight ``sum_i w_i (1 - q**n_i)`` (Daskin 1983, *Transportation Science*
17(1): 48-70).

The model is Daskin's linear form: integer units ``x_j`` per candidate column and, per demand
row, level variables ``y_ik`` in ``[0, 1]`` for ``k = 1..K_i`` with weights
``w_i (1 - q) q**(k - 1)``, decreasing in ``k``, bounded by ``sum_k y_ik <= sum_j a_ij x_j``;
because the weights decrease, the levels fill in order and the LP is tight in ``y`` once ``x``
is integer. Demand rows with the same coverage set are merged first (their weights added).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from gis.errors import InputError, SolverError
from gis.speech import say

from ._reduce import coverage_matrix
from ._result import LocationResult, Status
from ._scaffold import assemble_result, check_method
from ._validate import validate_inputs

__all__ = ["MexclpResult", "expected_coverage", "mexclp"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class MexclpResult:
    """Outcome of :func:`mexclp`: the location result plus the units placed at every column.

    Attributes
    ----------
    location
        The :class:`LocationResult` (``model="mexclp"``): open columns, ``objective`` the
        expected covered weight, ``bound`` HiGHS' proven upper bound, ``coverage_count`` the
        units within the radius of every demand row.
    units
        Units per candidate column (read-only), existing units included.
    busy_fraction
        The system busy fraction ``q`` used.
    covered
        Weight covered at least once (the MCLP objective of the same plan), for comparison.
    """

    location: LocationResult
    units: IntArray
    busy_fraction: float
    covered: float

    @property
    def expected_covered(self) -> float:
        """Expected covered weight: ``sum_i w_i (1 - q**n_i)``."""
        return self.location.objective


def expected_coverage(
    cost: npt.ArrayLike, weights: npt.ArrayLike, radius: float, units: npt.ArrayLike, busy_fraction: float
) -> float:
    """Expected covered weight ``sum_i w_i (1 - q**n_i)`` of a placement of units.

    Parameters
    ----------
    cost
        ``(targets, sources)`` cost matrix, ``inf`` = unreachable.
    weights
        Demand weight per row.
    radius
        Coverage standard in the units of ``cost``.
    units
        Units per column (0 where closed).
    busy_fraction
        Probability ``q`` that a unit is busy, in ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> expected_coverage(np.array([[1.0, 1.0], [1.0, 9.0]]), [1, 1], 2.0, [1, 1], 0.5)
    1.25
    """
    q = _busy(busy_fraction)
    a = np.asarray(cost, dtype=np.float64) <= radius
    n = a.astype(np.int64) @ np.asarray(units, dtype=np.int64)
    return float(np.asarray(weights, dtype=np.float64) @ (1.0 - q ** n.astype(np.float64)))


def _busy(q: float) -> float:
    if not (0.0 <= float(q) < 1.0):
        msg = f"`busy_fraction` is {q}. Fix: give the share of time a unit is busy, in [0, 1) (say 0.2)."
        raise InputError(msg)
    return float(q)


def _merge_rows(a: sp.csr_array, w: FloatArray) -> tuple[sp.csr_array, FloatArray]:
    """Rows with the same coverage set merged (weights added); rows covered by nothing dropped."""
    groups: dict[bytes, int] = {}
    keep: list[int] = []
    merged: list[float] = []
    for i in range(a.shape[0]):
        cols = a.indices[a.indptr[i] : a.indptr[i + 1]]
        if len(cols) == 0 or w[i] == 0:
            continue
        key = np.sort(cols).tobytes()
        g = groups.get(key)
        if g is None:
            groups[key] = len(keep)
            keep.append(i)
            merged.append(float(w[i]))
        else:
            merged[g] += float(w[i])
    rows = np.asarray(keep, dtype=np.intp)
    return sp.csr_array(a[rows]), np.asarray(merged, dtype=np.float64)


def mexclp(
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
    radius: float,
    n_new: int,
    *,
    busy_fraction: float,
    existing: npt.ArrayLike | None = None,
    existing_units: npt.ArrayLike | None = None,
    max_units_per_site: int = 1,
    time_limit_s: float = 60.0,
    mip_gap: float = 1e-4,
) -> MexclpResult:
    """Maximum expected covering location: place ``n_new`` new units maximising expected coverage.

    Parameters
    ----------
    cost
        ``(targets, sources)``: demand rows x candidate columns (existing stations included),
        seconds or metres; ``np.inf`` = unreachable.
    weights
        Demand weight per row (population, risk score).
    radius
        Coverage standard in the units of ``cost``.
    n_new
        New units to place. With ``max_units_per_site=1`` (the default) a unit is a new site,
        as ``n_new`` in :func:`mclp`.
    busy_fraction
        System busy fraction ``q``: the probability that a unit is busy when a call comes,
        in ``[0, 1)`` (workload / units; :mod:`planning.reliability` estimates it).
    existing
        Columns (indices or a boolean mask) that are open in every solution.
    existing_units
        Units at each ``existing`` column (default 1 each); they stay and more may be added
        up to ``max_units_per_site``.
    max_units_per_site
        Most units one column can hold (existing columns at least their current units).
    time_limit_s
        HiGHS wall-time limit; the best plan and its gap are returned.
    mip_gap
        Relative optimality gap at which HiGHS stops.

    Returns
    -------
    MexclpResult
        ``location.objective`` is the expected covered weight, ``units`` the units per column.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 9.0, 1.0], [9.0, 1.0, 1.0], [1.0, 9.0, 9.0]])
    >>> res = mexclp(cost, [10, 10, 10], radius=2.0, n_new=2, busy_fraction=0.3)
    >>> res.location.selected.tolist(), res.units.tolist(), round(res.expected_covered, 2)
    ([0, 2], [1, 0, 1], 23.1)
    >>> mexclp(cost, [10, 10, 10], 2.0, 3, busy_fraction=0.3, max_units_per_site=2).units.tolist()
    [2, 0, 1]
    """
    t0 = time.perf_counter()
    check_method("exact", time_limit_s, mip_gap)
    q = _busy(busy_fraction)
    prob = validate_inputs(cost, weights=weights, radius=radius, existing=existing)
    m = prob.n_candidates
    if isinstance(n_new, bool) or not isinstance(n_new, (int, np.integer)) or n_new < 0:
        msg = f"`n_new` is {n_new!r}. Fix: give the number of new units, an integer >= 0."
        raise InputError(msg)
    if isinstance(max_units_per_site, bool) or int(max_units_per_site) < 1:
        msg = f"`max_units_per_site` is {max_units_per_site!r}. Fix: give an integer >= 1."
        raise InputError(msg)
    lo = np.zeros(m, dtype=np.int64)
    if existing_units is None:
        lo[prob.existing] = 1
    else:
        eu = np.asarray(existing_units)
        if eu.shape != (len(prob.existing),) or (eu < 0).any() or not np.all(eu == np.round(eu)):
            msg = (
                f"`existing_units` has shape {eu.shape} (values {eu.tolist()[:10]}); it must give one "
                f"non-negative integer per `existing` column ({len(prob.existing)}). Fix: align the two."
            )
            raise InputError(msg)
        lo[prob.existing] = eu.astype(np.int64)
    hi = np.maximum(lo, int(max_units_per_site))
    total = int(lo.sum()) + int(n_new)
    if total > int(hi.sum()):
        msg = (
            f"`n_new` is {n_new}, but the {m} candidate columns hold only {int(hi.sum() - lo.sum())} "
            f"more units at `max_units_per_site`={max_units_per_site}. "
            "Fix: lower `n_new` or allow more units per site."
        )
        raise InputError(msg)
    assert prob.radius is not None
    a_full = sp.csr_array(coverage_matrix(prob.cost, prob.radius), dtype=np.float64)
    a, w = _merge_rows(a_full, prob.weights)
    levels = np.minimum(np.asarray(a @ hi.astype(np.float64)).astype(np.int64), total)
    notes: list[str] = []
    if q == 0.0:
        levels = np.minimum(levels, 1)  # later levels are worth nothing
    units, bound, status = _solve(a, w, levels, q, lo, hi, total, time_limit_s, mip_gap)
    if status == "time_limit":
        notes.append(say("loc_highs_time_limit"))
    count = np.asarray(a_full @ units.astype(np.float64)).astype(np.int64)
    objective = float(prob.weights @ (1.0 - q ** count.astype(np.float64)))
    covered = float(prob.weights[count > 0].sum())
    selected = np.flatnonzero(units > 0).astype(np.intp)
    loc = assemble_result(
        "mexclp",
        prob,
        selected=selected,
        objective=objective,
        bound=max(bound, objective),
        status=status,
        sense="max",
        t0=t0,
        solver="highs (scipy.optimize.milp)",
        notes=notes,
        coverage=count,
    )
    frozen_units = units.astype(np.intp)
    frozen_units.flags.writeable = False
    return MexclpResult(location=loc, units=frozen_units, busy_fraction=q, covered=covered)


def _solve(  # noqa: PLR0917 - one model's arrays
    a: sp.csr_array,
    w: FloatArray,
    levels: npt.NDArray[np.int64],
    q: float,
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    total: int,
    time_limit_s: float,
    mip_gap: float,
) -> tuple[npt.NDArray[np.int64], float, Status]:
    """Daskin's MILP: integer units ``x`` then level variables ``y``; returns units, bound, status."""
    m = len(lo)
    n_rows = len(w)
    n_y = int(levels.sum())
    row_of_y = np.repeat(np.arange(n_rows), levels)
    starts = np.concatenate([[0], np.cumsum(levels)[:-1]]) if n_rows else np.zeros(0, dtype=np.int64)
    k_of_y = np.arange(n_y) - np.repeat(starts, levels)  # 0-based level
    c = np.concatenate([np.zeros(m), -(w[row_of_y] * (1.0 - q) * q ** k_of_y.astype(np.float64))])
    # sum_k y_ik - sum_j a_ij x_j <= 0 for every merged row
    link = sp.hstack([-a, sp.csr_array((np.ones(n_y), (row_of_y, np.arange(n_y))), shape=(n_rows, n_y))])
    budget = sp.hstack([sp.csr_array(np.ones((1, m))), sp.csr_array((1, n_y))])
    cons = [
        LinearConstraint(sp.csr_array(link), -np.inf, 0.0),
        LinearConstraint(sp.csr_array(budget), total, total),
    ]
    integrality = np.concatenate([np.ones(m), np.zeros(n_y)])
    bounds = Bounds(np.concatenate([lo, np.zeros(n_y)]), np.concatenate([hi, np.ones(n_y)]))
    res = milp(
        c,
        constraints=cons,
        integrality=integrality,
        bounds=bounds,
        options={"time_limit": max(time_limit_s, 0.1), "mip_rel_gap": mip_gap, "disp": False},
    )
    if res.x is None:
        msg = f"MEXCLP: HiGHS found no plan ({res.message}). Fix: raise `time_limit_s`."
        raise SolverError(msg)
    units = np.round(res.x[:m]).astype(np.int64)
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and math.isfinite(dual) else -float(res.fun)
    status: Status = "optimal" if res.status == 0 else "time_limit"
    log.debug("mexclp: %d columns, %d level variables, %s", m, n_y, res.message)
    return units, bound, status
