"""The set-covering solve shared by LSCP and p-center (internal).

:func:`solve_set_cover` finds the fewest new columns covering every demand row that can be
covered, or decides whether ``n_new`` new columns can: enumeration when the reduced instance is
tiny, else identical rows merged and dominated columns dropped, a greedy incumbent, the packing
bound, the Lagrangian bound, a local-search descent (:mod:`._cover_search`) and HiGHS for the
time left. Above ``MILP_MAX_ENTRIES`` coverage pairs (where HiGHS does not finish the root LP in
a minute) there is no MILP: the LP bound by HiGHS' first-order method (PDLP) on the rows a
one-column row reduction keeps, subgradient steps from its duals, then the cover local search
(drop, 2-for-1 swaps, kicks re-covered greedily with the duals as row weights) to the time limit.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from gis.speech import say

from ._bound import cover_lagrangian, cover_lp_bound
from ._cover_search import improve_cover
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
LP_SHARE = 0.3  # of the time left, above MILP_MAX_ENTRIES: the LP bound (PDLP) before the local search
POLISH_SHARE = 0.2  # of the time left after the LP: subgradient steps from its duals
HEURISTIC_STALL = 200  # kicks without a smaller cover after which the local search stops (no MILP)


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
            best.notes.append(say("loc_cover_enumerated", sites=len(exact)))
            cols = free[exact]
            if n_new is None or len(exact) <= n_new:
                return True, cols, best
            return False, None, best
    if reduce:
        cover = merge_rows(cover, np.ones(len(need))).A
        kcols = np.flatnonzero(~dominated_columns(cover)).astype(np.intp)
        best.notes.append(say("loc_reduced", groups=cover.shape[0], candidates=len(kcols)))
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
        if large and relative_gap(best.objective, best.bound) > mip_gap:
            _large_cover(cover, best, t_end=t_end, mip_gap=mip_gap)
        elif relative_gap(best.objective, best.bound) > mip_gap and time.perf_counter() < t_end:
            lag, _ = cover_lagrangian(
                cover,
                upper=best.objective,
                t_end=time.perf_counter() + LAGRANGIAN_SHARE * (t_end - time.perf_counter()),
            )
            if lag > best.bound:
                best.tighten(float(lag))
                best.notes.append(say("loc_bound_cover_lagrangian"))
        if not large and best.cols is not None and relative_gap(best.objective, best.bound) > mip_gap:
            kicks = HEURISTIC_STALL if method == "heuristic" else 0  # the MILP does the rest
            target = best.bound if n_new is None else max(best.bound, float(n_new))
            cols = improve_cover(
                cover, best.cols, t_end=t_end, kick_sites=6 if kicks else 0, max_stall=kicks, target=target
            )
            if len(cols) < best.objective:
                best.offer(cols, float(len(cols)), "heuristic")
        x0 = np.zeros(k)
        assert best.cols is not None
        x0[best.cols] = 1.0
    if n_new is None:
        run = best.cols is None or relative_gap(best.objective, best.bound) > mip_gap
    else:
        run = best.cols is None or not (best.objective <= n_new or best.bound > n_new)
    run = run and method != "heuristic" and not (large and best.cols is not None)
    if large and method == "auto":
        best.notes.append(say("loc_no_milp_cover", pairs=f"{cover.nnz:,}"))
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


def _large_cover(cover: sp.csr_array, best: Best, *, t_end: float, mip_gap: float) -> None:
    """Above ``MILP_MAX_ENTRIES`` pairs: the LP bound (PDLP), then the cover local search to ``t_end``.

    PDLP's row duals start subgradient steps on the Lagrangian (which close most of what the
    first-order method left of the LP value) and weigh the rows in the local search's repairs
    (hard rows first); without ``highspy``, the Lagrangian subgradient and Beasley's heuristic
    from ``u_i = 1 / |S_i|`` give the bound.
    """
    assert best.cols is not None
    At = sp.csr_array(sp.csr_array(cover).T)
    left = t_end - time.perf_counter()
    bound, u = cover_lp_bound(cover, time_limit_s=LP_SHARE * left, cover_t=At)
    if u is not None and math.ceil(bound) < best.objective:
        polish, _ = cover_lagrangian(
            cover,
            upper=best.objective,
            t_end=time.perf_counter() + POLISH_SHARE * (t_end - time.perf_counter()),
            u0=u,
            step=0.1,
        )
        bound = max(bound, polish)
    if u is None:
        lag, lag_cols = cover_lagrangian(
            cover,
            upper=best.objective,
            t_end=time.perf_counter() + LP_SHARE * left,
            heuristic_every=HEURISTIC_EVERY,
        )
        bound = lag
        if lag_cols is not None and len(lag_cols) < best.objective:
            best.offer(lag_cols, float(len(lag_cols)), "lagrangian heuristic")
            best.notes.append(say("loc_sites_lagrangian"))
    if bound > best.bound:
        best.tighten(float(bound))
        best.notes.append(
            say("loc_bound_cover_lp_dual") if u is not None else say("loc_bound_cover_lagrangian")
        )
    if relative_gap(best.objective, best.bound) > mip_gap and time.perf_counter() < t_end:
        cols = improve_cover(
            cover,
            best.cols,
            t_end=t_end,
            cover_t=At,
            row_weight=u,
            max_stall=HEURISTIC_STALL,
            target=best.bound,
        )
        if len(cols) < best.objective:
            best.offer(cols, float(len(cols)), "heuristic")
            best.notes.append(say("loc_sites_local_search"))
