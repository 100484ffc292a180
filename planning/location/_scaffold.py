"""The solve scaffold every location model runs on (internal).

Every model validates its inputs in one place (:mod:`._validate`), reduces the instance
(:mod:`._reduce`), finds an incumbent with a fast heuristic (:mod:`._heuristics`), then solves
the MILP with HiGHS under a time limit, warm-started from that incumbent when ``highspy`` is
installed. The result carries the best solution found, a proven bound and the gap.

This module holds what the model modules share: :func:`check_method`, the check of
``method``, ``time_limit_s`` and ``mip_gap``; :class:`Best`, the running incumbent and bound of
one solve; :func:`free_columns`, the candidates that are not ``existing``; :func:`run_milp` and
:func:`solve_assignment`, HiGHS under the time left with its outcome noted; and
:func:`assemble_result`, the frozen :class:`~._result.LocationResult` built on the full instance.

``n_new`` always counts *new* sites; ``existing`` columns are open in every solution.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from gis.errors import InputError, SolverError
from gis.speech import say

from ..names import Model
from ._costs import nearest_open
from ._milp import MilpModel, MilpOutcome, solve_milp
from ._result import LocationResult, Status, relative_gap
from ._validate import Problem

__all__ = [
    "HEURISTIC_SHARE",
    "MILP_MAX_ENTRIES",
    "MILP_SECONDS_PER_ENTRY",
    "MILP_SMALL_ENTRIES",
    "Best",
    "FloatArray",
    "IntArray",
    "Method",
    "assemble_result",
    "check_method",
    "free_columns",
    "milp_has_time",
    "run_milp",
    "solve_assignment",
    "solve_deadline",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Method = Literal["auto", "exact", "heuristic"]

HEURISTIC_SHARE = 0.3  # share of the time limit the heuristic may use before the MILP
MILP_MAX_ENTRIES = 2_000_000  # coverage pairs above which HiGHS cannot solve even the root LP in time
MILP_SECONDS_PER_ENTRY = 2e-6  # a MILP is started only with this much time per coverage pair ...
MILP_SMALL_ENTRIES = 300_000  # ... above this many pairs


@dataclass
class Best:
    """Running best solution and bound of one solve (internal, never returned)."""

    sense: Literal["max", "min"]
    cols: IntArray | None = None  # in the reduced column space
    objective: float = math.nan
    bound: float = math.nan
    solver: str = "heuristic"
    milp_status: str = ""
    notes: list[str] = field(default_factory=list)

    def offer(self, cols: IntArray | None, objective: float, solver: str) -> None:
        if cols is None or not math.isfinite(objective):
            return
        better = objective > self.objective if self.sense == "max" else objective < self.objective
        if self.cols is None or better:
            self.cols, self.objective, self.solver = np.sort(cols), objective, solver

    def tighten(self, bound: float) -> None:
        if not math.isfinite(bound):
            return
        if not math.isfinite(self.bound):
            self.bound = bound
        else:
            self.bound = min(self.bound, bound) if self.sense == "max" else max(self.bound, bound)

    def status(self, mip_gap: float, ran_milp: bool) -> Status:
        if relative_gap(self.objective, self.bound) <= mip_gap + 1e-9:
            return "optimal"
        return "time_limit" if ran_milp else "heuristic"


def check_method(method: str, time_limit_s: float, mip_gap: float) -> None:
    if method not in ("auto", "exact", "heuristic"):
        msg = f"`method` is {method!r}. Fix: use 'auto', 'exact' or 'heuristic'."
        raise InputError(msg)
    if not (time_limit_s > 0):
        msg = f"`time_limit_s` is {time_limit_s}. Fix: give a positive number of seconds."
        raise InputError(msg)
    if not (0 <= mip_gap < 1):
        msg = f"`mip_gap` is {mip_gap}. Fix: give a relative gap in [0, 1), such as 1e-4."
        raise InputError(msg)


def solve_deadline(t0: float, time_limit_s: float, pass_s: float) -> float:
    """When the search must end so that the answer, priced on the full instance, is out by the limit.

    ``pass_s`` is the measured time of one pass over the stored pairs (such as building the
    coverage sets): pricing the solution and building the result take a few such passes, and
    the last step of a search may end a little after its deadline, so ``6 * pass_s`` (plus 2 %
    of the limit, at most a quarter of it) is kept back.

    Examples
    --------
    >>> round(solve_deadline(100.0, 60.0, 0.5), 6)
    155.8
    """
    return t0 + time_limit_s - min(6.0 * pass_s + 0.02 * time_limit_s, 0.25 * time_limit_s)


def milp_has_time(nnz: int, seconds: float) -> bool:
    """Whether HiGHS on a model of ``nnz`` coverage pairs can do anything in ``seconds``.

    Above ``MILP_SMALL_ENTRIES`` pairs and below ``MILP_SECONDS_PER_ENTRY`` per pair, building
    the model and HiGHS' presolve alone overrun the limit (a 900,000-pair backup model: 1.2 s
    given 0.2 s); a smaller model always gets its try (HiGHS' overrun there is a fraction of a second).

    Examples
    --------
    >>> milp_has_time(100_000, 0.01), milp_has_time(1_000_000, 1.0), milp_has_time(1_000_000, 3.0)
    (True, False, True)
    """
    return nnz <= MILP_SMALL_ENTRIES or seconds >= MILP_SECONDS_PER_ENTRY * nnz


def free_columns(prob: Problem) -> IntArray:
    """Candidate columns that are not ``existing``: where the new sites may go."""
    return np.setdiff1d(np.arange(prob.n_candidates), prob.existing).astype(np.intp)


def run_milp(
    model: MilpModel, best: Best, *, start: FloatArray | None, t_end: float, mip_gap: float
) -> MilpOutcome:
    """Solve with the time left (a little kept back to build the result); note how it ended."""
    left = t_end - time.perf_counter()
    out = solve_milp(
        model,
        maximize=best.sense == "max",
        time_limit_s=max(0.85 * left - 0.5, 0.2),  # HiGHS may overrun its limit by a second or two
        mip_gap=mip_gap,
        start=start,
    )
    best.milp_status = out.status
    if out.status == "time_limit":
        best.notes.append(say("loc_milp_time_limit"))
    elif out.status == "error":
        best.notes.append(say("loc_milp_failed", message=out.message))
        log.warning("HiGHS failed: %s", out.message)
    return out


def solve_assignment(
    model: MilpModel,
    best: Best,
    *,
    t_end: float,
    mip_gap: float,
    n_open: int | None,
    start: FloatArray | None,
) -> MilpOutcome:
    """Solve an assignment MILP; infeasibility and "no solution in time" become clear errors."""
    out = run_milp(model, best, start=start, t_end=t_end, mip_gap=mip_gap)
    if out.status == "infeasible":
        sites = f" with {n_open} open sites" if n_open is not None else ""
        msg = (
            f"no choice of sites{sites} can serve every demand row at a finite cost within the given "
            "`capacities` (if any). Fix: raise `n_new` or the capacities, add candidate sites, or drop rows "
            "that only far-away sites can reach."
        )
        raise SolverError(msg)
    if out.x is None:
        msg = (
            f"HiGHS found no feasible solution in the time limit ({out.message}). "
            "Fix: raise `time_limit_s`, or solve without `capacities` first."
        )
        raise SolverError(msg)
    return out


def assemble_result(
    model: Model,
    prob: Problem,
    *,
    selected: IntArray,
    objective: float,
    bound: float,
    status: Status,
    sense: Literal["max", "min"],
    t0: float,
    solver: str,
    notes: list[str],
    coverage: npt.NDArray[np.int64] | None = None,
    assignment: IntArray | None = None,
) -> LocationResult:
    selected = np.unique(selected).astype(np.intp)
    radius = prob.radius if prob.radius is not None else math.inf
    result = LocationResult(
        model=model,
        selected=selected,
        is_existing=np.isin(selected, prob.existing),
        objective=float(objective),
        bound=float(bound),
        status=status,
        sense=sense,
        assignment=assignment if assignment is not None else nearest_open(prob.cost, selected, radius)[0],
        weights=prob.weights,
        unreachable=prob.unreachable,
        coverage_count=coverage,
        radius=prob.radius,
        wall_time_s=time.perf_counter() - t0,
        solver=solver,
        notes=tuple(dict.fromkeys(notes)),
    )
    log.info("%s", result.summary())
    return result
