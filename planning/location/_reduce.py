"""Instance reduction for the location models, and the maps back to the full instance.

- :func:`coverage_matrix`: sparse demand x candidate incidence ``cost <= radius`` (dense or sparse cost).
- :func:`merge_rows`: demand rows with identical coverage sets become one row whose weight is
  the sum of theirs (exact for every coverage model).
- :func:`dominated_columns`: a candidate whose coverage set is a subset of another's is never
  needed by LSCP or MCLP (exact for them; *not* for backup coverage, where two sites over the
  same demand both count).
- :func:`reduce_coverage`: all of the above for a coverage model, with ``existing`` (or fixed)
  sites as a per-row base count: the rows no new site can improve set aside as a constant.
- :func:`rows_with_subset`: demand rows whose coverage set holds another row's set with one
  column less (covering that row covers them: a set-cover LP without them has the same value).
- :func:`nearest_candidates`: the ``k`` cheapest candidates per demand row (p-median).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gis.speech import say

from ._costs import CostMatrix, within

__all__ = [
    "CoverageInstance",
    "Merged",
    "coverage_matrix",
    "dominance_affordable",
    "dominated_columns",
    "merge_rows",
    "nearest_candidates",
    "reduce_coverage",
    "rows_with_subset",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

DOMINANCE_MAX_WORK = 50_000_000  # sum of squared row lengths up to which dominated columns are sought


def coverage_matrix(cost: CostMatrix, radius: float) -> sp.csr_array:
    """Sparse 0/1 matrix (``int8``, CSR, sorted indices): ``cost[i, j] <= radius``.

    ``cost`` is dense or a validated sparse matrix (absent entries are beyond ``radius``).

    Examples
    --------
    >>> import numpy as np
    >>> coverage_matrix(np.array([[1.0, 5.0], [np.inf, 2.0]]), 2.0).toarray().tolist()
    [[1, 0], [0, 1]]
    """
    return within(cost, radius)


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
    ``protect`` are never reported (they may still dominate others). On instances where the
    pairwise comparison is too costly (:func:`dominance_affordable`), only the empty columns.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=np.int8))
    >>> dominated_columns(A).tolist()
    [True, False, True]
    """
    m = cover.shape[1]
    if not dominance_affordable(cover):
        dom = np.asarray(cover.sum(axis=0)).ravel() == 0  # only the empty columns
        return dom & ~protect if protect is not None else dom
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


def dominance_affordable(cover: sp.csr_array) -> bool:
    """Whether :func:`dominated_columns` may compare every pair of columns (``cover.T @ cover``).

    The product costs the sum over rows of the squared row lengths: above ``DOMINANCE_MAX_WORK``
    (100,000 x 5,000 with 40 sites over each row: 150 million, 5 s that drop 33 columns of
    5,000) the check is left out; it only ever shrinks the instance, never changes an answer.
    """
    lengths = np.diff(cover.indptr).astype(np.float64)
    return float(lengths @ lengths) <= DOMINANCE_MAX_WORK


@dataclass(frozen=True)
class CoverageInstance:
    """A coverage instance on the rows new sites can still improve, and the way back to its parent.

    ``cover`` (groups x kept columns), ``weights`` and ``base`` (sites already over each group,
    capped at the last level) are the reduced instance; ``cols[j]`` is the parent column of its
    column ``j``; ``constant`` is the value of the parent rows set aside, so a parent solution
    is worth ``constant + sum w values[min(base + count, L)]`` on the reduced rows.
    """

    cover: sp.csr_array
    weights: FloatArray
    base: npt.NDArray[np.int64]
    cols: IntArray
    constant: float
    note: str


def reduce_coverage(
    cover: sp.csr_array,
    w: FloatArray,
    base: npt.NDArray[np.int64],
    values: FloatArray,
    *,
    reduce: bool = True,
    drop_dominated: bool = True,
) -> CoverageInstance:
    """Set aside rows no column can improve, merge identical rows, drop dominated columns.

    ``cover`` is rows x candidate columns, ``base[i]`` the open sites already over row ``i``,
    ``values[c]`` the value of a row covered ``c`` times. Dominated columns are dropped only with
    ``drop_dominated`` (exact for MCLP, not for backup coverage); with ``reduce=False`` only the
    rows are set aside.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 0, 0], [1, 1, 0], [1, 1, 0], [0, 0, 0]], dtype=np.int8))
    >>> inst = reduce_coverage(A, np.array([1.0, 2.0, 3.0, 4.0]), np.zeros(4, np.int64), np.array([0.0, 1.0]))
    >>> inst.cover.toarray().tolist(), inst.weights.tolist(), inst.cols.tolist(), inst.constant
    ([[1], [1]], [1.0, 5.0], [0], 0.0)
    """
    levels = len(values) - 1
    base = np.minimum(np.asarray(base, dtype=np.int64), levels)
    live = np.flatnonzero((base < levels) & (np.diff(cover.indptr) > 0))
    constant = float(w @ values[base]) - float(w[live] @ values[base[live]])
    if reduce:
        merged = merge_rows(sp.csr_array(cover[live]), w[live], extra=base[live])
        A, w_r, base_r = merged.A, merged.weights, base[live][merged.first]
        keep = ~dominated_columns(A) if drop_dominated else np.asarray(A.sum(axis=0)).ravel() > 0
        note = say(
            "loc_reduced_from", groups=A.shape[0], rows=len(live), candidates=int(keep.sum()),
            columns=cover.shape[1],
        )  # fmt: skip
    else:
        A, w_r, base_r = sp.csr_array(cover[live]), w[live], base[live]
        keep = np.ones(cover.shape[1], dtype=bool)
        note = ""
    cols = np.flatnonzero(keep).astype(np.intp)
    return CoverageInstance(sp.csr_array(A[:, cols]), w_r, base_r, cols, constant, note)


def rows_with_subset(cover: sp.csr_array, *, seed: int = 0) -> BoolArray:
    """Rows whose coverage set is another row's set plus one column (dominated in set covering).

    Each set is hashed as a sum of random 64-bit column codes; a row is reported when its hash
    less one of its columns' codes is the hash of a row, and the two sets are then compared
    exactly, so a collision never reports a row. Row ``i`` reported means some row's set is
    ``S(i)`` minus one column: any cover of that row covers ``i``. Identical rows should be
    merged first (:func:`merge_rows`); an identical pair is not reported. One vectorised pass
    over the pairs; sets differing in two or more columns are not looked for.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_array(np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1]], dtype=np.int8))
    >>> rows_with_subset(A).tolist()
    [True, False, True, False]
    """
    A = sp.csr_array(cover)
    A.sort_indices()
    n, m = A.shape
    if n == 0 or A.nnz == 0:
        return np.zeros(n, dtype=bool)
    code = np.random.default_rng(seed).integers(1, 2**63 - 1, m, dtype=np.int64).astype(np.uint64)
    lengths = np.diff(A.indptr)
    starts = A.indptr[:-1].astype(np.int64)
    row_hash = np.zeros(n, dtype=np.uint64)
    nonempty = lengths > 0
    row_hash[nonempty] = np.add.reduceat(code[A.indices], starts[nonempty])  # wraps modulo 2**64
    row_of = np.repeat(np.arange(n, dtype=np.intp), lengths)
    less = row_hash[row_of] - code[A.indices]
    order = np.argsort(row_hash, kind="stable")
    sorted_hash = row_hash[order]
    q = np.argsort(less)  # sorted queries: a cache-friendly search
    at = np.empty(len(less), dtype=np.intp)
    at[q] = np.minimum(np.searchsorted(sorted_hash, less[q]), n - 1)
    hit = np.flatnonzero((sorted_hash[at] == less) & (lengths[order[at]] == lengths[row_of] - 1))
    hit = hit[np.unique(row_of[hit], return_index=True)[1]]  # one candidate subset per row
    i, k, drop = row_of[hit], order[at[hit]], A.indices[hit]
    big = A.indices[_segments(A.indptr, i)]
    big_owner = np.repeat(np.arange(len(hit)), lengths[i])
    keep = big != drop[big_owner]  # S(i) less the dropped column, in order
    small = A.indices[_segments(A.indptr, k)]
    same = big[keep] == small  # compared exactly: a hash collision is never reported
    out = np.zeros(n, dtype=bool)
    if len(hit):
        starts_k = np.concatenate([[0], np.cumsum(lengths[k])[:-1]])
        ok = np.ones(len(hit), dtype=bool)
        nz = lengths[k] > 0
        ok[nz] = np.logical_and.reduceat(same, starts_k[nz])
        out[i[ok]] = True
    return out


def _segments(ptr: npt.NDArray[np.int32], rows: IntArray) -> npt.NDArray[np.int64]:
    """The positions ``ptr[i] .. ptr[i + 1] - 1`` of every row ``i`` of ``rows``, concatenated."""
    sizes = (ptr[rows + 1] - ptr[rows]).astype(np.int64)
    shift = np.repeat(ptr[rows].astype(np.int64) - (np.cumsum(sizes) - sizes), sizes)
    return shift + np.arange(int(sizes.sum()), dtype=np.int64)


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
