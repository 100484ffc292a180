"""Cheap exact answers for tiny reduced instances, so they skip the MILP's fixed cost.

- :func:`combinations_array`: every ``p``-subset of ``range(k)`` as rows of an array (vectorised).
- :func:`coverage_enumerate`: the best ``p`` columns for a coverage objective by evaluating
  every subset; exact, so its objective is also the bound.

HiGHS spends a few milliseconds on even a 50 x 30 MILP (presolve, probing, cuts); after
reduction the demo city's MCLP has about 17,000 subsets of 4 sites, which numpy scores in
well under a millisecond.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "ENUM_MAX_CELLS",
    "ENUM_MAX_SUBSETS",
    "combinations_array",
    "cover_enumerate",
    "cover_reduce",
    "coverage_enumerate",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

ENUM_MAX_SUBSETS = 200_000  # subsets scored by :func:`coverage_enumerate`
ENUM_MAX_CELLS = 4_000_000  # subsets x demand rows held at once (chunked beyond that)


def combinations_array(k: int, p: int) -> IntArray:
    """All ``p``-subsets of ``range(k)`` in lexicographic order, one per row.

    Examples
    --------
    >>> combinations_array(4, 2).tolist()
    [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    """
    if p == 0:
        return np.zeros((1, 0), dtype=np.intp)
    if p > k:
        return np.zeros((0, p), dtype=np.intp)
    out = np.arange(k - p + 1, dtype=np.intp)[:, None]  # first element leaves room for the rest
    for level in range(1, p):
        last = out[:, -1]
        hi = k - p + level  # largest value allowed at this position
        counts = hi - last
        rep = np.repeat(out, counts, axis=0)
        starts = np.cumsum(counts) - counts
        nxt = (
            np.arange(int(counts.sum()), dtype=np.intp)
            - np.repeat(starts, counts)
            + np.repeat(last + 1, counts)
        )
        out = np.column_stack([rep, nxt])
    return out


def coverage_enumerate(
    cover: sp.csr_array,
    w: FloatArray,
    p: int,
    *,
    base: npt.NDArray[np.int64],
    values: FloatArray,
    max_subsets: int = ENUM_MAX_SUBSETS,
) -> tuple[IntArray, float] | None:
    """The optimal ``p`` columns of ``cover`` for ``sum_i w_i * values[min(base_i + count_i, L)]``.

    Scores every subset; ``None`` when there are more than ``max_subsets`` of them. Ties keep
    the lexicographically first subset.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=np.int8))
    >>> cols, obj = coverage_enumerate(A, np.array([3.0, 1.0, 1.0]), 1, base=np.zeros(3, np.int64),
    ...                                values=np.array([0.0, 1.0]))
    >>> cols.tolist(), obj
    ([0], 3.0)
    """
    r, k = cover.shape
    if p > k or math.comb(k, p) > max_subsets:
        return None
    subsets = combinations_array(k, p)
    levels = len(values) - 1
    dense_t = np.ascontiguousarray(cover.toarray().T, dtype=np.int16)  # k x r
    base16 = np.minimum(base, levels).astype(np.int16)
    step = max(1, ENUM_MAX_CELLS // max(r, 1))
    best_i, best_v = -1, -math.inf
    for lo in range(0, len(subsets), step):
        chunk = subsets[lo : lo + step]
        counts = np.broadcast_to(base16, (len(chunk), r)).copy()
        for t in range(p):
            counts += dense_t[chunk[:, t]]
        score = (counts > 0) @ w if levels == 1 else values[np.minimum(counts, levels)] @ w
        i = int(np.argmax(score))
        if score[i] > best_v:
            best_i, best_v = lo + i, float(score[i])
    cols = subsets[best_i].astype(np.intp)
    # the objective recomputed on the chosen columns (sums in one order, as the callers do)
    count = base + np.asarray(cover[:, cols].sum(axis=1), dtype=np.int64).ravel() if p else base
    return cols, float(w @ values[np.minimum(count, levels)])


def _nested(inter: npt.NDArray[np.float32], size: npt.NDArray[np.float32], *, supersets: bool) -> BoolArray:
    """Sets (rows of a 0/1 matrix ``M``, ``inter = M @ M.T``) nested in another set.

    With ``supersets``, set ``i`` is reported when it contains some other set; otherwise when it
    is contained in some other set. Of identical sets all but the lowest index are reported.
    """
    idx = np.arange(len(size))
    tie = (size[None, :] == size[:, None]) & (idx[None, :] < idx[:, None])
    if supersets:  # N(j) <= N(i), j smaller
        nested = inter == size[None, :]
        other = size[None, :] < size[:, None]
    else:  # N(i) <= N(j), j larger
        nested = inter == size[:, None]
        other = size[None, :] > size[:, None]
    return (nested & (other | tie)).any(axis=1)


def cover_reduce(cover: BoolArray) -> tuple[IntArray, BoolArray, IntArray]:
    """Reduce a set-cover instance (dense ``rows x columns``) to a fixed point, exactly.

    Repeats until nothing changes: open every column that is the only one covering some row,
    drop the rows the forced columns cover, drop rows whose coverage set contains another row's
    (covering the smaller covers the larger) and columns whose set is contained in another
    column's (ties keep the lowest; empty columns go). Every row must have a column.

    Returns ``(forced, rest, cols)``: the forced columns, the remaining matrix and, for each of
    its columns, the original column. A minimum cover of ``rest`` plus ``forced`` is a minimum
    cover of ``cover``.

    Examples
    --------
    >>> import numpy as np
    >>> forced, rest, cols = cover_reduce(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=bool))
    >>> forced.tolist(), rest.shape
    ([0, 1], (0, 0))
    """
    rows = np.ones(cover.shape[0], dtype=bool)
    cols = np.ones(cover.shape[1], dtype=bool)
    forced: list[int] = []
    while True:
        sub = cover[np.ix_(rows, cols)]
        if sub.shape[0] == 0:
            break
        col_ids = np.flatnonzero(cols)
        single = sub.sum(axis=1) == 1
        if single.any():
            new = np.unique(np.argmax(sub[single], axis=1))
            forced.extend(col_ids[new].tolist())
            cols[col_ids[new]] = False
            rows[np.flatnonzero(rows)[sub[:, new].any(axis=1)]] = False
            continue
        f = sub.astype(np.float32)
        drop_r = _nested(f @ f.T, f.sum(axis=1), supersets=True)
        drop_c = _nested(f.T @ f, f.sum(axis=0), supersets=False)
        if not (drop_r.any() or drop_c.any()):
            break
        rows[np.flatnonzero(rows)[drop_r]] = False
        cols[col_ids[drop_c]] = False
    row_ids, col_ids = np.flatnonzero(rows), np.flatnonzero(cols)
    return (
        np.sort(np.asarray(forced, dtype=np.intp)),
        cover[np.ix_(row_ids, col_ids)],
        col_ids.astype(np.intp),
    )


def _dense_greedy(cover: BoolArray) -> IntArray:
    """Greedy set cover on a dense matrix (every row must have a column)."""
    uncovered = np.ones(cover.shape[0], dtype=bool)
    weight = cover.astype(np.float32)
    chosen: list[int] = []
    while uncovered.any():
        j = int(np.argmax(uncovered.astype(np.float32) @ weight))
        chosen.append(j)
        uncovered &= ~cover[:, j]
    return np.asarray(chosen, dtype=np.intp)


def cover_enumerate(cover: BoolArray, *, max_subsets: int = ENUM_MAX_SUBSETS) -> IntArray | None:
    """A minimum set cover of a dense ``rows x columns`` matrix, by trying sets of growing size.

    Reduces with :func:`cover_reduce`, then scores every subset of the remaining columns of
    size 1, 2, ... below the greedy cover's; the first size that covers every row is optimal.
    ``None`` when more than ``max_subsets`` subsets would be needed. Every row must have a column.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]], dtype=bool)
    >>> cover_enumerate(A).tolist()
    [0, 2]
    """
    forced, rest, cols = cover_reduce(cover)
    r, k = rest.shape
    if r == 0:
        return forced
    greedy = _dense_greedy(rest)
    sizes = range(1, len(greedy))
    if sum(math.comb(k, s) for s in sizes) > max_subsets:
        return None
    packed = np.packbits(rest.T, axis=1)  # k x bytes: each column's rows as bits
    full = np.packbits(np.ones(r, dtype=bool))
    found = greedy
    for s in sizes:
        subsets = combinations_array(k, s)
        union = packed[subsets[:, 0]]
        for t in range(1, s):
            union = union | packed[subsets[:, t]]
        hit = np.flatnonzero((union == full).all(axis=1))
        if len(hit):
            found = subsets[hit[0]]
            break
    return np.sort(np.concatenate([forced, cols[found]])).astype(np.intp)
