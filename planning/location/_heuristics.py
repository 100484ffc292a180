"""Fast heuristics that give every model an incumbent (and the MILP a warm start).

- :func:`coverage_search`: greedy then best-improvement swaps (each round also every other
  improving swap on rows the round left untouched) for any coverage objective
  ``sum_i w_i * value[min(count_i, L)]`` (MCLP: value = (0, 1); backup coverage:
  (0, theta, 1)); plus the submodularity bound for MCLP.
- :func:`greedy_cover`: greedy set cover with redundant-site removal (LSCP), and
  :func:`packing_bound`, a lower bound from demand rows with pairwise disjoint coverage sets.
- :func:`median_search`: greedy then fast interchange (Resende & Werneck's swap gains) for
  the p-median, on a dense cost matrix.
- :func:`median_lagrangian_bound`: Lagrangian lower bound of the p-median (subgradient).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "center_greedy",
    "coverage_search",
    "coverage_value",
    "greedy_cover",
    "median_cost",
    "median_lagrangian_bound",
    "median_search",
    "open_counts",
    "packing_bound",
    "submodular_bound",
    "worst_cost",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_EPS = 1e-9


def _level_values(values: FloatArray, counts: npt.NDArray[np.int64]) -> FloatArray:
    """``values[min(count, L)]`` with ``values`` the cumulative value at each count level."""
    return values[np.minimum(counts, len(values) - 1)]


def coverage_value(
    cover: sp.csr_array, w: FloatArray, base: npt.NDArray[np.int64], values: FloatArray, cols: IntArray
) -> float:
    """Objective ``sum_i w_i * values[min(base_i + open sites covering i, L)]``."""
    return float(w @ _level_values(values, base + open_counts(cover, cols)))


def open_counts(cover: sp.csr_array, cols: IntArray) -> npt.NDArray[np.int64]:
    """Per row of ``cover``: how many of the columns ``cols`` cover it."""
    if len(cols) == 0:
        return np.zeros(cover.shape[0], dtype=np.int64)
    return np.asarray(cover[:, cols].sum(axis=1), dtype=np.int64).ravel()


@dataclass
class _Cover:
    """Working state of the coverage search: the incidence matrix, its transpose, level values."""

    cover: sp.csr_array
    cover_t: sp.csr_array
    w: FloatArray
    inc: FloatArray  # inc[c]: value of one more cover at count c
    dec: FloatArray  # dec[c]: value lost going from count c to c - 1

    def rows(self, j: int) -> IntArray:
        return self.cover_t.indices[self.cover_t.indptr[j] : self.cover_t.indptr[j + 1]]

    def fill(self, chosen: npt.NDArray[np.bool_], counts: npt.NDArray[np.int64], p: int) -> None:
        """Greedy: open the site of largest gain until ``p`` are open (in place)."""
        while chosen.sum() < p:
            gain = self.cover_t @ (self.w * self.inc[np.minimum(counts, len(self.inc) - 1)])
            gain[chosen] = -1.0
            j = int(np.argmax(gain))
            chosen[j] = True
            counts[self.rows(j)] += 1

    def swaps(self, chosen: npt.NDArray[np.bool_], counts: npt.NDArray[np.int64], t_end: float) -> None:
        """Best-improvement swaps (one site in, one out) until none improves (in place).

        Each round prices every swap at once, makes the best one and then, best first, every
        other improving swap whose rows (those of the site in and the site out) no swap made
        this round touched: its price is then still exact, so each one adds what it promised.
        """
        m = len(chosen)
        tol = _EPS * max(1.0, float(self.w.sum()))
        touched = np.zeros(self.cover.shape[0], dtype=bool)
        while time.perf_counter() < t_end and 0 < chosen.sum() < m:
            S = np.flatnonzero(chosen)
            lvl_gain = self.w * self.inc[np.minimum(counts, len(self.inc) - 1)]
            lvl_loss = self.w * self.dec[np.minimum(counts, len(self.dec) - 1)]
            gain = self.cover_t @ lvl_gain  # value added by opening j
            cover_s = sp.csc_array(self.cover[:, S])
            loss = cover_s.T @ lvl_loss  # value lost by closing f
            # rows covered by both j and f keep their count: add back what gain and loss counted
            corr = self.cover_t @ sp.csr_array(cover_s.multiply((lvl_loss - lvl_gain)[:, None]))
            delta = gain[:, None] - loss[None, :] + sp.csr_array(corr).toarray()
            delta[chosen, :] = -np.inf
            best_j = np.argmax(delta, axis=0)  # the best site in for each site out
            best_d = delta[best_j, np.arange(len(S))]
            order = np.argsort(-best_d, kind="stable")
            if best_d[order[0]] <= tol:
                return
            touched[:] = False
            taken: set[int] = set()
            for fi in order:
                if best_d[fi] <= tol:
                    break
                j, f = int(best_j[fi]), int(S[fi])
                rows_j, rows_f = self.rows(j), self.rows(f)
                if j in taken or touched[rows_j].any() or touched[rows_f].any():
                    continue
                taken.add(j)
                touched[rows_j] = True
                touched[rows_f] = True
                chosen[j], chosen[f] = True, False
                counts[rows_j] += 1
                counts[rows_f] -= 1


def coverage_search(
    cover: sp.csr_array,
    w: FloatArray,
    p: int,
    *,
    base: npt.NDArray[np.int64] | None = None,
    values: FloatArray,
    time_limit_s: float = math.inf,
    max_stall: int = 200,
    accept_worse: float = 0.002,
    target: float = math.inf,
    seed: int = 0,
    start: IntArray | None = None,
) -> tuple[IntArray, float]:
    """Pick ``p`` columns of ``cover`` maximising the coverage objective.

    Greedy, then best-improvement swaps, then iterated local search: exchange a few random
    sites for random others, swap back to a local optimum, move there when it is at most
    ``accept_worse`` (relative) below the current one; stops after ``max_stall`` rounds
    without a new best, at the time limit, or on reaching ``target`` (a known upper bound);
    deterministic for a given ``seed``. ``start`` (at most ``p`` columns, such as the LP
    relaxation's largest) replaces the empty set the greedy starts from.
    ``values[c]`` is the value of a row covered ``c`` times (capped at the last level);
    ``base`` counts coverage already given by existing sites. Returns the columns (sorted)
    and the objective.
    """
    t_end = time.perf_counter() + time_limit_s
    n, m = cover.shape
    state = _Cover(
        cover=cover,
        cover_t=sp.csr_array(cover.T),
        w=w,
        inc=np.diff(np.append(values, values[-1])),
        dec=np.diff(np.concatenate([values[:1], values, values[-1:]])),
    )
    base = np.zeros(n, dtype=np.int64) if base is None else base.astype(np.int64)
    chosen = np.zeros(m, dtype=bool)
    counts = base.copy()
    if start is not None and len(start):
        first = np.unique(np.asarray(start, dtype=np.intp))[:p]
        chosen[first] = True
        counts += open_counts(cover, first)
    state.fill(chosen, counts, p)
    state.swaps(chosen, counts, t_end)
    best_value = float(w @ _level_values(values, counts))
    rng = np.random.default_rng(seed)
    cur, cur_counts, cur_value = chosen.copy(), counts.copy(), best_value
    stall = 0
    stop = target - _EPS * max(1.0, abs(target)) if math.isfinite(target) else math.inf
    while stall < max_stall and 0 < p < m and best_value < stop:
        if time.perf_counter() > t_end:
            break
        # kick: close a few random sites, open as many random closed ones, then swap to a local optimum
        trial, trial_counts = cur.copy(), cur_counts.copy()
        k = int(rng.integers(1, max(1, p // 4) + 1))
        for f in rng.choice(np.flatnonzero(trial), size=k, replace=False):
            trial[f] = False
            trial_counts[state.rows(int(f))] -= 1
        for j in rng.choice(
            np.flatnonzero(~trial & ~cur), size=min(k, int((~trial & ~cur).sum())), replace=False
        ):
            trial[j] = True
            trial_counts[state.rows(int(j))] += 1
        state.fill(trial, trial_counts, p)
        state.swaps(trial, trial_counts, t_end)
        value = float(w @ _level_values(values, trial_counts))
        if value > best_value + _EPS * max(1.0, best_value):
            chosen, counts, best_value, stall = trial.copy(), trial_counts.copy(), value, 0
        else:
            stall += 1
        if value >= cur_value * (1 - accept_worse):  # a random walk over near-best local optima
            cur, cur_counts, cur_value = trial, trial_counts, value
    return np.flatnonzero(chosen).astype(np.intp), best_value


def submodular_bound(cover: sp.csr_array, w: FloatArray, cols: IntArray, p: int) -> float:
    """Upper bound on the best MCLP value with ``p`` sites: ``f(S) + sum of the p best gains``.

    Valid because covered weight is monotone submodular: for the optimal set ``O``,
    ``f(O) <= f(S) + sum_{j in O} gain_j(S)``.
    """
    counts = open_counts(cover, cols)
    free = w * (counts == 0)
    gain = sp.csr_array(cover.T) @ free
    top = np.sort(gain)[::-1][:p].sum() if p else 0.0
    return float(w @ (counts > 0)) + float(top)


def greedy_cover(
    cover: sp.csr_array,
    *,
    start: IntArray | None = None,
    cover_t: sp.csr_array | None = None,
    row_weight: FloatArray | None = None,
) -> IntArray:
    """Greedy set cover of every row of ``cover`` (each must have a column), redundant sites removed.

    ``start`` (such as the columns of negative Lagrangian reduced cost) is chosen first, the
    greedy completes it; a site whose rows are all covered twice is then dropped, the last
    chosen first. ``row_weight`` (positive, such as Lagrangian multipliers: how hard a row is
    to cover) makes the greedy take the site of largest uncovered weight rather than count.
    """
    n = cover.shape[0]
    At = sp.csr_array(cover.T) if cover_t is None else cover_t
    uncovered = np.ones(n, dtype=bool)
    counts = np.zeros(n, dtype=np.int64)
    order: list[int] = []
    for j in [] if start is None else np.unique(np.asarray(start, dtype=np.intp)).tolist():
        rows = At.indices[At.indptr[j] : At.indptr[j + 1]]
        order.append(j)
        uncovered[rows] = False
        counts[rows] += 1
    A = sp.csr_array(cover)
    rw = np.ones(n) if row_weight is None else np.asarray(row_weight, dtype=np.float64)
    gain = np.asarray(At @ (rw * uncovered))  # uncovered weight per column, kept up to date
    while uncovered.any():
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        order.append(j)
        rows = At.indices[At.indptr[j] : At.indptr[j + 1]]
        newly = rows[uncovered[rows]]
        uncovered[rows] = False
        counts[rows] += 1
        if len(newly):  # the columns over the rows just covered lose them
            hit = A.indices[_segments(A.indptr, newly)]
            lost = np.repeat(rw[newly], np.diff(A.indptr)[newly])
            gain -= np.bincount(hit, weights=lost, minlength=len(gain))
    for j in reversed(order.copy()):  # drop a site whose rows are all covered twice
        rows = At.indices[At.indptr[j] : At.indptr[j + 1]]
        if (counts[rows] >= 2).all():
            counts[rows] -= 1
            order.remove(j)
    return np.sort(np.asarray(order, dtype=np.intp))


def _segments(ptr: npt.NDArray[np.int32], rows: IntArray) -> npt.NDArray[np.int64]:
    """The positions ``ptr[i] .. ptr[i + 1] - 1`` of every row ``i`` of ``rows``, concatenated."""
    sizes = (ptr[rows + 1] - ptr[rows]).astype(np.int64)
    shift = np.repeat(ptr[rows].astype(np.int64) - (np.cumsum(sizes) - sizes), sizes)
    return shift + np.arange(int(sizes.sum()), dtype=np.int64)


def packing_bound(cover: sp.csr_array) -> int:
    """Rows with pairwise disjoint coverage sets: each needs its own site, a lower bound for LSCP."""
    sizes = np.diff(cover.indptr)
    used = np.zeros(cover.shape[1], dtype=bool)
    k = 0
    for i in np.argsort(sizes, kind="stable"):
        cols = cover.indices[cover.indptr[i] : cover.indptr[i + 1]]
        if len(cols) and not used[cols].any():
            used[cols] = True
            k += 1
    return k


def median_cost(cost: FloatArray, w: FloatArray, cols: IntArray) -> float:
    """Total weighted cost when every row goes to its cheapest column among ``cols``."""
    return float(w @ cost[:, cols].min(axis=1))


def median_search(
    cost: FloatArray,
    w: FloatArray,
    p: int,
    *,
    fixed: IntArray,
    time_limit_s: float = math.inf,
    max_rounds: int = 10_000,
) -> tuple[IntArray, float]:
    """p-median by greedy addition then best-improvement swaps of the ``p`` non-fixed sites.

    ``cost`` must be finite (callers replace ``inf`` by a large penalty). Returns the open
    columns (``fixed`` included, sorted) and the total weighted cost.
    """
    t_end = time.perf_counter() + time_limit_s
    n, m = cost.shape
    is_open = np.zeros(m, dtype=bool)
    is_open[fixed] = True
    big = float(cost.max()) * 2 + 1.0
    d1 = cost[:, fixed].min(axis=1) if len(fixed) else np.full(n, big)
    for _ in range(p):
        gain = w @ np.maximum(d1[:, None] - cost, 0.0)
        gain[is_open] = -1.0
        j = int(np.argmax(gain))
        is_open[j] = True
        d1 = np.minimum(d1, cost[:, j])
    movable = np.ones(m, dtype=bool)
    movable[fixed] = False
    for _ in range(max_rounds):
        if p == 0 or time.perf_counter() > t_end or is_open.sum() == m:
            break
        S = np.flatnonzero(is_open)
        sub = cost[:, S]
        order = np.argsort(sub, axis=1)[:, :2]
        near = S[order[:, 0]]
        d1 = np.take_along_axis(sub, order[:, :1], axis=1).ravel()
        d2 = np.take_along_axis(sub, order[:, 1:2], axis=1).ravel() if len(S) > 1 else np.full(n, big)
        gain = w @ np.maximum(d1[:, None] - cost, 0.0)  # opening j alone
        best = (0.0, -1, -1)
        for f in S[movable[S]]:
            rows = near == f
            loss = float(w[rows] @ (d2[rows] - d1[rows]))
            # rows of f move to min(d2, d_j) instead of d2: add back what the loss overcounted
            cr = cost[rows]
            extra = w[rows] @ (d2[rows, None] - np.maximum(cr, d1[rows, None])).clip(min=0.0)
            delta = gain + extra - loss
            delta[is_open] = -np.inf
            j = int(np.argmax(delta))
            if delta[j] > best[0]:
                best = (float(delta[j]), j, int(f))
        if best[0] <= _EPS * max(1.0, float(w @ d1)):
            break
        is_open[best[1]], is_open[best[2]] = True, False
    cols = np.flatnonzero(is_open).astype(np.intp)
    return cols, median_cost(cost, w, cols)


def median_lagrangian_bound(
    cost: FloatArray,
    w: FloatArray,
    n_open: int,
    *,
    fixed: IntArray,
    upper: float,
    iterations: int = 60,
    time_limit_s: float = math.inf,
) -> float:
    """Lagrangian lower bound of the p-median (``n_open`` sites, ``fixed`` always open).

    Relaxing ``sum_j z_ij = 1`` with multipliers ``u_i`` gives
    ``L(u) = sum_i u_i + sum of the n_open smallest rho_j`` (fixed sites always counted) with
    ``rho_j = sum_i min(0, w_i d_ij - u_i)``; every ``L(u)`` is a valid lower bound, improved
    by subgradient steps (Polyak step towards ``upper``).
    """
    t_end = time.perf_counter() + time_limit_s
    wd = w[:, None] * cost
    u = np.sort(wd, axis=1)[:, min(n_open, cost.shape[1] - 1)] if cost.shape[1] > 1 else wd[:, 0].copy()
    best = -math.inf
    lam = 2.0
    m = cost.shape[1]
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[fixed] = True
    stall = 0
    for _ in range(iterations):
        red = np.minimum(wd - u[:, None], 0.0)
        rho = red.sum(axis=0)
        free_rank = np.argsort(np.where(is_fixed, np.inf, rho))[: n_open - len(fixed)]
        open_ = is_fixed.copy()
        open_[free_rank] = True
        value = float(u.sum() + rho[open_].sum())
        if not math.isfinite(best) or value > best + 1e-9 * max(1.0, abs(best)):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 5:
                lam, stall = lam / 2, 0
        g = 1.0 - ((red[:, open_] < 0).sum(axis=1))  # subgradient of L at u
        norm = float(g @ g)
        if norm == 0 or lam < 1e-4 or time.perf_counter() > t_end:
            break
        u = u + lam * max(upper - value, 0.0) / norm * g
    return best


def worst_cost(cost: FloatArray, cols: IntArray) -> float:
    """The largest cost from any row to its cheapest column among ``cols`` (p-center objective)."""
    return float(cost[:, cols].min(axis=1).max())


def center_greedy(cost: FloatArray, start: IntArray, free: IntArray, n_new: int) -> IntArray:
    """Open ``n_new`` more ``free`` sites, each the cheapest one for the worst-served row."""
    cols = [int(j) for j in start]
    is_free = np.zeros(cost.shape[1], dtype=bool)
    is_free[free] = True
    is_free[cols] = False
    for _ in range(n_new):
        if not is_free.any():
            break
        if cols:
            worst_row = int(np.argmax(cost[:, cols].min(axis=1)))
            j = int(np.argmin(np.where(is_free, cost[worst_row], np.inf)))
        else:  # the single best site: smallest worst cost
            j = int(np.argmin(np.where(is_free, cost.max(axis=0), np.inf)))
        cols.append(j)
        is_free[j] = False
    return np.sort(np.asarray(cols, dtype=np.intp))
