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

__all__ = ["ENUM_MAX_CELLS", "ENUM_MAX_SUBSETS", "combinations_array", "coverage_enumerate"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

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
