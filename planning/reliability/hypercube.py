"""Hypercube queueing model of units that are busy (Larson 1974, 1975).

Both solvers take the same inputs: call rates per demand area, one mean service time shared
by all units and a preference (dispatch order) list per area naming every unit. A call goes
to the first free unit of its area's list and is lost (passed to mutual aid) when all are
busy: the zero-line-capacity hypercube.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import comb

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gis import InputError

log = logging.getLogger(__name__)

#: Largest number of units the exact solver accepts (2^10 states).
MAX_EXACT_UNITS = 10


@dataclass(frozen=True)
class HypercubeResult:
    """Busy fractions and dispatch fractions of a hypercube model.

    Attributes
    ----------
    busy : numpy.ndarray
        ``(units,)`` long-run fraction of time each unit is busy.
    dispatch : numpy.ndarray
        ``(areas, units + 1)``: fraction of an area's calls answered by its m-th preference
        (column m), the last column the calls lost because every unit is busy.
    """

    busy: np.ndarray
    dispatch: np.ndarray


def _check(rates: np.ndarray, preferences: np.ndarray, service_time: float) -> None:
    if rates.ndim != 1 or preferences.ndim != 2 or preferences.shape[0] != rates.size:
        raise InputError(
            f"hypercube: rates {rates.shape} and preferences {preferences.shape} disagree; "
            "give one rate and one preference row per demand area"
        )
    units = preferences.shape[1]
    bad = [j for j, row in enumerate(preferences) if sorted(row.tolist()) != list(range(units))]
    if bad:
        raise InputError(
            f"hypercube: preference rows {bad[:5]} are not an ordering of units 0..{units - 1}; "
            "list every unit once per area"
        )
    if (rates < 0).any() or not service_time > 0:
        raise InputError("hypercube: call rates must be >= 0 and the service time > 0")


def exact_hypercube(rates: np.ndarray, preferences: np.ndarray, service_time: float) -> HypercubeResult:
    """Solve the full hypercube state system (2^N states) exactly.

    Parameters
    ----------
    rates : numpy.ndarray
        ``(areas,)`` calls per unit time from each demand area.
    preferences : numpy.ndarray
        ``(areas, units)`` unit indices in dispatch order for each area.
    service_time : float
        Mean service time (same unit of time as ``rates``), exponential.

    Returns
    -------
    HypercubeResult
        The exact busy and dispatch fractions.

    Raises
    ------
    gis.InputError
        If the inputs disagree or there are more than :data:`MAX_EXACT_UNITS` units.
    """
    rates = np.asarray(rates, dtype=float)
    preferences = np.asarray(preferences, dtype=np.int64)
    _check(rates, preferences, service_time)
    units = preferences.shape[1]
    if units > MAX_EXACT_UNITS:
        raise InputError(
            f"exact_hypercube: {units} units exceed {MAX_EXACT_UNITS}; "
            "use approximate_hypercube for large systems"
        )
    states = np.arange(1 << units)
    mu = 1.0 / service_time
    rows, cols, vals = [], [], []
    # Service completions: a busy unit frees at rate mu.
    for i in range(units):
        busy = states[(states >> i) & 1 == 1]
        rows.append(busy)
        cols.append(busy ^ (1 << i))
        vals.append(np.full(busy.size, mu))
    # Arrivals: each area's call goes to its first free unit.
    first = np.full((rates.size, states.size), -1, dtype=np.int64)
    for j in range(rates.size):
        for unit in preferences[j][::-1]:
            free = ((states >> unit) & 1) == 0
            first[j, free] = unit
        ok = first[j] >= 0
        rows.append(states[ok])
        cols.append(states[ok] | (1 << first[j, ok]))
        vals.append(np.full(int(ok.sum()), rates[j]))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    gen = sp.coo_matrix((v, (r, c)), shape=(states.size, states.size)).tocsr()
    gen = gen - sp.diags(np.asarray(gen.sum(axis=1)).ravel())
    # pi Q = 0 with sum(pi) = 1: replace one balance equation by the normalisation.
    a = gen.T.tolil()
    a[0, :] = 1.0
    b = np.zeros(states.size)
    b[0] = 1.0
    pi = spla.spsolve(a.tocsc(), b)
    busy = np.array([pi[(states >> i) & 1 == 1].sum() for i in range(units)])
    dispatch = np.zeros((rates.size, units + 1))
    for j in range(rates.size):
        rank = np.empty(units, dtype=np.int64)
        rank[preferences[j]] = np.arange(units)
        ok = first[j] >= 0
        np.add.at(dispatch[j], rank[first[j, ok]], pi[ok])
        dispatch[j, units] = pi[~ok].sum()
    return HypercubeResult(busy=busy, dispatch=dispatch)


def _erlang_loss(offered: float, units: int) -> np.ndarray:
    """Probabilities of 0..units busy servers in an M/M/N/N system."""
    # log(a^k / k!) built up term by term, so large N neither overflows nor underflows.
    logs = np.concatenate([[0.0], np.cumsum(np.log(max(offered, 1e-300) / np.arange(1, units + 1)))])
    terms = np.exp(logs - logs.max())
    return terms / terms.sum()


def approximate_hypercube(
    rates: np.ndarray,
    preferences: np.ndarray,
    service_time: float,
    *,
    tolerance: float = 1e-8,
    max_iterations: int = 500,
) -> HypercubeResult:
    """Larson's approximate hypercube for the zero-line-capacity system.

    Each unit is taken as independently busy, corrected by factors ``Q_m`` from the Erlang
    loss distribution of the number of busy units (the chance that m named units are busy
    and one more is free, k busy units being placed at random), and iterated to a fixed
    point whose total busy units equal the Erlang loss system's.

    Parameters
    ----------
    rates, preferences, service_time
        As for :func:`exact_hypercube`.
    tolerance : float
        Largest change in a busy fraction at convergence.
    max_iterations : int
        Iterations before giving up with a logged warning.

    Returns
    -------
    HypercubeResult
        Approximate busy and dispatch fractions.
    """
    rates = np.asarray(rates, dtype=float)
    preferences = np.asarray(preferences, dtype=np.int64)
    _check(rates, preferences, service_time)
    areas, units = preferences.shape
    offered = float(rates.sum()) * service_time
    p = _erlang_loss(offered, units)
    mean_busy = float((np.arange(units + 1) * p).sum())
    rho = mean_busy / units
    # q[m]: P(m named busy, next free) / (rho^m (1 - rho)).
    q = np.zeros(units)
    for m in range(units):
        joint = sum(p[k] * comb(units - m - 1, k - m) / comb(units, k) for k in range(m, units))
        q[m] = joint / (rho**m * (1.0 - rho)) if rho > 0 else 1.0
    lost = float(p[units])
    busy = np.full(units, rho)
    dispatch = np.zeros((areas, units + 1))
    for _ in range(max_iterations):
        prefs_busy = busy[preferences]
        before = np.cumprod(np.hstack([np.ones((areas, 1)), prefs_busy[:, :-1]]), axis=1)
        dispatch[:, :units] = q[None, :] * before * (1.0 - prefs_busy)
        # Rescale each area's answered share to the Erlang system's.
        dispatch[:, :units] *= (1.0 - lost) / dispatch[:, :units].sum(axis=1, keepdims=True)
        dispatch[:, units] = lost
        load = np.zeros(units)
        np.add.at(load, preferences.ravel(), (rates[:, None] * dispatch[:, :units]).ravel())
        new = load * service_time
        new *= mean_busy / new.sum() if new.sum() > 0 else 0.0
        change = float(np.abs(new - busy).max())
        busy = 0.5 * busy + 0.5 * new
        if change < tolerance:
            break
    else:
        log.warning("approximate_hypercube: no convergence in %d iterations", max_iterations)
    return HypercubeResult(busy=busy, dispatch=dispatch.copy())
