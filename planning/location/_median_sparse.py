"""The p-median on a sparse cost matrix too large to densify (internal).

A sparse ``cost`` (canonical CSR, :mod:`._costs`) holds the costs within a cutoff; an absent
pair is unreachable, so a row must be served by one of its stored candidates. Nothing here
builds an ``n x m`` array: every step works on the stored entries.

- :func:`median_greedy`: lazy greedy (the saving of a new site only shrinks as sites open,
  so a stale saving is an upper bound and most are never recomputed);
- :func:`median_alternate`: locate-allocate (Cooper): each open site moves to the best median
  of the rows it serves, rows go to their nearest open site, until nothing improves;
- :func:`median_sparse_bound`: the Lagrangian lower bound of the assignment constraints,
  ``L(u) = sum_i u_i + sum over the open sites of rho_j``, ``rho_j = sum_i min(0, w_i c_ij - u_i)``
  over the stored entries of column ``j`` (an absent pair can never be assigned), improved by
  subgradient steps; every ``L(u)`` is a valid bound, and the best open set of each ``L(u)``
  is offered back as a solution.
"""

from __future__ import annotations

import heapq
import math
import time

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from ._costs import nearest_open, row_min, row_of_entry

__all__ = ["median_alternate", "median_greedy", "median_repair", "median_sparse_bound", "sparse_median_cost"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def sparse_median_cost(cost: sp.csr_array, w: FloatArray, cols: IntArray) -> float:
    """Total weighted cost with every row at its cheapest column of ``cols``; ``inf`` if one has none.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> c = sp.csr_array(([1.0, 4.0, 2.0], ([0, 0, 1], [0, 1, 1])), shape=(2, 2))
    >>> sparse_median_cost(c, np.array([1.0, 3.0]), np.array([1]))
    10.0
    >>> sparse_median_cost(c, np.ones(2), np.array([0]))  # row 1 cannot reach column 0
    inf
    """
    _, d = nearest_open(cost, np.asarray(cols, dtype=np.intp))
    return float(w @ d) if np.isfinite(d).all() else math.inf


def median_greedy(cost: sp.csr_array, w: FloatArray, n_new: int, *, fixed: IntArray) -> IntArray:
    """Open ``n_new`` sites besides ``fixed``, each the one saving the most (lazy greedy).

    A row no open site reaches costs ``penalty`` (above any stored cost), so the greedy first
    reaches every row it can. Returns the open columns, ``fixed`` included, sorted.
    """
    n, m = cost.shape
    csc = sp.csc_array(cost)
    rows_of = csc.indices
    penalty = (float(cost.data.max()) if cost.nnz else 1.0) * 4.0 + 1.0
    d = np.full(n, penalty)
    if len(fixed):
        _, near = nearest_open(cost, fixed)
        d = np.where(np.isfinite(near), near, penalty)
    is_open = np.zeros(m, dtype=bool)
    is_open[fixed] = True

    def saving(j: int) -> float:
        a, b = csc.indptr[j], csc.indptr[j + 1]
        i = rows_of[a:b]
        return float(w[i] @ np.maximum(d[i] - csc.data[a:b], 0.0))

    heap = [(-saving(j), j) for j in range(m) if not is_open[j]]
    heapq.heapify(heap)
    opened = 0
    while heap and opened < n_new:
        _, j = heapq.heappop(heap)
        fresh = saving(j)
        if heap and fresh < -heap[0][0] - 1e-12 * max(1.0, fresh):
            heapq.heappush(heap, (-fresh, j))  # stale: someone else may now save more
            continue
        a, b = csc.indptr[j], csc.indptr[j + 1]
        i = rows_of[a:b]
        d[i] = np.minimum(d[i], csc.data[a:b])
        is_open[j] = True
        opened += 1
    return np.flatnonzero(is_open).astype(np.intp)


def median_alternate(
    cost: sp.csr_array,
    w: FloatArray,
    cols: IntArray,
    *,
    fixed: IntArray,
    t_end: float,
    rounds: int = 50,
    round_s: float = 0.0,
) -> tuple[IntArray, float]:
    """Locate-allocate from ``cols``: every movable site moves to its rows' best median, repeatedly.

    A site may move to column ``j`` only when ``j`` reaches every row it serves, so the total
    never grows. A round is started only when one as long as the last (at first ``round_s``)
    ends by ``t_end``.
    Returns the open columns (sorted) and the total weighted cost.
    """
    cols = np.sort(np.asarray(cols, dtype=np.intp))
    best = sparse_median_cost(cost, w, cols)
    if not math.isfinite(best):
        return cols, best
    n, m = cost.shape
    movable_mask = np.ones(m, dtype=bool)
    movable_mask[fixed] = False
    # real part: the weighted cost; imaginary part: 1 per pair, so no product entry is ever 0 (dropped)
    both = sp.csr_array((cost.data * w[row_of_entry(cost)] + 1j, cost.indices, cost.indptr), shape=cost.shape)
    took = round_s  # the last round's time: a round that would end past ``t_end`` is not started
    for _ in range(rounds):
        started = time.perf_counter()
        if started + took > t_end:
            break
        near, _ = nearest_open(cost, cols)
        movable = cols[movable_mask[cols]]
        if len(movable) == 0:
            break
        slot = np.full(m, -1, dtype=np.intp)
        slot[movable] = np.arange(len(movable))
        s = slot[near]
        rows = np.flatnonzero(s >= 0)
        P = sp.csr_array(
            (np.ones(len(rows)), (s[rows], rows)), shape=(len(movable), n)
        )  # site x rows it serves
        moved = sp.csr_array(P @ both)  # per site and column: the cost of moving the site there, and
        # how many of the site's rows that column reaches
        size = np.asarray(P.sum(axis=1)).ravel()
        taken = np.zeros(m, dtype=bool)
        taken[cols] = True
        new = cols.copy()
        for f in np.argsort(-size, kind="stable"):  # busiest sites choose first
            a, b = moved.indptr[f], moved.indptr[f + 1]
            js, vals, reach = moved.indices[a:b], moved.data[a:b].real, moved.data[a:b].imag
            ok = (reach >= size[f] - 0.5) & (~taken[js] | (js == movable[f]))
            if not ok.any():
                continue
            j = int(js[ok][np.argmin(vals[ok])])
            if j != movable[f]:
                taken[movable[f]], taken[j] = False, True
                new[new == movable[f]] = j
        new = np.sort(new)
        value = sparse_median_cost(cost, w, new)
        took = time.perf_counter() - started
        if not value < best - 1e-12 * max(1.0, best):
            break
        cols, best = new, value
    return cols, best


def _cheapest(cost: sp.csr_array, threshold: float) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Rows, columns and costs of the stored pairs up to ``threshold``, and each row's cheapest other.

    The last is the cheapest stored cost above ``threshold`` per row (``inf`` for a row with none).
    """
    rows = row_of_entry(cost)
    keep = cost.data <= threshold
    beyond = np.where(keep, math.inf, cost.data)
    nxt = row_min(sp.csr_array((beyond, cost.indices, cost.indptr), shape=cost.shape))
    return rows[keep], cost.indices[keep].astype(np.intp), cost.data[keep], nxt


def median_sparse_bound(
    cost: sp.csr_array,
    w: FloatArray,
    n_open: int,
    *,
    fixed: IntArray,
    upper: float,
    start: FloatArray,
    t_end: float,
    iterations: int = 20_000,
    patience: int = 10,
    step: float = 2.0,
    threshold: float = math.inf,
) -> tuple[float, IntArray | None, float]:
    """Lagrangian lower bound of the sparse p-median and the best open set its multipliers suggest.

    ``start`` gives the first multipliers (per row, such as ``w_i`` times its cost in a good
    solution); ``upper`` is a known total cost (the Polyak step's target). Returns
    ``(bound, cols, cols_cost)``: the best ``L(u)`` seen, and the cheapest feasible open set
    among those of the multipliers tried (one that misses rows, cost ``inf``, when none reached
    every row: :func:`median_repair` makes it feasible).
    The steps work on the pairs up to ``threshold`` with ``u_i`` capped at ``w_i`` times the
    row's cheapest pair left out: those then add exactly 0 to ``L(u)``, so the bound is the one
    of the whole matrix (each step is cheaper, the cap may make the best bound a little lower).

    Subgradient optimisation as Beasley (1993) does for the p-median: Polyak steps
    ``lam * (upper - L(u)) / |g|^2`` towards the best known solution, ``lam`` halved after
    ``patience`` steps without a better bound; the pairs are held column by column once, so a
    step is a few passes over them.
    """
    n, m = cost.shape
    rows, cols_all, data, cap = _cheapest(cost, threshold)
    umax = w * cap  # u_i <= w_i * (the row's first cost left out): the pairs left out add exactly 0
    by_col = np.argsort(cols_all, kind="stable")
    rows_c = rows[by_col]  # the pairs column by column
    wc_c = (data * w[rows])[by_col]
    col_ptr = np.concatenate([[0], np.cumsum(np.bincount(cols_all, minlength=m))])
    has = np.diff(col_ptr) > 0
    heads = col_ptr[:-1][has]
    is_fixed = np.zeros(m, dtype=bool)
    is_fixed[fixed] = True
    n_free = n_open - len(fixed)
    u = np.minimum(np.asarray(start, dtype=np.float64), umax)
    best, best_cols, best_cost = -math.inf, None, math.inf
    lam, stall = step, 0
    red = np.empty(len(rows_c))
    for it in range(iterations):
        np.subtract(wc_c, u[rows_c], out=red)
        np.minimum(red, 0.0, out=red)
        rho = np.zeros(m)
        if len(red):
            rho[has] = np.add.reduceat(red, heads)
        score = np.where(is_fixed, math.inf, rho)
        free = np.argpartition(score, n_free - 1)[:n_free] if 0 < n_free < m else np.flatnonzero(~is_fixed)
        open_ = is_fixed.copy()
        open_[free[:n_free]] = True
        value = float(u.sum() + rho[open_].sum())
        if not math.isfinite(best) or value > best + 1e-9 * max(1.0, abs(best)):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= patience:
                lam, stall = lam / 2, 0
        if it % 50 == 0:  # the multipliers' own sites: now and then a good solution
            cols = np.flatnonzero(open_).astype(np.intp)
            c = sparse_median_cost(cost, w, cols)
            if c < best_cost or best_cols is None:
                best_cols, best_cost = cols, c
        opened = np.flatnonzero(open_ & has)
        seg = _segments(col_ptr, opened)  # the pairs of the open columns
        g = 1.0 - np.bincount(rows_c[seg[red[seg] < 0]], minlength=n)  # subgradient at u
        norm = float(g @ g)
        if norm == 0 or lam < 1e-6 or time.perf_counter() > t_end:
            break
        u = np.minimum(u + lam * max(min(upper, best_cost) - value, 1e-9 * abs(value)) / norm * g, umax)
    return best, best_cols, best_cost


def _segments(ptr: npt.NDArray[np.int64], cols: IntArray) -> npt.NDArray[np.int64]:
    """The positions ``ptr[j] .. ptr[j + 1] - 1`` of every column ``j`` of ``cols``, concatenated."""
    sizes = (ptr[cols + 1] - ptr[cols]).astype(np.int64)
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(ptr[cols].astype(np.int64) - (np.cumsum(sizes) - sizes), sizes)
    return shift + np.arange(total, dtype=np.int64)


def median_repair(
    cost: sp.csr_array, w: FloatArray, cols: IntArray, *, fixed: IntArray, tries: int = 4
) -> IntArray | None:
    """A feasible open set near ``cols`` (such as the Lagrangian's): the least used sites re-placed.

    The ``q`` movable sites serving the least weight close and the lazy greedy opens ``q`` again,
    reaching the rows nobody reached first; ``q`` doubles (from the number of rows missed, at
    least 1) until every row is reached. ``None`` when ``tries`` doublings do not do it.
    """
    cols = np.unique(np.asarray(cols, dtype=np.intp))
    near, _ = nearest_open(cost, cols)
    missed = int((near < 0).sum())
    if missed == 0:
        return cols
    movable = cols[~np.isin(cols, fixed)]
    served = np.bincount(near[near >= 0], weights=w[near >= 0], minlength=cost.shape[1])[movable]
    order = movable[np.argsort(served, kind="stable")]  # least used first
    q = max(1, min(missed, len(movable)))
    for _ in range(tries):
        keep = np.union1d(fixed, order[q:]).astype(np.intp)
        out = median_greedy(cost, w, len(movable) - (len(keep) - len(fixed)), fixed=keep)
        if math.isfinite(sparse_median_cost(cost, w, out)):
            return out
        if q >= len(movable):
            break
        q = min(2 * q, len(movable))
    return None
