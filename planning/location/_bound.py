"""Proven upper bounds for the coverage models, from a Lagrangian relaxation (internal).

The coverage models maximise ``sum_i w_i * values[c_i]`` where ``c_i <= base_i + cover_i @ x``
is the number of open sites over row ``i`` (capped at the last level ``L``) and ``sum x <= p``.
Relaxing the count constraints with multipliers ``u_i >= 0`` gives, for *every* ``u >= 0``,

    L(u) = sum_i [u_i base_i + max_{c in [min(base_i, L), L]} (w_i values[c] - u_i c)]
           + (sum of the p largest entries of cover.T @ u)

an upper bound on the optimum (:func:`coverage_lagrangian`): the bound reported is always
``L(u)`` recomputed here, so it stays valid whatever the accuracy of the solver that proposed
``u``. The best ``u`` is the solution of the Lagrangian dual, a linear programme with one
constraint per candidate column (:func:`coverage_dual`): HiGHS solves it in milliseconds for
a 2,000 x 200 instance and seconds for 20,000 x 2,000, where the MILP takes minutes. For
MCLP its value is the LP relaxation's; for backup coverage with ``theta < 1/2`` it is stronger
(each row's levels stay integer). When the LP stops at its time limit, projected subgradient
steps from its last iterate give the bound; above ``LP_MAX_ENTRIES`` coverage pairs (100,000 x
5,000: the LP takes minutes) subgradient steps alone, each one sparse product.

The same multipliers fix columns (:func:`fix_columns`): opening column ``j`` (or closing it)
costs at least a known amount of ``L(u)``, so when that drops ``L(u)`` below the incumbent,
no better solution opens (or closes) ``j``, and the MILP runs on what is left.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ._milp import MilpModel, solve_milp

__all__ = [
    "CoverageDual",
    "cover_bound",
    "cover_lagrangian",
    "cover_lp_bound",
    "cover_value",
    "coverage_dual",
    "coverage_lagrangian",
    "fix_columns",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_SAFETY = 1e-12  # relative margin added to a bound summed in floating point
LP_FIRST_ENTRIES = 300_000  # coverage pairs up to which the dual LP goes first (milliseconds)
LP_MAX_ENTRIES = 2_000_000  # coverage pairs up to which HiGHS solves the dual LP in seconds
LP_SECONDS_PER_ENTRY = 2e-6  # above LP_FIRST_ENTRIES, the LP is tried only with this much time per pair


@dataclass(frozen=True)
class CoverageDual:
    """Lagrangian multipliers ``u``, the bound ``L(u)`` they prove and ``cover.T @ u`` per column."""

    bound: float
    u: FloatArray
    gain: FloatArray
    how: str  # "lp", or "lp stopped at its time limit + subgradient"
    x: FloatArray | None = None  # the LP relaxation's site values (the duals of the column rows)


def _top(gain: FloatArray, p: int) -> IntArray:
    k = len(gain)
    if p <= 0:
        return np.zeros(0, dtype=np.intp)
    if p >= k:
        return np.arange(k, dtype=np.intp)
    return np.argpartition(-gain, p - 1)[:p].astype(np.intp)


def _rows_part(
    w: FloatArray, base: npt.NDArray[np.int64], values: FloatArray, u: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Per row, ``u base + max_c (w values[c] - u c)`` and the level ``c`` attaining it."""
    levels = len(values) - 1
    low = np.minimum(base, levels)
    best = np.full(len(w), -math.inf)
    level = low.copy()
    for c in range(levels + 1):
        term = np.where(c >= low, w * values[c] - u * c, -math.inf)
        better = term > best
        best = np.where(better, term, best)
        level = np.where(better, c, level)
    return u * base + best, level


def coverage_lagrangian(
    cover_t: sp.csr_array,
    w: FloatArray,
    base: npt.NDArray[np.int64],
    values: FloatArray,
    *,
    p: int,
    u: FloatArray,
) -> tuple[float, FloatArray]:
    """``L(u)``, an upper bound on the best coverage objective with ``p`` sites, and ``cover.T @ u``.

    ``cover_t`` is the transposed incidence (columns x rows); any ``u >= 0`` gives a valid bound.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0], [1, 1], [0, 1]], dtype=np.int8))
    >>> w, base, values = np.array([3.0, 1.0, 2.0]), np.zeros(3, np.int64), np.array([0.0, 1.0])
    >>> round(coverage_lagrangian(sp.csr_array(A.T), w, base, values, p=1, u=np.zeros(3))[0], 6)  # all weight
    6.0
    >>> round(coverage_lagrangian(sp.csr_array(A.T), w, base, values, p=1, u=np.array([3.0, 0.0, 2.0]))[0], 6)
    4.0
    """
    u = np.clip(u, 0.0, None)
    rows, _ = _rows_part(w, base, values, u)
    gain = np.asarray(cover_t @ u, dtype=np.float64)
    value = float(rows.sum() + gain[_top(gain, p)].sum())
    return value + _SAFETY * abs(value), gain


def _dual_model(
    cover_t: sp.csr_array, w: FloatArray, base: npt.NDArray[np.int64], values: FloatArray, p: int
) -> MilpModel:
    """The Lagrangian dual as an LP, columns ``[u (r), z (r), t, s (k)]``, minimised.

    ``min base @ u + sum z + p t + sum s`` s.t. ``z_i + (c - base_i) u_i >= w_i values[c]`` for every
    level ``c`` above ``min(base_i, L)`` and ``t + s_j >= (cover.T @ u)_j``; ``z_i >= w_i values[low_i]``,
    ``0 <= u_i <= w_i * max increment`` (larger ``u_i`` never lowers ``L``), ``t, s >= 0``.
    """
    k, r = cover_t.shape
    levels = len(values) - 1
    low = np.minimum(base, levels)
    ri, ci, vals, rhs = [], [], [], []
    n_rows = 0
    for c in range(1, levels + 1):
        rows = np.flatnonzero(c > low)
        at = n_rows + np.arange(len(rows))
        ri += [at, at]
        ci += [rows, r + rows]
        vals += [(c - base[rows]).astype(np.float64), np.ones(len(rows))]
        rhs.append(w[rows] * values[c])
        n_rows += len(rows)
    width = 2 * r + 1 + k
    levels_part = sp.csr_array(
        (np.concatenate(vals), (np.concatenate(ri), np.concatenate(ci))), shape=(n_rows, width)
    )
    cols_part = sp.hstack(
        [
            -sp.csr_array(cover_t, dtype=np.float64),
            sp.csr_array((k, r)),
            sp.csr_array(np.ones((k, 1))),
            sp.identity(k),
        ],
        format="csr",
    )
    matrix = sp.csr_array(sp.vstack([levels_part, cols_part], format="csr"))
    step = float(np.max(np.diff(values))) if levels else 0.0
    return MilpModel(
        c=np.concatenate([base.astype(np.float64), np.ones(r), [float(p)], np.ones(k)]),
        matrix=matrix,
        row_lb=np.concatenate([*rhs, np.zeros(k)]),
        row_ub=np.full(matrix.shape[0], math.inf),
        col_lb=np.concatenate([np.zeros(r), w * values[low], np.zeros(1 + k)]),
        col_ub=np.concatenate([w * step, np.full(r + 1 + k, math.inf)]),
        integer=np.zeros(width, dtype=bool),
    )


def coverage_dual(
    cover: sp.csr_array,
    w: FloatArray,
    base: npt.NDArray[np.int64],
    values: FloatArray,
    p: int,
    *,
    time_limit_s: float,
    lower: float,
    cover_t: sp.csr_array | None = None,
) -> CoverageDual:
    """The best Lagrangian multipliers within ``time_limit_s`` and the bound they prove.

    Up to ``LP_FIRST_ENTRIES`` coverage pairs, the LP dual (:func:`_dual_model`) by HiGHS, then
    projected subgradient steps (Polyak steps towards ``lower``, a known objective value) from
    its last iterate if it stops early. Up to ``LP_MAX_ENTRIES``, subgradient steps from
    ``u = w / 2`` for 40 % of the time first (a bound whatever the LP does), then the LP, then
    steps again if it stopped early. Above, or with less than ``LP_SECONDS_PER_ENTRY`` per
    pair (HiGHS then overruns its limit), subgradient steps alone.
    """
    t_end = time.perf_counter() + time_limit_s
    ct = sp.csr_array(cover.T) if cover_t is None else cover_t
    r, k = cover.shape[0], ct.shape[0]
    step = float(np.max(np.diff(values)))
    u = 0.5 * w * step
    bound, gain = coverage_lagrangian(ct, w, base, values, p=p, u=u)
    first = CoverageDual(bound, u, gain, "subgradient")
    if cover.nnz > LP_FIRST_ENTRIES:  # a bound that is there whatever the LP does in its time
        # HiGHS overruns a limit far below what the LP needs: subgradient steps alone then
        no_lp = cover.nnz > LP_MAX_ENTRIES or time_limit_s < LP_SECONDS_PER_ENTRY * cover.nnz
        share = 1.0 if no_lp else 0.4
        until = time.perf_counter() + share * time_limit_s
        first = _subgradient(ct, w, base, values, p, start=first, lower=lower, t_end=until)
        if no_lp:
            hint = np.zeros(k)
            hint[_top(first.gain, p)] = 1.0  # the sites of the best multipliers: a start for the search
            how = "subgradient: too large for the LP in time"
            return CoverageDual(first.bound, first.u, first.gain, how, hint)
    model = _dual_model(ct, w, base, values, p)
    left = t_end - time.perf_counter()
    out = solve_milp(model, maximize=False, time_limit_s=max(0.8 * left, 0.05), mip_gap=0.0)
    x = np.abs(out.row_dual[-k:]) if out.row_dual is not None and k else None
    if out.x is not None:
        u = np.clip(out.x[:r], 0.0, w * step)
        bound, gain = coverage_lagrangian(ct, w, base, values, p=p, u=u)
        if out.status == "optimal" and bound <= first.bound:
            return CoverageDual(bound, u, gain, "lp", x)
        if bound < first.bound:
            first = CoverageDual(bound, u, gain, first.how)
    log.info(
        "coverage dual LP ended %s (%s); subgradient steps from the best iterate", out.status, out.message
    )
    best = CoverageDual(first.bound, first.u, first.gain, "lp stopped at its time limit + subgradient")
    return _subgradient(ct, w, base, values, p, start=best, lower=lower, t_end=t_end)


def _subgradient(
    cover_t: sp.csr_array,
    w: FloatArray,
    base: npt.NDArray[np.int64],
    values: FloatArray,
    p: int,
    *,
    start: CoverageDual,
    lower: float,
    t_end: float,
    iterations: int = 20_000,
    patience: int = 40,
) -> CoverageDual:
    """Projected subgradient descent on ``L(u)`` from ``start``; the best multipliers seen.

    The step size halves after ``patience`` steps without a better bound; every iterate's
    ``L(u)`` is computed exactly, so the best one is a valid bound however far it is from the LP's.
    """
    best = start
    ct = sp.csr_array(cover_t, dtype=np.float64)  # one conversion, not one per product
    r = ct.shape[1]
    u, value, gain = start.u.copy(), start.bound, start.gain
    umax = w * float(np.max(np.diff(values)))
    lam, stall = 2.0, 0
    for _ in range(iterations):
        if time.perf_counter() > t_end:
            break
        _, level = _rows_part(w, base, values, u)
        top = _top(gain, p)
        hit = [ct.indices[ct.indptr[j] : ct.indptr[j + 1]] for j in top]
        count = np.bincount(np.concatenate(hit).astype(np.intp), minlength=r) if hit else np.zeros(r)
        g = base + count - level  # dL/du at u
        norm = float(g @ g)
        if norm == 0.0:
            break
        u = np.clip(u - lam * max(value - lower, 1e-9 * abs(value)) / norm * g, 0.0, umax)
        value, gain = coverage_lagrangian(ct, w, base, values, p=p, u=u)
        if value < best.bound - 1e-12 * abs(best.bound):
            best, stall = CoverageDual(value, u.copy(), gain, best.how), 0
        else:
            stall += 1
            if stall >= patience:
                lam, stall = lam / 2, 0
                if lam < 1e-6:
                    break
    return best


def fix_columns(dual: CoverageDual, p: int, threshold: float) -> tuple[BoolArray, BoolArray]:
    """Columns no solution worth more than ``threshold`` opens (``closed``) or leaves closed (``opened``).

    With ``g = cover.T @ u`` and ``top`` the ``p`` largest: opening ``j`` outside ``top`` bounds
    the objective by ``L(u) - g_(p) + g_j``; closing ``j`` inside ``top`` by ``L(u) - g_j + g_(p+1)``.

    Examples
    --------
    >>> import numpy as np
    >>> dual = CoverageDual(10.0, np.zeros(0), np.array([6.0, 3.0, 1.0]), "lp")
    >>> [m.tolist() for m in fix_columns(dual, 1, 8.5)]
    [[False, True, True], [True, False, False]]
    """
    g = dual.gain
    k = len(g)
    closed = np.zeros(k, dtype=bool)
    opened = np.zeros(k, dtype=bool)
    if not (0 < p < k) or not math.isfinite(threshold):
        return closed, opened
    top = np.zeros(k, dtype=bool)
    top[_top(g, p)] = True
    g_p = float(g[top].min())
    g_next = float(g[~top].max())
    slack = dual.bound - threshold - 1e-9 * max(1.0, abs(threshold))  # what a better solution may lose
    closed = ~top & (g < g_p - slack)
    opened = top & (g > g_next + slack)
    return closed, opened


def cover_bound(cover: sp.csr_array, *, upper: float, t_end: float, patience: int = 40) -> float:
    """A lower bound on the fewest columns covering every row of ``cover`` (Lagrangian, subgradient).

    Relaxing ``cover @ x >= 1`` with ``u >= 0`` gives ``L(u) = sum u + sum_j min(0, 1 - (cover.T @ u)_j)``,
    a lower bound for every ``u >= 0``; the count of sites is an integer, so ``ceil(L(u))`` is one
    too. ``upper`` is a known cover size (the Polyak step's target). Every row needs a column.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=np.int8))
    >>> cover_bound(A, upper=3.0, t_end=math.inf)  # rows 0, 1 and 3 have disjoint sets: 3 sites
    3
    """
    return cover_lagrangian(cover, upper=upper, t_end=t_end, patience=patience)[0]


def cover_lagrangian(
    cover: sp.csr_array,
    *,
    upper: float,
    t_end: float,
    patience: int = 40,
    heuristic_every: int = 0,
    weighted: bool = True,
    u0: FloatArray | None = None,
    step: float = 1.0,
) -> tuple[int, IntArray | None]:
    """:func:`cover_bound`, and the smallest cover its multipliers lead to (Beasley's heuristic).

    With ``heuristic_every = k > 0``, every ``k`` steps the columns of negative reduced cost
    ``1 - (cover.T @ u)_j`` are completed to a cover greedily and redundant ones dropped
    (Beasley 1990); the smallest such cover is returned (``None`` without it), and a smaller
    one becomes the Polyak target. ``u0`` (such as an LP's duals) replaces the start
    ``u_i = 1 / |S_i|``, ``step`` the first Polyak step factor (smaller from a good start).
    """
    from ._heuristics import greedy_cover

    A = sp.csr_array(cover, dtype=np.float64)
    At = sp.csr_array(A.T)
    u = 1.0 / np.maximum(np.diff(A.indptr), 1) if u0 is None else np.clip(u0, 0.0, None).astype(np.float64)
    best, lam, stall = 0.0, float(step), 0
    best_cols: IntArray | None = None
    last: bytes = b""
    for it in range(20_000):
        reduced = 1.0 - At @ u
        value = float(u.sum() + np.minimum(reduced, 0.0).sum())
        if value > best + 1e-12 * max(1.0, best):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= patience:
                lam, stall = lam / 2, 0
        if heuristic_every and it % heuristic_every == 0 and time.perf_counter() < t_end:
            neg = np.flatnonzero(reduced < 0).astype(np.intp)
            key = neg.tobytes()
            if key != last:  # a new set of negative reduced costs: complete it to a cover
                last = key
                weight = u + 1e-3 * max(float(u.mean()), 1e-12) if weighted else None
                cols = greedy_cover(cover, start=neg, cover_t=At, row_weight=weight)
                if best_cols is None or len(cols) < len(best_cols):
                    best_cols = cols
                    upper = min(upper, float(len(cols)))
        if math.ceil(best - 1e-6) >= upper or lam < 1e-6 or time.perf_counter() > t_end:
            break
        g = 1.0 - A @ (reduced < 0).astype(np.float64)  # subgradient at u
        g[(u <= 0) & (g < 0)] = 0.0  # the projection on u >= 0
        norm = float(g @ g)
        if norm == 0.0:
            break
        u = np.maximum(u + lam * max(upper - value, 1e-9) / norm * g, 0.0)
    return max(math.ceil(best - 1e-6), 0), best_cols  # the 1e-6 covers the rounding of the sums


def cover_value(cover: sp.csr_array, u: FloatArray, *, cover_t: sp.csr_array | None = None) -> float:
    """``L(u) = sum u + sum_j min(0, 1 - (cover.T @ u)_j)`` for ``u`` clipped at 0: a set-cover lower bound.

    Valid for every ``u >= 0`` whatever produced it (an LP stopped early, a first-order method);
    it is computed here exactly, less a margin for the rounding of the sums.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0], [1, 1], [0, 1]], dtype=np.int8))
    >>> round(cover_value(A, np.array([1.0, 0.0, 1.0])), 6), round(cover_value(A, np.ones(3)), 6)
    (2.0, 1.0)
    """
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, None)
    At = sp.csr_array(sp.csr_array(cover).T) if cover_t is None else cover_t
    value = float(u.sum() + np.minimum(1.0 - At @ u, 0.0).sum())
    return value - 1e-9 * max(1.0, abs(value))


def cover_lp_bound(
    cover: sp.csr_array, *, time_limit_s: float, cover_t: sp.csr_array | None = None
) -> tuple[int, FloatArray | None]:
    """The set-cover LP's dual by HiGHS (PDLP, a first-order method) within ``time_limit_s``.

    The LP runs on the rows that do not contain another row's set plus one column
    (:func:`~._reduce.rows_with_subset`: the LP value is unchanged); its row duals, 0 on the
    rows left out, are a multiplier ``u`` for the whole instance and ``ceil(L(u))``
    (:func:`cover_value`, computed exactly) the bound returned, valid however far PDLP got.
    Returns ``(bound, u)``; ``(0, None)`` without ``highspy`` or when HiGHS gives no duals.
    """
    from ._milp import have_highspy, new_highs
    from ._reduce import rows_with_subset

    if not have_highspy() or cover.shape[0] == 0:
        return 0, None
    import highspy

    t_end = time.perf_counter() + time_limit_s
    A = sp.csr_array(cover, dtype=np.float64)
    keep = np.flatnonzero(~rows_with_subset(A)).astype(np.intp)
    B = sp.csr_array(A[keep])
    r, k = B.shape
    h = new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "pdlp")
    h.setOptionValue("time_limit", max(t_end - time.perf_counter(), 0.05))
    h.passModel(
        int(k),
        int(r),
        int(B.nnz),
        int(highspy.MatrixFormat.kRowwise.value),
        1,
        0.0,
        np.ones(k),
        np.zeros(k),
        np.ones(k),
        np.ones(r),
        np.full(r, highspy.kHighsInf),
        B.indptr.astype(np.int32),
        B.indices.astype(np.int32),
        B.data,
        np.zeros(k, dtype=np.int32),
    )
    h.run()
    dual = np.asarray(h.getSolution().row_dual, dtype=np.float64)
    log.info(
        "set-cover LP (pdlp) on %d of %d rows: %s", r, A.shape[0], h.modelStatusToString(h.getModelStatus())
    )
    if len(dual) != r or not np.isfinite(dual).all():
        return 0, None
    u = np.zeros(A.shape[0])
    u[keep] = np.clip(dual, 0.0, None)
    return max(math.ceil(cover_value(A, u, cover_t=cover_t) - 1e-6), 0), u
