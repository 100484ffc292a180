"""Preference lists from travel times and the expected coverage with busy units."""

from __future__ import annotations

import numpy as np

from gis import InputError
from planning.reliability.hypercube import HypercubeResult


def preference_lists(times: np.ndarray) -> np.ndarray:
    """Dispatch order of the units for each demand area, nearest first.

    Parameters
    ----------
    times : numpy.ndarray
        ``(areas, units)`` travel times, oriented like
        :data:`planning.travel.TargetsBySources`; unreachable pairs may be ``inf``.

    Returns
    -------
    numpy.ndarray
        ``(areas, units)`` unit indices, ties broken by unit index (stable sort).
    """
    times = np.asarray(times, dtype=float)
    if times.ndim != 2 or np.isnan(times).any():
        raise InputError(
            f"preference_lists: travel times {times.shape} must be a 2-D (areas, units) "
            "matrix without NaN; use inf for unreachable pairs"
        )
    return np.argsort(times, axis=1, kind="stable")


def expected_coverage(
    result: HypercubeResult,
    rates: np.ndarray,
    preferences: np.ndarray,
    times: np.ndarray,
    standard: float,
) -> tuple[np.ndarray, float]:
    """Expected share of calls answered within the standard, busy units counted.

    Parameters
    ----------
    result : HypercubeResult
        Dispatch fractions from one of the hypercube solvers.
    rates, preferences : numpy.ndarray
        The inputs the result was computed from.
    times : numpy.ndarray
        ``(areas, units)`` travel times in the unit of ``standard``.
    standard : float
        Response-time standard (e.g. GB 51080's first-due time).

    Returns
    -------
    tuple of (numpy.ndarray, float)
        Per-area expected coverage (lost calls count as not covered) and the call-weighted
        city figure.
    """
    rates = np.asarray(rates, dtype=float)
    times = np.asarray(times, dtype=float)
    preferences = np.asarray(preferences, dtype=np.int64)
    if times.shape != preferences.shape or result.dispatch.shape[0] != rates.size:
        raise InputError(
            f"expected_coverage: times {times.shape}, preferences {preferences.shape} and "
            f"dispatch {result.dispatch.shape} disagree; pass the solver's own inputs"
        )
    within = np.take_along_axis(times, preferences, axis=1) <= standard
    per_area = (result.dispatch[:, :-1] * within).sum(axis=1)
    total = float(rates.sum())
    city = float((rates * per_area).sum() / total) if total > 0 else 0.0
    return per_area, city
