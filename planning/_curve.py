"""Solving a station plan and its trade-off curve: the models by name, their objectives (private).

:func:`planning.plan_stations` solves one model of :mod:`planning.location` for the plan and
again for every point of the trade-off curve; these helpers run the model by its name, score a
selection by the model's own objective, extend a selection greedily and drop new sites that add
nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from gis.errors import InputError

from .location import LocationResult, backup_coverage, lscp, mclp, mexclp, p_center, p_median
from .names import Model
from .travel import TargetsBySources

__all__ = ["drop_idle", "extend", "metrics", "objective", "solve"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def solve(
    model: Model,
    cost: TargetsBySources,
    w: FloatArray,
    *,
    radius: float,
    n_new: int,
    existing: IntArray,
    time_limit_s: float,
    busy_fraction: float | None = None,
) -> LocationResult:
    kw: dict[str, Any] = {"existing": existing, "time_limit_s": time_limit_s}
    if model == "mexclp":
        return mexclp(cost, w, radius, n_new, busy_fraction=_q(busy_fraction), **kw).location
    if model == "mclp":
        return mclp(cost, w, radius, n_new, **kw)
    if model == "backup":
        return backup_coverage(cost, w, radius, n_new, **kw)
    if model == "p-median":
        return p_median(cost, w, n_new, **kw)
    if model == "p-center":
        return p_center(cost, n_new, **kw)
    return lscp(cost, radius, allow_unreachable=True, **kw)


def _q(busy_fraction: float | None) -> float:
    if busy_fraction is None:
        msg = (
            "The `mexclp` model needs `busy_fraction`, the share of time a unit is busy. "
            "Fix: give it (CLI `--busy-fraction 0.2`)."
        )
        raise InputError(msg)
    return float(busy_fraction)


def objective(
    model: Model,
    cost: TargetsBySources,
    w: FloatArray,
    radius: float,
    cols: IntArray,
    *,
    busy_fraction: float | None = None,
) -> float:
    """The model's own objective of a selection, larger = better (for the monotone repair)."""
    sub = cost[:, cols]
    if model == "mexclp":
        return float(w @ (1.0 - _q(busy_fraction) ** (sub <= radius).sum(axis=1)))
    if model == "backup":
        return float(w[(sub <= radius).sum(axis=1) >= 2].sum())
    best = sub.min(axis=1)
    if model == "p-median":
        return -float(np.sum(w * np.where(np.isfinite(best), best, 1e12)))
    if model == "p-center":
        return -float(np.max(np.where(np.isfinite(best), best, 1e12)))
    return float(w[best <= radius].sum())


def drop_idle(
    model: Model,
    cost: TargetsBySources,
    w: FloatArray,
    radius: float,
    chosen: IntArray,
    *,
    existing: IntArray,
    busy_fraction: float | None = None,
) -> IntArray:
    """``chosen`` without the new sites whose removal costs nothing (coverage models pick them freely)."""
    cols = chosen
    best = objective(model, cost, w, radius, cols, busy_fraction=busy_fraction)
    for c in [c for c in chosen if c not in existing][::-1]:
        rest = cols[cols != c]
        if objective(model, cost, w, radius, rest, busy_fraction=busy_fraction) >= best - 1e-9 * max(
            1.0, abs(best)
        ):
            cols = rest
    return cols


def extend(
    model: Model,
    cost: TargetsBySources,
    w: FloatArray,
    *,
    radius: float,
    cols: IntArray,
    pool: IntArray,
    busy_fraction: float | None = None,
) -> IntArray:
    """``cols`` plus the one ``pool`` column that improves the objective most (greedy step)."""
    rest = pool[~np.isin(pool, cols)]
    if len(rest) == 0:
        return cols
    scores = [
        objective(model, cost, w, radius, np.append(cols, c), busy_fraction=busy_fraction) for c in rest
    ]
    return np.sort(np.append(cols, rest[int(np.argmax(scores))])).astype(np.intp)


def metrics(
    cost: TargetsBySources,
    w: FloatArray,
    pop: FloatArray,
    radius: float,
    cols: IntArray,
    *,
    busy_fraction: float | None = None,
) -> dict[str, float]:
    """Coverage, population share, mean and worst response of a selection.

    With ``busy_fraction`` also the expected coverage share ``sum w (1 - q**n) / sum w``
    (every unit busy with probability ``q``).
    """
    best = cost[:, cols].min(axis=1) if len(cols) else np.full(len(cost), np.inf)
    covered = best <= radius
    finite = np.isfinite(best)
    wpop = pop[finite]
    extra: dict[str, float] = {}
    if busy_fraction is not None:
        n = (cost[:, cols] <= radius).sum(axis=1) if len(cols) else np.zeros(len(cost))
        extra["expected_coverage_share"] = float(w @ (1.0 - float(busy_fraction) ** n) / w.sum())
    return {
        "coverage_share": float(w[covered].sum() / w.sum()),
        "population_share": float(pop[covered].sum() / pop.sum()),
        "mean_response_s": float(np.average(best[finite], weights=wpop)) if wpop.sum() > 0 else math.inf,
        "max_response_s": float(best.max()),
        **extra,
    }
