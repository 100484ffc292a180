"""Instance reduction for the location models, and the maps back to the full instance.

- :func:`coverage_matrix`: sparse demand x candidate incidence ``cost <= radius``.
- :func:`merge_rows`: demand rows with identical coverage sets become one row whose weight is
  the sum of theirs (exact for every coverage model).
- :func:`dominated_columns`: a candidate whose coverage set is a subset of another's is never
  needed by LSCP or MCLP (exact for them; *not* for backup coverage, where two sites over the
  same demand both count).
- :func:`nearest_candidates`: the ``k`` cheapest candidates per demand row (p-median).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["Merged", "coverage_matrix", "dominated_columns", "merge_rows", "nearest_candidates"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_CHUNK_CELLS = 20_000_000


def coverage_matrix(cost: FloatArray, radius: float) -> sp.csr_array:
    """Sparse 0/1 matrix (``int8``, CSR, sorted indices): ``cost[i, j] <= radius``.

    Examples
    --------
    >>> import numpy as np
    >>> coverage_matrix(np.array([[1.0, 5.0], [np.inf, 2.0]]), 2.0).toarray().tolist()
    [[1, 0], [0, 1]]
    """
    n, m = cost.shape
    step = max(1, _CHUNK_CELLS // max(m, 1))
    blocks = [sp.csr_array(cost[i : i + step] <= radius, dtype=np.int8) for i in range(0, n, step)]
    A = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
    A.sort_indices()
    return sp.csr_array(A)


@dataclass(frozen=True)
class Merged:
    """Demand rows merged by identical coverage sets.

    ``group[i]`` is the merged row of original row ``i``; ``A`` and ``weights`` are the merged
    matrix and summed weights; ``first[g]`` is one original row of group ``g``.
    """

    A: sp.csr_array
    weights: FloatArray
    group: IntArray
    first: IntArray


def merge_rows(cover: sp.csr_array, weights: FloatArray, *, extra: IntArray | None = None) -> Merged:
    """Merge demand rows with identical coverage sets, summing their weights.

    Rows merge only when ``extra`` (such as coverage already given by existing sites) is equal too.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0], [1, 0], [0, 1]], dtype=np.int8))
    >>> m = merge_rows(A, np.array([1.0, 2.0, 5.0]))
    >>> m.weights.tolist(), m.group.tolist()
    ([3.0, 5.0], [0, 0, 1])
    """
    n = cover.shape[0]
    ind, ptr = cover.indices, cover.indptr
    seen: dict[bytes, int] = {}
    group = np.empty(n, dtype=np.intp)
    tag = np.zeros(n, dtype=np.int64) if extra is None else np.asarray(extra, dtype=np.int64)
    for i in range(n):
        key = ind[ptr[i] : ptr[i + 1]].tobytes() + tag[i].tobytes()
        group[i] = seen.setdefault(key, len(seen))
    k = len(seen)
    first = np.full(k, -1, dtype=np.intp)
    first[group[::-1]] = np.arange(n - 1, -1, -1)  # the lowest original row of each group
    w = np.bincount(group, weights=weights, minlength=k).astype(np.float64)
    log.debug("merged %d demand rows into %d coverage groups", n, k)
    return Merged(A=sp.csr_array(cover[first]), weights=w, group=group, first=first)


def dominated_columns(cover: sp.csr_array, *, protect: BoolArray | None = None) -> BoolArray:
    """Candidates whose coverage set is contained in another candidate's.

    Ties (identical sets) keep the lowest column; empty columns are dominated. Columns in
    ``protect`` are never reported (they may still dominate others).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=np.int8))
    >>> dominated_columns(A).tolist()
    [True, False, True]
    """
    m = cover.shape[1]
    Ai = sp.csr_array(cover, dtype=np.int32)
    count = np.asarray(Ai.sum(axis=0)).ravel()
    G = sp.coo_array(Ai.T @ Ai)  # G[j, k] = |N(j) & N(k)|
    j, k, v = G.row, G.col, G.data
    contained = (j != k) & (v == count[j])
    strictly = count[k] > count[j]
    tie = (count[k] == count[j]) & (k < j)
    dom = np.zeros(m, dtype=bool)
    dom[j[contained & (strictly | tie)]] = True
    dom |= count == 0
    if protect is not None:
        dom &= ~protect
    return dom


def nearest_candidates(cost: FloatArray, k: int) -> tuple[IntArray, FloatArray, FloatArray]:
    """The ``k`` cheapest columns per row, their costs, and each row's next cost beyond them.

    Returns ``(cols, costs, next_cost)``: ``cols`` and ``costs`` are ``n x k`` (sorted by cost),
    ``next_cost`` is the (k+1)-th smallest cost of each row (``inf`` when ``k`` = all columns).
    Any assignment outside the k nearest costs at least ``next_cost``: this is what keeps the
    reduced p-median bound valid.

    Examples
    --------
    >>> import numpy as np
    >>> cols, c, nxt = nearest_candidates(np.array([[3.0, 1.0, 2.0]]), 2)
    >>> cols.tolist(), c.tolist(), nxt.tolist()
    ([[1, 2]], [[1.0, 2.0]], [3.0])
    """
    n, m = cost.shape
    k = min(k, m)
    if k == m:
        cols = np.argsort(cost, axis=1, kind="stable")
        nxt = np.full(n, np.inf)
    else:
        part = np.argpartition(cost, k, axis=1)
        nxt = np.take_along_axis(cost, part[:, k : k + 1], axis=1).ravel()
        part = part[:, :k]
        order = np.argsort(np.take_along_axis(cost, part, axis=1), axis=1, kind="stable")
        cols = np.take_along_axis(part, order, axis=1)
    return cols.astype(np.intp), np.take_along_axis(cost, cols, axis=1), nxt
