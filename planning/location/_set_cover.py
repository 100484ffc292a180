"""The set-covering solve shared by LSCP and p-center (internal).

:func:`solve_set_cover` finds the fewest new columns covering every demand row that can be
covered, or decides whether ``n_new`` new columns can: enumeration when the reduced instance is
tiny, else identical rows merged and dominated columns dropped, a greedy incumbent, the packing
bound and HiGHS for the time left. Above ``MILP_MAX_ENTRIES`` coverage pairs (where HiGHS does
not finish the root LP in a minute) the time goes to the Lagrangian bound and Beasley's
Lagrangian heuristic instead.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from ._bound import cover_lagrangian
from ._exact import cover_enumerate
from ._heuristics import greedy_cover, open_counts, packing_bound
from ._milp import MilpModel
from ._reduce import dominated_columns, merge_rows
from ._result import relative_gap
from ._scaffold import MILP_MAX_ENTRIES, Best, IntArray, Method, run_milp

__all__ = ["solve_set_cover"]

_DENSE_COVER_CELLS = 250_000  # LSCP rows x candidates tried by dense reduction and enumeration
LAGRANGIAN_SHARE = 0.3  # of the time left: the Lagrangian bound before the MILP
HEURISTIC_EVERY = 10  # subgradient steps between Lagrangian heuristic covers (when no MILP runs)


def solve_set_cover(
    full: sp.csr_array,
    existing: IntArray,
    free: IntArray,
    *,
    n_new: int | None = None,
    method: Method,
    t_end: float,
    mip_gap: float,
    reduce: bool = True,
) -> tuple[bool | None, IntArray | None, Best]:
    """Fewest ``free`` columns covering every row that can be covered (not already by ``existing``).

    With ``n_new``, answers "can ``n_new`` new sites cover every row?": ``(True, cols)``, ``(False, None)``
    when proven impossible, ``(None, None)`` when undecided in time. ``Best`` holds the bound.
    """
    best = Best("min")
    base = open_counts(full, existing)
    on_free = sp.csr_array(full[:, free])
    reach = np.diff(on_free.indptr)
    need = np.flatnonzero((base == 0) & (reach > 0))
    if n_new is not None and ((base == 0) & (reach == 0)).any():
        return False, None, best
    if len(need) == 0:
        best.offer(np.zeros(0, dtype=np.intp), 0.0, "trivial")
        best.tighten(0.0)
        return True, np.zeros(0, dtype=np.intp), best
    cover = sp.csr_array(on_free[need])
    if method == "auto" and reduce and cover.shape[0] * cover.shape[1] <= _DENSE_COVER_CELLS:
        exact = cover_enumerate(cover.toarray().astype(bool))
        if exact is not None:  # tiny after reduction: proven by trying smaller sets, no MILP
            best.offer(exact, float(len(exact)), "enumeration")
            best.tighten(float(len(exact)))
            best.notes.append(f"solved exactly by reduction and enumeration ({len(exact)} sites)")
            cols = free[exact]
            if n_new is None or len(exact) <= n_new:
                return True, cols, best
            return False, None, best
    if reduce:
        cover = merge_rows(cover, np.ones(len(need))).A
        kcols = np.flatnonzero(~dominated_columns(cover)).astype(np.intp)
        best.notes.append(f"reduced to {cover.shape[0]} demand groups and {len(kcols)} candidates")
    else:
        kcols = np.flatnonzero(np.asarray(cover.sum(axis=0)).ravel() > 0).astype(np.intp)
    cover = sp.csr_array(cover[:, kcols])
    best.tighten(float(packing_bound(cover)))
    large = method != "exact" and cover.nnz > MILP_MAX_ENTRIES
    x0 = None
    r, k = cover.shape
    if method != "exact":
        start = greedy_cover(cover)
        best.offer(start, float(len(start)), "heuristic")
        x0 = np.zeros(k)
        x0[start] = 1.0
        if relative_gap(best.objective, best.bound) > mip_gap and time.perf_counter() < t_end:
            share = 1.0 if large else LAGRANGIAN_SHARE
            lag, lag_cols = cover_lagrangian(
                cover,
                upper=best.objective,
                t_end=time.perf_counter() + share * (t_end - time.perf_counter()),
                heuristic_every=HEURISTIC_EVERY if large else 0,
            )
            if lag_cols is not None and len(lag_cols) < best.objective:
                best.offer(lag_cols, float(len(lag_cols)), "lagrangian heuristic")
                best.notes.append("sites from the Lagrangian heuristic (greedy on the reduced costs)")
            if lag > best.bound:
                best.tighten(float(lag))
                best.notes.append("bound from a Lagrangian relaxation of the covering constraints")
    if n_new is None:
        run = best.cols is None or relative_gap(best.objective, best.bound) > mip_gap
    else:
        run = best.cols is None or not (best.objective <= n_new or best.bound > n_new)
    run = run and method != "heuristic" and not (large and best.cols is not None)
    if large and method == "auto":
        best.notes.append(
            f"no MILP: {cover.nnz:,} coverage pairs are more than HiGHS solves the LP of in the time; "
            "the time went to the Lagrangian bound and heuristic"
        )
    model = MilpModel(
        np.ones(k), cover, np.ones(r), np.full(r, np.inf), np.zeros(k), np.ones(k), np.ones(k, dtype=bool)
    )
    if run:
        out = run_milp(model, best, start=x0, t_end=t_end, mip_gap=mip_gap)
        if out.x is not None:
            xs = np.flatnonzero(out.x > 0.5).astype(np.intp)
            best.offer(xs, float(len(xs)), out.solver)
        if math.isfinite(out.bound):
            best.tighten(math.ceil(out.bound - 1e-6))  # the number of sites is an integer
    found: IntArray | None = free[kcols[best.cols]] if best.cols is not None else None
    if n_new is None or best.objective <= n_new:
        return True, found, best
    return (False if best.bound > n_new else None), None, best
