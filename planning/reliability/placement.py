"""A queueing-aware swap on top of the location models: move a station if expected coverage rises.

The location models (:mod:`planning.location`) place stations as if they were always free;
MEXCLP (:func:`planning.location.mexclp`) takes one busy fraction for all. :func:`queueing_swap`
starts from a plan (say the MCLP's or MEXCLP's sites) and, evaluating each plan with the
hypercube (:func:`~planning.reliability.station_workload`), moves one station at a time to the
candidate site that most raises the city's expected coverage, until no move helps (a
best-improvement swap, Teitz and Bart's vertex substitution with the hypercube as objective).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError

from .workload import station_workload

__all__ = ["SwapResult", "queueing_swap"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwapResult:
    """Sites chosen by :func:`queueing_swap`.

    Attributes
    ----------
    sites
        Column labels of the chosen sites, in the order of the plan (moved sites in place).
    expected_coverage
        City expected coverage of the final plan (call-weighted, busy units counted).
    start_coverage
        The same for the starting plan.
    moves
        ``(from, to, expected coverage after)`` of each accepted swap.
    evaluations
        Plans evaluated with the hypercube.
    """

    sites: tuple[object, ...]
    expected_coverage: float
    start_coverage: float
    moves: tuple[tuple[object, object, float], ...]
    evaluations: int


def queueing_swap(
    times: pd.DataFrame,
    rates: npt.ArrayLike,
    service_min: npt.ArrayLike | float,
    start: Sequence[object],
    *,
    standard_s: float,
    fixed: Sequence[object] = (),
    response_units: dict[object, int] | None = None,
    solver: str = "approximate",
    max_moves: int = 100,
) -> SwapResult:
    """Improve a plan by single-station moves judged by the hypercube's expected coverage.

    Parameters
    ----------
    times
        ``(areas, sites)`` response seconds, the columns every candidate and existing site.
    rates
        Calls per hour from each area.
    service_min
        Mean service time (minutes), per area or one for all.
    start
        Sites of the starting plan (columns of ``times``), the ``fixed`` ones included.
    standard_s
        Response standard of the expected coverage.
    fixed
        Sites that never move (existing stations).
    response_units
        Units per site (default 1).
    solver
        ``approximate`` or ``exact`` (see :func:`~planning.reliability.station_workload`).
    max_moves
        Moves before stopping (logged).

    Returns
    -------
    SwapResult

    Examples
    --------
    >>> t = pd.DataFrame({"a": [60.0, 900.0], "b": [900.0, 60.0], "c": [200.0, 200.0]})
    >>> r = queueing_swap(t, [1.0, 1.0], 30.0, ["c"], standard_s=300.0)
    >>> r.sites, r.moves
    (('c',), ())
    """
    plan = list(start)
    unknown = [s for s in [*plan, *fixed] if s not in times.columns]
    if unknown or len(set(plan)) != len(plan) or not plan or not set(fixed) <= set(plan):
        msg = (
            f"queueing swap: start {plan} / fixed {list(fixed)}: sites {unknown} are not columns of the "
            "times, or repeat, or a fixed site is not in the start. Fix: start from a plan of distinct "
            "candidates "
            "that holds the fixed sites."
        )
        raise InputError(msg)
    units = response_units or {}
    lam = np.asarray(rates, dtype=float)
    evaluations = 0

    def value(sites: list[object]) -> float:
        nonlocal evaluations
        evaluations += 1
        w = station_workload(
            times[sites],
            lam,
            service_min,
            response_units=[int(units.get(s, 1)) for s in sites],
            standard_s=standard_s,
            solver=solver,
        )
        return float(w.city["expected_coverage"])

    best = first = value(plan)
    moves: list[tuple[object, object, float]] = []
    for _ in range(max_moves):
        choice: tuple[int, object, float] | None = None
        for i, site in enumerate(plan):
            if site in fixed:
                continue
            for cand in times.columns:
                if cand in plan:
                    continue
                trial = [*plan[:i], cand, *plan[i + 1 :]]
                v = value(trial)
                if v > (choice[2] if choice else best) + 1e-12:
                    choice = (i, cand, v)
        if choice is None:
            break
        i, cand, best = choice
        moves.append((plan[i], cand, best))
        plan[i] = cand
    else:
        log.warning("queueing_swap: stopped after %d moves", max_moves)
    return SwapResult(
        sites=tuple(plan),
        expected_coverage=best,
        start_coverage=first,
        moves=tuple(moves),
        evaluations=evaluations,
    )
