"""The solve of one reduced coverage instance, shared by MCLP and backup coverage (internal).

:class:`CoverageSolve` holds the running incumbent and bound (:class:`~._scaffold.Best`) of a
:class:`~._reduce.CoverageInstance` and runs, for ``method="auto"``:

1. greedy + swaps: an incumbent in milliseconds;
2. the Lagrangian dual (:mod:`._bound`): a proven bound, the LP relaxation's or better, and
   the LP's largest sites (or the best multipliers' sites) as a start for swaps: on random
   2,000 x 200 MCLPs the LP is integral and this is the optimum, proven, in a few tens of ms;
3. iterated local search towards that bound: on most other instances it reaches it and the
   solve ends, proven optimal, without a MILP;
4. otherwise columns fixed by the multipliers, and HiGHS on what is left, warm-started,
   then a longer local search and HiGHS again for the time left; above ``MILP_MAX_ENTRIES``
   coverage pairs (100,000 x 5,000: HiGHS does not finish the root LP in a minute) the local
   search gets that time instead.

``"exact"`` runs HiGHS alone on the reduced instance; ``"heuristic"`` the local search and
the Lagrangian bound, no MILP.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import scipy.sparse as sp

from gis.speech import say

from ._bound import CoverageDual, coverage_dual, fix_columns
from ._heuristics import coverage_search, open_counts, submodular_bound
from ._milp import coverage_model, coverage_start
from ._reduce import CoverageInstance, reduce_coverage
from ._result import relative_gap
from ._scaffold import (
    HEURISTIC_SHARE,
    MILP_MAX_ENTRIES,
    Best,
    FloatArray,
    IntArray,
    Method,
    milp_has_time,
    run_milp,
)

__all__ = ["CoverageSolve"]

log = logging.getLogger(__name__)

DUAL_SHARE = 0.6  # share of the time left the Lagrangian dual may use


class CoverageSolve:
    """Incumbent and bound of one reduced coverage instance (internal state, never returned)."""

    def __init__(
        self,
        inst: CoverageInstance,
        values: FloatArray,
        p: int,
        *,
        drop_dominated: bool,
        mip_gap: float,
        t_end: float,
    ) -> None:
        self.inst, self.values, self.p = inst, values, p
        self.levels = len(values) - 1
        self.drop_dominated, self.mip_gap, self.t_end = drop_dominated, mip_gap, t_end
        self.best = Best("max")
        self.dual: CoverageDual | None = None
        self.ran_milp = False
        self.guard_milp = True
        cover, w, base = inst.cover, inst.weights, inst.base
        self.cover_t = sp.csr_array(cover.T)
        # a bound with no search at all: every row at its best reachable level
        reach = np.minimum(np.diff(cover.indptr), p)
        self.best.tighten(float(w @ values[np.minimum(base + reach, self.levels)]))
        if p == 0:
            self.best.offer(np.zeros(0, dtype=np.intp), self.value(np.zeros(0, dtype=np.intp)), "trivial")

    def value(self, cols: IntArray) -> float:
        """Reduced objective of the columns ``cols``."""
        count = self.inst.base + open_counts(self.inst.cover, cols)
        return float(self.inst.weights @ self.values[np.minimum(count, self.levels)])

    def open_gap(self) -> bool:
        return self.p > 0 and relative_gap(self.best.objective, self.best.bound) > self.mip_gap

    def left(self) -> float:
        return self.t_end - time.perf_counter()

    def run(self, method: Method, enumerated: tuple[IntArray, float] | None) -> None:
        """Solve as ``method`` asks; ``enumerated`` is the exact answer of a tiny instance, if any."""
        self.guard_milp = method != "exact"  # "exact" asks for HiGHS whatever the time
        if enumerated is not None:  # tiny after reduction: every subset scored, optimal without a MILP
            self.best.offer(enumerated[0], enumerated[1], "enumeration")
            self.best.tighten(enumerated[1])
            k = self.inst.cover.shape[1]
            self.best.notes.append(say("loc_enumerated", sets=math.comb(k, self.p), sites=self.p))
        elif method == "heuristic" and self.open_gap():
            self.search(0, self.left())
            if self.open_gap():
                self.bound(DUAL_SHARE * self.left())
            if self.open_gap():
                self.search(200, self.left())
        elif method == "exact" and self.open_gap():
            self.milp(self.inst, None, self.t_end, threshold=-math.inf)
        elif self.inst.cover.nnz > MILP_MAX_ENTRIES and self.open_gap():  # HiGHS would not finish its LP
            self.search(0, HEURISTIC_SHARE * self.left())
            if self.open_gap():
                self.bound(DUAL_SHARE * self.left())
            if self.open_gap():
                self.search(200, self.left())
            self.best.notes.append(say("loc_no_milp_coverage", pairs=f"{self.inst.cover.nnz:,}"))
        elif self.open_gap():
            self.search(0, HEURISTIC_SHARE * self.left())
            if self.open_gap():
                self.bound(DUAL_SHARE * self.left())
            if self.open_gap():
                self.search(25, HEURISTIC_SHARE * self.left())
            if self.open_gap():
                self.exact(time.perf_counter() + 0.2 * self.left())
            if self.open_gap() and self.left() > 0:
                self.search(200, HEURISTIC_SHARE * self.left())
                if self.open_gap() and self.left() > 1.0:
                    self.exact(self.t_end)

    def search(self, stall: int, share: float, start: IntArray | None = None) -> None:
        """Greedy + swaps (``stall=0``) or iterated local search, stopping at the bound."""
        cols, obj = coverage_search(
            self.inst.cover,
            self.inst.weights,
            self.p,
            base=self.inst.base,
            values=self.values,
            time_limit_s=max(share, 0.0),
            max_stall=stall,
            target=self.best.bound,
            start=start,
        )
        self.best.offer(cols, obj, "heuristic" if start is None else "lp rounding + swaps")
        if self.levels == 1:
            self.best.tighten(submodular_bound(self.inst.cover, self.inst.weights, cols, self.p))

    def bound(self, share: float) -> None:
        """The Lagrangian dual bound (LP dual, or subgradient when the LP stops early)."""
        if share <= 0.05:
            return
        inst = self.inst
        dual = coverage_dual(
            inst.cover,
            inst.weights,
            inst.base,
            self.values,
            self.p,
            time_limit_s=share,
            lower=self.best.objective if math.isfinite(self.best.objective) else 0.0,
            cover_t=self.cover_t,
        )
        self.dual = dual
        before = self.best.bound
        self.best.tighten(dual.bound)
        if self.best.bound < before:
            self.best.notes.append(say("loc_bound_coverage_dual", how=dual.how))
        if dual.x is not None and self.open_gap():  # the LP's largest sites, then swaps: often optimal
            top = np.argsort(-dual.x, kind="stable")[: self.p].astype(np.intp)
            self.search(0, max(self.left(), 0.0) * HEURISTIC_SHARE, start=top[dual.x[top] > 1e-6])

    def exact(self, until: float) -> None:
        """HiGHS on the columns the multipliers leave free, warm-started from the incumbent."""
        if self.dual is None or self.best.cols is None:
            self.milp(self.inst, None, until, threshold=-math.inf)
            return
        threshold = self.best.objective
        closed, opened = fix_columns(self.dual, self.p, threshold)
        if not (closed.any() or opened.any()):
            self.milp(self.inst, None, until, threshold=-math.inf)
            return
        forced = np.flatnonzero(opened).astype(np.intp)
        rest = np.flatnonzero(~closed & ~opened).astype(np.intp)
        inst = self.inst
        base = inst.base + open_counts(inst.cover, forced)
        sub = reduce_coverage(
            sp.csr_array(inst.cover[:, rest]),
            inst.weights,
            base,
            self.values,
            drop_dominated=self.drop_dominated,
        )
        sub_cols = rest[sub.cols]
        self.best.notes.append(
            say(
                "loc_fixed_sites", opened=len(forced), closed=int(closed.sum()),
                groups=sub.cover.shape[0], candidates=sub.cover.shape[1],
            )
        )  # fmt: skip
        self.milp(sub, (forced, sub_cols), until, threshold=threshold)

    def milp(
        self,
        inst: CoverageInstance,
        fixed: tuple[IntArray, IntArray] | None,
        until: float,
        *,
        threshold: float,
    ) -> None:
        """HiGHS on ``inst``: a restriction of ``self.inst`` when ``fixed = (forced, cols)`` is given.

        A restriction's proven bound holds for the solutions it keeps; those it left out are worth
        less than ``threshold`` (the incumbent when the columns were fixed).
        """
        k = inst.cover.shape[1]
        forced, cols = (
            fixed if fixed is not None else (np.zeros(0, dtype=np.intp), np.arange(k, dtype=np.intp))
        )
        p = self.p - len(forced)
        if p <= 0 or k == 0 or inst.cover.shape[0] == 0:  # nothing left to choose: its value is known
            free = cols[: max(min(p, k), 0)]
            picked = np.concatenate([forced, free]).astype(np.intp)
            self.best.offer(picked, self.value(picked), self.best.solver)
            self.best.tighten(max(self.value(picked), threshold))
            return
        if self.guard_milp and not milp_has_time(inst.cover.nnz, until - time.perf_counter()):
            return  # building the model and HiGHS' presolve alone would overrun the limit
        start = None
        inc = self.best.cols
        if inc is not None and np.isin(forced, inc).all():
            own = inc[~np.isin(inc, forced)]
            if np.isin(own, cols).all():  # the incumbent lies in the restriction: warm start
                start = coverage_start(inst.cover, inst.base, self.levels, np.searchsorted(cols, own))
        model = coverage_model(inst.cover, inst.weights, inst.base, self.values, p)
        out = run_milp(model, self.best, start=start, t_end=until, mip_gap=self.mip_gap)
        self.ran_milp = True
        if out.x is not None:
            xs = np.flatnonzero(out.x[:k] > 0.5).astype(np.intp)
            picked = np.concatenate([forced, cols[xs]]).astype(np.intp)
            self.best.offer(picked, self.value(picked), out.solver)
        if math.isfinite(out.bound):
            shift = inst.constant if fixed is not None else 0.0
            self.best.tighten(max(out.bound + shift, threshold))
