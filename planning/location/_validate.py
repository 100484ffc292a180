"""One shared validation helper for every location model.

:func:`validate_inputs` checks the cost matrix, weights, radius, ``n_new``, ``existing`` and
``capacities`` together and returns a :class:`Problem` with clean arrays. Each message names
the argument in backticks, the offending row / column indices and the fix.

Conventions: ``cost`` is ``(targets, sources)`` like every matrix of :mod:`planning`: rows are
demand units, columns are candidate sites; costs are
seconds or metres, ``inf`` means unreachable, NaN and negative costs are errors. A
``scipy.sparse`` ``cost`` holds the costs within a cutoff: an absent entry is unreachable
(see :mod:`._costs`); it becomes a canonical CSR array of float64 without stored ``inf``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from gis.errors import InputError, _format_rows

from ._costs import CostMatrix, is_sparse, row_of_entry, within

__all__ = ["Problem", "validate_inputs"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Problem:
    """Validated inputs of one location model (arrays are read-only copies)."""

    cost: CostMatrix  # dense ndarray, or canonical CSR (absent = unreachable)
    weights: FloatArray
    radius: float | None
    n_new: int
    existing: IntArray
    capacities: FloatArray | None
    unreachable: IntArray  # demand rows no candidate reaches (within `radius` when given)

    @property
    def n_demand(self) -> int:
        return int(self.cost.shape[0])

    @property
    def n_candidates(self) -> int:
        return int(self.cost.shape[1])

    @property
    def sparse(self) -> bool:
        return is_sparse(self.cost)


def _rows(idx: npt.ArrayLike) -> str:
    return _format_rows([int(i) for i in np.asarray(idx).ravel()])


def _pairs(ij: npt.NDArray[np.intp], limit: int = 10) -> str:
    shown = ", ".join(f"({int(i)}, {int(j)})" for i, j in ij[:limit])
    more = f" and {len(ij) - limit} more" if len(ij) > limit else ""
    return f"[{shown}{more}]"


def _readonly(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.flags.writeable = False
    return a


def _shape(shape: tuple[int, ...]) -> None:
    if len(shape) != 2:
        msg = (
            f"`cost` has {len(shape)} dimension(s), shape {shape}. Fix: pass a 2-D matrix with one row "
            "per demand unit and one column per candidate site."
        )
        raise InputError(msg)
    n, m = shape
    if m == 0:
        msg = f"`cost` has no candidate columns (shape {shape}). Fix: give at least one candidate site."
        raise InputError(msg)
    if n == 0:
        msg = f"`cost` has no demand rows (shape {shape}). Fix: give at least one demand unit."
        raise InputError(msg)


def _sparse_cost(cost: Any) -> sp.csr_array:
    """A canonical CSR copy (float64, sorted indices, no stored ``inf``) of a sparse cost matrix."""
    _shape(tuple(cost.shape))
    try:
        arr = sp.csr_array(cost, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        msg = f"`cost` cannot be read as a sparse numeric matrix ({exc}). Fix: pass costs in s or m."
        raise InputError(msg) from exc
    if cost.format == "coo" and arr.nnz < cost.nnz:  # the conversion summed repeated pairs
        coo = sp.coo_array(cost)
        order = np.lexsort((coo.col, coo.row))
        r, c = coo.row[order], coo.col[order]
        at = np.flatnonzero((r[1:] == r[:-1]) & (c[1:] == c[:-1]))
        _duplicates(np.column_stack([r[at], c[at]]))
    arr.sort_indices()
    # a repeated pair: the same column twice in a row of sorted indices (not across a row start)
    same = np.flatnonzero(arr.indices[1:] == arr.indices[:-1])
    same = same[~np.isin(same + 1, arr.indptr)]
    if len(same):
        rows = row_of_entry(arr)
        _duplicates(np.column_stack([rows[same], arr.indices[same]]))
    for bad, what, fix in (
        (np.isnan(arr.data), "NaN", "leave unreachable pairs out of the sparse matrix (or store `np.inf`)"),
        (arr.data < 0, "negative", "costs are >= 0"),
    ):
        at = np.flatnonzero(bad)
        if len(at):
            rows = row_of_entry(arr)
            ij = np.column_stack([rows[at], arr.indices[at]])
            msg = f"`cost` has {len(at)} {what} value(s) at (row, column) {_pairs(ij)}. Fix: {fix}."
            raise InputError(msg)
    finite = np.isfinite(arr.data)
    if not finite.all():  # a stored inf means what an absent entry means
        arr = sp.csr_array(
            (
                arr.data[finite],
                arr.indices[finite],
                np.concatenate([[0], np.cumsum(_row_counts(arr, finite))]),
            ),
            shape=arr.shape,
        )
    arr.has_sorted_indices = True
    arr.has_canonical_format = True
    for a in (arr.data, arr.indices, arr.indptr):
        a.flags.writeable = False
    return arr


def _duplicates(ij: npt.NDArray[np.intp]) -> NoReturn:
    msg = (
        f"sparse `cost` stores {len(ij)} (row, column) pair(s) more than once: {_pairs(ij)}. "
        "Fix: store each demand-candidate cost once (a cost is a time or distance, never a sum)."
    )
    raise InputError(msg)


def _row_counts(arr: sp.csr_array, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    return np.bincount(row_of_entry(arr)[keep], minlength=arr.shape[0]).astype(np.int64)


def _cost(cost: npt.ArrayLike) -> CostMatrix:
    if is_sparse(cost):
        return _sparse_cost(cost)
    try:
        # a read-only view (no copy of a large float64 matrix); the caller's array is never changed
        arr = np.asarray(cost, dtype=np.float64).view()
    except (TypeError, ValueError) as exc:
        msg = (
            f"`cost` cannot be read as a numeric matrix ({exc}). Fix: pass a 2-D array of seconds or metres."
        )
        raise InputError(msg) from exc
    _shape(arr.shape)
    nan = np.argwhere(np.isnan(arr))
    if len(nan):
        msg = (
            f"`cost` has {len(nan)} NaN value(s) at (row, column) {_pairs(nan)}. Fix: use `np.inf` for pairs "
            "that cannot reach each other, or recompute the travel times for those pairs."
        )
        raise InputError(msg)
    neg = np.argwhere(arr < 0)
    if len(neg):
        msg = f"`cost` has {len(neg)} negative value(s) at (row, column) {_pairs(neg)}. Fix: costs are >= 0."
        raise InputError(msg)
    return arr


def _weights(weights: npt.ArrayLike | None, n: int, name: str = "weights") -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = np.array(weights, dtype=np.float64).ravel()
    if w.shape != (n,):
        msg = f"`{name}` has {w.size} values but `cost` has {n} demand rows. Fix: give one weight per row."
        raise InputError(msg)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        msg = (
            f"`{name}` has NaN, infinite or negative values at rows {_rows(bad)}. "
            "Fix: weights are finite and >= 0 (population, risk score, demand quantity)."
        )
        raise InputError(msg)
    return w


def _existing(existing: npt.ArrayLike | None, m: int) -> IntArray:
    if existing is None:
        return np.zeros(0, dtype=np.intp)
    raw = np.asarray(existing)
    if raw.dtype == bool:
        if raw.shape != (m,):
            msg = f"`existing` is a mask of {raw.size} values for {m} candidate columns. Fix: one per column."
            raise InputError(msg)
        return np.flatnonzero(raw).astype(np.intp)
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        as_int = raw.astype(np.int64, copy=False) if np.issubdtype(raw.dtype, np.number) else None
        if as_int is None or not np.array_equal(as_int, raw):
            msg = f"`existing` holds {raw.dtype} values. Fix: pass integer column indices of `cost`."
            raise InputError(msg)
        raw = as_int
    idx = raw.astype(np.intp).ravel()
    out = np.flatnonzero((idx < 0) | (idx >= m))
    if len(out):
        msg = (
            f"`existing` has column indices {_rows(idx[out])} outside 0..{m - 1}. "
            "Fix: give column indices of `cost` (existing stations must be columns of the matrix)."
        )
        raise InputError(msg)
    uniq, counts = np.unique(idx, return_counts=True)
    if (counts > 1).any():
        msg = f"`existing` repeats columns {_rows(uniq[counts > 1])}. Fix: list each existing site once."
        raise InputError(msg)
    return uniq


def _n_new(n_new: int | None, m: int, n_existing: int) -> int:
    if n_new is None:
        return 0
    if isinstance(n_new, bool) or not isinstance(n_new, int | np.integer):
        msg = f"`n_new` is {n_new!r}. Fix: give the number of new sites as an integer."
        raise InputError(msg)
    n_new = int(n_new)
    free = m - n_existing
    if n_new < 0:
        msg = f"`n_new` is {n_new}. Fix: give the number of new sites, >= 0."
        raise InputError(msg)
    if n_new > free:
        msg = (
            f"`n_new` = {n_new} new sites but only {free} candidate column(s) are free ({m} in `cost`, "
            f"{n_existing} of them `existing`). Fix: lower `n_new` to at most {free} or add candidate sites."
        )
        raise InputError(msg)
    return n_new


def _radius(radius: float | None) -> float | None:
    if radius is None:
        return None
    try:
        r = float(radius)
    except (TypeError, ValueError) as exc:
        msg = f"`radius` is {radius!r}. Fix: give the coverage radius in the units of `cost`."
        raise InputError(msg) from exc
    if not math.isfinite(r) or r < 0:
        msg = f"`radius` is {radius}. Fix: give a finite radius >= 0 in the units of `cost` (s or m)."
        raise InputError(msg)
    return r


def _capacities(capacities: npt.ArrayLike | None, m: int) -> FloatArray | None:
    if capacities is None:
        return None
    c = np.array(capacities, dtype=np.float64).ravel()
    if c.shape != (m,):
        msg = (
            f"`capacities` has {c.size} values for {m} candidate columns. Fix: give one capacity per column."
        )
        raise InputError(msg)
    bad = np.flatnonzero(~np.isfinite(c) | (c < 0))
    if len(bad):
        msg = f"`capacities` has NaN, infinite or negative values at columns {_rows(bad)}. Fix: finite, >= 0."
        raise InputError(msg)
    return c


def validate_inputs(
    cost: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    radius: float | None = None,
    n_new: int | None = None,
    existing: npt.ArrayLike | None = None,
    capacities: npt.ArrayLike | None = None,
    need_facility: bool = False,
    unreachable: str = "allow",
) -> Problem:
    """Check every input of a location model at once and return clean, read-only arrays.

    Parameters
    ----------
    cost
        ``(targets, sources)``: demand rows x candidate columns; ``inf`` = unreachable. Dense,
        or ``scipy.sparse`` with the costs within a cutoff (an absent entry is unreachable).
    weights, radius, n_new, existing, capacities
        As in the models; ``None`` when the model has no such argument.
    need_facility
        The model must open at least one site (``n_new + len(existing) >= 1``).
    unreachable
        ``"allow"``: unreachable rows are recorded; ``"raise"``: they are an error
        (LSCP, p-median, p-center); every model raises when *all* demand is unreachable.
    """
    arr = _cost(cost)
    n, m = arr.shape
    w = _weights(weights, n)
    r = _radius(radius)
    ex = _existing(existing, m)
    pp = _n_new(n_new, m, len(ex))
    cap = _capacities(capacities, m)
    if need_facility and pp + len(ex) == 0:
        msg = (
            "`n_new` is 0 and there are no `existing` sites, so no site would be open. "
            "Fix: give `n_new` >= 1."
        )
        raise InputError(msg)
    if isinstance(arr, sp.csr_array):
        counts = np.diff(within(arr, r).indptr if r is not None else arr.indptr)
        unreach = np.flatnonzero(counts == 0).astype(np.intp)
    else:
        reach = arr <= r if r is not None else np.isfinite(arr)
        unreach = np.flatnonzero(~reach.any(axis=1)).astype(np.intp)
    where = f"within `radius` = {r:g}" if r is not None else "at a finite cost"
    if len(unreach) == n:
        msg = (
            f"no demand row can be reached by any candidate {where} (all {n} rows unreachable). "
            "Fix: check the units of `cost` and `radius` (seconds or minutes, metres or km), "
            "or add candidates."
        )
        raise InputError(msg)
    if len(unreach) and unreachable == "raise":
        msg = (
            f"{len(unreach)} demand row(s) cannot be reached by any candidate {where}: "
            f"rows {_rows(unreach)}. "
            "Fix: add candidate sites near them, enlarge `radius`, or drop those rows "
            "(LSCP: pass `allow_unreachable=True` to cover the rest)."
        )
        raise InputError(msg)
    if len(unreach):
        log.info("%d demand rows unreachable %s: %s", len(unreach), where, _rows(unreach))
    return Problem(
        cost=arr if isinstance(arr, sp.csr_array) else _readonly(arr),
        weights=_readonly(w),
        radius=r,
        n_new=pp,
        existing=_readonly(ex),
        capacities=None if cap is None else _readonly(cap),
        unreachable=_readonly(unreach),
    )
