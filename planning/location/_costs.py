"""Dense and sparse cost matrices behind one set of operations (internal).

A location model takes its ``(targets, sources)`` cost matrix either dense (an ndarray,
``inf`` = unreachable) or sparse (a ``scipy.sparse`` matrix or array holding the costs within
a cutoff, such as the travel times of a cutoff Dijkstra or each row's ``k`` nearest
candidates). A sparse matrix means exactly the dense matrix with ``inf`` at every absent
entry: an absent pair is beyond the cutoff, unreachable. Stored zeros are costs of 0 (a
demand point at a candidate site), so a sparse matrix must be built from its entries
(``csr_array((data, (rows, cols)))``), never from a dense array with zeros for the gaps.

After validation a sparse cost is a canonical CSR array of float64 (sorted indices, no
duplicates, no stored ``inf``); the helpers below take it or a dense ndarray alike:

- :func:`within`: the 0/1 incidence ``cost <= limit`` (the coverage sets);
- :func:`nearest_open`: per row, the cheapest open column and its cost;
- :func:`row_min`: per row, the cheapest cost;
- :func:`densify`: the dense matrix with ``inf`` for the absent entries (small instances).
"""

from __future__ import annotations

import math
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = [
    "CostMatrix",
    "densify",
    "is_sparse",
    "nearest_open",
    "row_max",
    "row_min",
    "row_of_entry",
    "within",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
#: A validated cost matrix: dense ndarray (``inf`` = unreachable) or canonical CSR (absent = unreachable).
CostMatrix: TypeAlias = FloatArray | sp.csr_array

_CHUNK_CELLS = 20_000_000  # dense cells compared at once by :func:`within`


def is_sparse(cost: object) -> bool:
    """``True`` for a ``scipy.sparse`` matrix or array."""
    return bool(sp.issparse(cost))


def row_of_entry(cost: sp.csr_array) -> IntArray:
    """The row of every stored entry of a CSR matrix, in storage order."""
    return np.repeat(np.arange(cost.shape[0], dtype=np.intp), np.diff(cost.indptr))


def _select(cost: sp.csr_array, keep: npt.NDArray[np.bool_]) -> sp.csr_array:
    """The CSR matrix of the stored entries where ``keep`` is true, as 0/1 ``int8`` (sorted indices)."""
    # kept entries before each row's start: exact for empty rows, trailing ones included
    kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    indptr = kept_before[cost.indptr]
    out = sp.csr_array(
        (np.ones(int(indptr[-1]), dtype=np.int8), cost.indices[keep], indptr), shape=cost.shape
    )
    out.has_sorted_indices = True
    return out


def within(cost: CostMatrix, limit: float) -> sp.csr_array:
    """Sparse 0/1 matrix (``int8``, CSR, sorted indices): ``cost[i, j] <= limit``.

    Absent entries of a sparse ``cost`` are unreachable, never within the limit.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> within(np.array([[1.0, 5.0], [np.inf, 2.0]]), 2.0).toarray().tolist()
    [[1, 0], [0, 1]]
    >>> within(sp.csr_array(([0.0, 3.0], ([0, 1], [1, 0])), shape=(2, 2)), 2.0).toarray().tolist()
    [[0, 1], [0, 0]]
    """
    if is_sparse(cost):
        assert isinstance(cost, sp.csr_array)
        return _select(cost, cost.data <= limit)
    n, m = cost.shape
    step = max(1, _CHUNK_CELLS // max(m, 1))
    blocks = [sp.csr_array(cost[i : i + step] <= limit, dtype=np.int8) for i in range(0, n, step)]
    A = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
    A.sort_indices()
    return sp.csr_array(A)


def row_min(cost: CostMatrix) -> FloatArray:
    """Per row, the cheapest cost (``inf`` for a row with no finite cost)."""
    if not isinstance(cost, sp.csr_array):
        return np.asarray(cost.min(axis=1), dtype=np.float64)
    out = np.full(cost.shape[0], math.inf)
    has = np.diff(cost.indptr) > 0
    if cost.nnz:
        out[has] = np.minimum.reduceat(cost.data, cost.indptr[:-1][has])
    return out


def row_max(cost: CostMatrix) -> FloatArray:
    """Per row, the largest finite cost (``0`` for a row with none)."""
    if not isinstance(cost, sp.csr_array):
        return np.asarray(np.where(np.isfinite(cost), cost, -math.inf).max(axis=1).clip(min=0.0))
    out = np.zeros(cost.shape[0])
    has = np.diff(cost.indptr) > 0
    if cost.nnz:
        out[has] = np.maximum.reduceat(cost.data, cost.indptr[:-1][has])
    return out


def nearest_open(cost: CostMatrix, cols: IntArray, limit: float = math.inf) -> tuple[IntArray, FloatArray]:
    """Per row, the column of the cheapest open site among ``cols`` and its cost.

    ``-1`` and ``inf`` for a row no open site reaches at a cost ``<= limit``. Ties keep the
    first of ``cols``.

    Examples
    --------
    >>> import numpy as np
    >>> col, c = nearest_open(np.array([[3.0, 1.0], [2.0, np.inf]]), np.array([0, 1]))
    >>> col.tolist(), c.tolist()
    ([1, 0], [1.0, 2.0])
    """
    n = cost.shape[0]
    cols = np.asarray(cols, dtype=np.intp)
    if len(cols) == 0:
        return np.full(n, -1, dtype=np.intp), np.full(n, math.inf)
    if not isinstance(cost, sp.csr_array):
        sub = cost[:, cols]
        k = np.argmin(sub, axis=1)
        d = sub[np.arange(n), k]
        ok = np.isfinite(d) & (d <= limit)
        return np.where(ok, cols[k], -1).astype(np.intp), np.where(ok, d, math.inf)
    rank = np.full(cost.shape[1], len(cols), dtype=np.int64)
    rank[cols[::-1]] = np.arange(len(cols) - 1, -1, -1)  # the first occurrence of a column wins
    r = rank[cost.indices]
    keep = (r < len(cols)) & (cost.data <= limit)
    # only the pairs of open columns, as a CSR of their own: a few passes over the few kept pairs
    kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    sub = sp.csr_array((cost.data[keep], cost.indices[keep], kept[cost.indptr]), shape=cost.shape)
    r = r[keep]
    best = row_min(sub)
    rows = row_of_entry(sub)
    tie = np.where(sub.data == best[rows], r, len(cols))  # cheapest, then first in `cols`
    first = np.full(n, len(cols), dtype=np.int64)
    has = np.diff(sub.indptr) > 0
    if sub.nnz:
        first[has] = np.minimum.reduceat(tie, sub.indptr[:-1][has])
    ok = first < len(cols)
    best_col = np.where(ok, cols[np.minimum(first, len(cols) - 1)], -1).astype(np.intp)
    return best_col, np.where(ok, best, math.inf)


def densify(cost: CostMatrix) -> FloatArray:
    """The dense matrix, ``inf`` at the absent entries of a sparse one (small instances only)."""
    if not isinstance(cost, sp.csr_array):
        return np.asarray(cost, dtype=np.float64)
    out = np.full(cost.shape, math.inf)
    out[row_of_entry(cost), cost.indices] = cost.data
    return out
