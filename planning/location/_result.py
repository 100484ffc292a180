"""The frozen result every location model returns.

A model never keeps state: it returns a :class:`LocationResult` whose arrays are read-only,
so one result cannot be changed by a later solve (unlike spopt's models, spopt #286).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gis.speech import say, speaking

from ..names import Model

__all__ = ["LocationResult", "Status", "relative_gap"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

Status = Literal["optimal", "time_limit", "heuristic"]


def relative_gap(objective: float, bound: float) -> float:
    """Relative optimality gap ``|bound - objective| / |objective|`` (0 when both are 0)."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = abs(bound - objective)
    if diff <= 1e-9 * max(1.0, abs(objective)):
        return 0.0
    return diff / max(abs(objective), 1e-12)


def _frozen(a: npt.ArrayLike | None, dtype: Any) -> Any:
    if a is None:
        return None
    arr = np.array(a, dtype=dtype)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class LocationResult:
    """Outcome of one location model on a ``(targets, sources)`` cost matrix (demand x candidates).

    Attributes
    ----------
    model
        One of :data:`planning.names.MODELS`: ``"lscp"``, ``"mclp"``, ``"p-median"``,
        ``"p-center"``, ``"backup"`` or ``"mexclp"`` (the functions ``lscp``, ``mclp``, ``p_median``,
        ``p_center``, ``backup_coverage``, ``mexclp``; MEXCLP's objective is the expected covered
        weight).
    selected
        Column indices of every open site, sorted, ``existing`` ones included.
    is_existing
        Per entry of :attr:`selected`: ``True`` for an existing site.
    objective
        Objective of the best solution found: number of new sites (LSCP), covered weight
        (MCLP), weighted mean cost (p-median), worst cost (p-center), weight covered twice
        (backup coverage).
    bound
        A proven bound on the optimum: an upper bound for maximising models, a lower bound
        for minimising ones.
    gap
        Relative gap ``|bound - objective| / |objective|``; 0 when proven optimal.
    status
        ``"optimal"`` (gap within ``mip_gap``), ``"time_limit"`` (the solver stopped early:
        best solution and its gap), ``"heuristic"`` (no exact solve was run; the bound comes
        from a relaxation). Infeasible input never returns a result: it raises
        :class:`~gis.errors.InputError` naming the rows, columns or arguments at fault.
    sense
        ``"max"`` or ``"min"``.
    assignment
        Per demand row: the column of the facility serving it (nearest open site, within the
        radius for coverage models), or -1.
    coverage_count
        Per demand row: open sites within the radius (coverage models), else ``None``.
    weights
        Demand weights used (ones when none were given).
    unreachable
        Demand rows no candidate can reach (within the radius for coverage models).
    wall_time_s
        Wall time of the whole call.
    solver
        What produced the solution and the bound (``"highs"``, ``"heuristic"``, ...).
    notes
        Human-readable notes: reductions, time limits, dropped rows.
    """

    model: Model
    selected: IntArray
    is_existing: BoolArray
    objective: float
    bound: float
    status: Status
    sense: Literal["max", "min"]
    assignment: IntArray
    weights: FloatArray
    unreachable: IntArray
    coverage_count: IntArray | None = None
    radius: float | None = None
    wall_time_s: float = 0.0
    solver: str = ""
    notes: tuple[str, ...] = ()
    gap: float = field(init=False)

    def __post_init__(self) -> None:
        for name, dtype in (
            ("selected", np.intp),
            ("is_existing", np.bool_),
            ("assignment", np.intp),
            ("weights", np.float64),
            ("unreachable", np.intp),
            ("coverage_count", np.intp),
        ):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "gap", relative_gap(self.objective, self.bound))

    @property
    def new_sites(self) -> IntArray:
        """Column indices of the sites opened by this solution (existing ones left out)."""
        return self.selected[~self.is_existing]

    @property
    def existing(self) -> IntArray:
        """Column indices of the existing sites (always open)."""
        return self.selected[self.is_existing]

    @property
    def covered(self) -> BoolArray | None:
        """Per demand row: at least one open site within the radius (coverage models)."""
        return None if self.coverage_count is None else self.coverage_count >= 1

    @property
    def coverage_share(self) -> float:
        """Share of the total weight within the radius of an open site (NaN without a radius)."""
        return self._share(1)

    @property
    def backup_share(self) -> float:
        """Share of the total weight within the radius of two or more open sites."""
        return self._share(2)

    def _share(self, times: int) -> float:
        if self.coverage_count is None:
            return math.nan
        total = float(self.weights.sum())
        if total <= 0:
            return math.nan
        return float(self.weights[self.coverage_count >= times].sum()) / total

    @property
    def proven_optimal(self) -> bool:
        """``True`` when the bound proves the solution optimal (up to the solver tolerance)."""
        return self.status == "optimal"

    def summary(self) -> str:
        """One line: model, status, sites, objective, bound, gap and time (in the output's language)."""
        return say(
            "loc_summary", model=self.model, status=_status_word(self.status), new=len(self.new_sites),
            existing=len(self.existing), objective=f"{self.objective:.6g}", bound=f"{self.bound:.6g}",
            gap=f"{self.gap:.2%}", seconds=f"{self.wall_time_s:.2f}", solver=_solver_word(self.solver),
        )  # fmt: skip

    def __repr__(self) -> str:
        with speaking("en"):
            return f"LocationResult({self.summary()})"


def _status_word(status: str) -> str:
    """A result's status (``optimal``) in the output's language: the code itself in English."""
    if status == "optimal":
        return say("loc_status_optimal")
    if status == "time_limit":
        return say("loc_status_time_limit")
    if status == "heuristic":
        return say("loc_status_heuristic")
    return status


def _solver_word(solver: str) -> str:
    """What found the sites (``enumeration``, ``heuristic``; HiGHS's name kept) in the output's language."""
    if solver == "enumeration":
        return say("loc_solver_enumeration")
    if solver == "heuristic":
        return say("loc_solver_heuristic")
    if solver == "trivial":
        return say("loc_solver_trivial")
    if solver == "lagrangian heuristic":
        return say("loc_solver_lagrangian_heuristic")
    return solver
