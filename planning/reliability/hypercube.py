"""Hypercube queueing model of units that are busy (Larson 1974, 1975).

The solvers take the same inputs: call rates per demand area, a mean service time (one for
all units in the exact solver; one per area in the approximation and the simulation) and a
preference (dispatch order) list per area naming every unit. A call goes
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

from .states import MAX_STATE_UNITS, state_hypercube

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
    method : str
        How it was found: ``exact`` (:func:`exact_hypercube`), ``state``, ``conditional`` or
        ``larson`` (:func:`approximate_hypercube`), ``simulation``.
    """

    busy: np.ndarray
    dispatch: np.ndarray
    method: str = "exact"


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


def _service(service_time: float | np.ndarray, areas: int) -> np.ndarray:
    """Mean service time per area: a scalar broadcast, or one per area (Jarvis' extension)."""
    tau = np.broadcast_to(np.asarray(service_time, dtype=float), (areas,)).copy()
    if not np.isfinite(tau).all() or (tau <= 0).any():
        raise InputError(
            "hypercube: service times must be finite and > 0; give one mean per area or one for all"
        )
    return tau


def _larson_q(p: np.ndarray, units: int, rho: float) -> np.ndarray:
    """Larson's correction: P(m named busy, next free) / (rho^m (1 - rho)), k busy placed at random."""
    q = np.zeros(units)
    for m in range(units):
        joint = sum(p[k] * comb(units - m - 1, k - m) / comb(units, k) for k in range(m, units))
        q[m] = joint / (rho**m * (1.0 - rho)) if rho > 0 else 1.0
    return q


def _elementary(w: np.ndarray) -> np.ndarray:
    """Elementary symmetric polynomials e_0..e_n of the weights ``w`` (added one by one: stable)."""
    e = np.zeros(w.size + 1)
    e[0] = 1.0
    for x in w:
        e[1:] = e[1:] + x * e[:-1]
    return e


def _conditional_dispatch(
    p: np.ndarray, w: np.ndarray, preferences: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch fractions and busy marginals when the busy set is conditional Bernoulli.

    The number of busy units k follows the Erlang loss law ``p``; given k, a set S of k units
    is busy with probability proportional to the product of the units' weights ``w`` (busy
    odds). Equal weights give Larson's random placement. Returns ``(dispatch, marginal)``.
    """
    areas, units = preferences.shape
    e_all = _elementary(w)
    coef = np.where(e_all[:units] > 0, p[:units] / np.where(e_all[:units] > 0, e_all[:units], 1.0), 0.0)
    wo = w[preferences]
    log_prefix = np.hstack([np.zeros((areas, 1)), np.cumsum(np.log(wo[:, :-1]), axis=1)])
    dispatch = np.zeros((areas, units + 1))
    suffix = np.zeros((areas, units + 1))  # e_k of the units after rank m, built from the end
    suffix[:, 0] = 1.0
    for m in range(units - 1, -1, -1):
        width = units - m  # k - m runs over 0 .. units - 1 - m
        dispatch[:, m] = np.exp(log_prefix[:, m]) * (suffix[:, :width] @ coef[m:units])
        suffix[:, 1:] = suffix[:, 1:] + wo[:, m, None] * suffix[:, :-1]
    dispatch[:, units] = p[units]
    marginal = np.zeros(units)
    for i in range(units):
        e_i = _elementary(np.delete(w, i))
        ok = e_all[1:] > 0
        marginal[i] = w[i] * float((p[1:][ok] * e_i[ok] / e_all[1:][ok]).sum())
    return dispatch, marginal


#: Largest number of units the conditional-Bernoulli correction is used for (``method="auto"``).
MAX_CONDITIONAL_UNITS = 64

#: Largest number of units ``method="state"`` accepts (2^20 states, about 1 GB of work arrays).
MAX_STATE_CHAIN = 20


def approximate_hypercube(
    rates: np.ndarray,
    preferences: np.ndarray,
    service_time: float | np.ndarray,
    *,
    method: str = "auto",
    tolerance: float = 1e-8,
    max_iterations: int = 500,
) -> HypercubeResult:
    """Approximate hypercube for the zero-line-capacity system (Larson 1975; Jarvis 1985).

    Which method applies at which size (``method="auto"``):

    - up to :data:`~planning.reliability.states.MAX_STATE_UNITS` (12) units, ``"state"``: the
      full 2^N busy-set chain (:func:`~planning.reliability.states.state_hypercube`), the exact
      hypercube for one service time; with service times by area, Jarvis' model (each unit's
      service rate fitted to the calls it answers). Busy and dispatch fractions equal
      :func:`exact_hypercube`'s (to 1e-8) where both apply;
    - 13 to :data:`MAX_CONDITIONAL_UNITS` (64) units, ``"conditional"`` (below);
    - above 64 units, ``"larson"``.

    For the last two the number of busy units follows the Erlang loss law of the offered load
    ``sum(rates * service_time)`` (insensitive to the service-time law). Which units are busy:

    - ``method="larson"``: Larson's approximation, each unit independently busy, corrected
      by factors ``Q_m`` that place k busy units at random;
    - ``method="conditional"``: given k busy units, the busy set is drawn with probability
      proportional to the product of the units' busy odds (a conditional Bernoulli law whose
      odds are fitted so that each unit's busy fraction equals its load). Equal loads give
      Larson's factors; on uneven loads it halves the dispatch error (8 units with loads
      0.02-0.47: 1.8 points against Larson's 3.3, see tests/test_reliability_hypercube.py), but
      stays 2.8-3.0 points off on loaded uneven systems (8 units at load 0.4, 10 at 0.3:
      benchmarks/bench_reliability.py), which is why small systems take the state chain.
      Its cost grows as units^2 x areas per iteration.

    Service times may differ by area (Jarvis' extension, here by the calls' mix of incident
    categories): a unit's workload is the sum over areas of calls it answers times their
    mean service time.

    Parameters
    ----------
    rates, preferences
        As for :func:`exact_hypercube`.
    service_time : float or numpy.ndarray
        Mean service time, one for all areas or ``(areas,)``.
    method : {"auto", "state", "conditional", "larson"}
        The busy-set law (above); ``state`` takes at most 20 units (2^20 states).
    tolerance : float
        Largest change in a busy fraction at convergence.
    max_iterations : int
        Iterations before giving up with a logged warning.

    Returns
    -------
    HypercubeResult
        Approximate busy and dispatch fractions.

    Examples
    --------
    >>> prefs = np.array([[0, 1], [1, 0]])
    >>> res = approximate_hypercube(np.array([1.0, 1.0]), prefs, 0.25)
    >>> round(float(res.busy.sum()), 3)  # Erlang: offered 0.5, blocking 0.077
    0.462
    """
    rates = np.asarray(rates, dtype=float)
    preferences = np.asarray(preferences, dtype=np.int64)
    areas, units = preferences.shape if preferences.ndim == 2 else (0, 0)
    _check(rates, preferences, 1.0)
    tau = _service(service_time, rates.size)
    if method not in ("auto", "state", "conditional", "larson"):
        raise InputError(
            f"approximate_hypercube: `method` {method!r}; use auto, state, conditional or larson"
        )
    if method == "state" and units > MAX_STATE_CHAIN:
        raise InputError(
            f"approximate_hypercube: {units} units exceed the state chain's {MAX_STATE_CHAIN}; "
            "use method='auto' (conditional or larson) for large systems"
        )
    if method == "state" or (method == "auto" and 0 < units <= MAX_STATE_UNITS):
        busy_s, dispatch_s, _ = state_hypercube(rates, preferences, tau)
        return HypercubeResult(busy=busy_s, dispatch=dispatch_s, method="state")
    conditional = method == "conditional" or (method == "auto" and units <= MAX_CONDITIONAL_UNITS)
    offered = float((rates * tau).sum())
    p = _erlang_loss(offered, units)
    mean_busy = float((np.arange(units + 1) * p).sum())
    rho = mean_busy / units
    lost = float(p[units])
    weight = rates * tau  # busy time each area's calls bring
    if conditional and 0.0 < rho < 1.0:
        return _fit_conditional(
            p, weight, preferences, rho, tolerance=tolerance, max_iterations=max_iterations
        )
    q = _larson_q(p, units, rho)
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
        np.add.at(load, preferences.ravel(), (weight[:, None] * dispatch[:, :units]).ravel())
        new = load * (mean_busy / load.sum()) if load.sum() > 0 else load
        change = float(np.abs(new - busy).max())
        busy = 0.5 * busy + 0.5 * new
        if change < tolerance:
            break
    else:
        log.warning("approximate_hypercube: no convergence in %d iterations", max_iterations)
    return HypercubeResult(busy=busy, dispatch=dispatch.copy(), method="larson")


def _fit_conditional(
    p: np.ndarray,
    weight: np.ndarray,
    preferences: np.ndarray,
    rho: float,
    *,
    tolerance: float,
    max_iterations: int,
) -> HypercubeResult:
    """Fit the busy odds of the conditional-Bernoulli law to the units' loads (a fixed point)."""
    units = preferences.shape[1]
    mean_busy = rho * units
    log_w = np.zeros(units)
    dispatch = np.zeros((preferences.shape[0], units + 1))
    busy = np.full(units, rho)
    for _ in range(max_iterations):
        log_w -= log_w.mean()  # e_k depends on the odds' scale only through a factor c^k
        dispatch, marginal = _conditional_dispatch(p, np.exp(log_w), preferences)
        load = np.zeros(units)
        np.add.at(load, preferences.ravel(), (weight[:, None] * dispatch[:, :units]).ravel())
        busy = load * (mean_busy / load.sum()) if load.sum() > 0 else load
        gap = float(np.abs(busy - marginal).max())
        if gap < tolerance:
            break
        floor = 1e-12
        log_w += 0.7 * (np.log(np.maximum(busy, floor)) - np.log(np.maximum(marginal, floor)))
    else:
        log.warning("approximate_hypercube: no convergence in %d iterations", max_iterations)
    return HypercubeResult(busy=busy, dispatch=dispatch, method="conditional")
