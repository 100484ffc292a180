"""Discrete-event simulation of the zero-line-capacity hypercube (seeded, deterministic)."""

from __future__ import annotations

import heapq

import numpy as np

from planning.reliability.hypercube import HypercubeResult, _check, _service


def simulate_hypercube(
    rates: np.ndarray,
    preferences: np.ndarray,
    service_time: float | np.ndarray,
    *,
    calls: int = 200_000,
    seed: int = 0,
) -> HypercubeResult:
    """Simulate the hypercube system and measure busy and dispatch fractions.

    Parameters
    ----------
    rates, preferences, service_time
        As for :func:`planning.reliability.approximate_hypercube` (Poisson calls, exponential
        service of the mean of the call's area).
    calls : int
        Number of calls simulated.
    seed : int
        Seed of the random generator; the same seed gives the same result.

    Returns
    -------
    HypercubeResult
        Measured busy fractions (time-average) and dispatch fractions per area.
    """
    rates = np.asarray(rates, dtype=float)
    preferences = np.asarray(preferences, dtype=np.int64)
    _check(rates, preferences, 1.0)
    tau = _service(service_time, rates.size)
    areas, units = preferences.shape
    rng = np.random.default_rng(seed)
    total = float(rates.sum())
    gaps = rng.exponential(1.0 / total, calls)
    origin = rng.choice(areas, calls, p=rates / total)
    services = rng.exponential(1.0, calls) * tau[origin]
    free_at: list[tuple[float, int]] = []
    busy = np.zeros(units, dtype=bool)
    busy_time = np.zeros(units)
    counts = np.zeros((areas, units + 1))
    now = 0.0
    for n in range(calls):
        now += gaps[n]
        while free_at and free_at[0][0] <= now:
            _, unit = heapq.heappop(free_at)
            busy[unit] = False
        area = origin[n]
        for rank, unit in enumerate(preferences[area]):
            if not busy[unit]:
                busy[unit] = True
                end = now + services[n]
                busy_time[unit] += services[n]
                heapq.heappush(free_at, (end, int(unit)))
                counts[area, rank] += 1
                break
        else:
            counts[area, units] += 1
    for end, unit in free_at:  # services still running: count only up to now
        busy_time[unit] -= max(end - now, 0.0)
    dispatch = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    return HypercubeResult(busy=busy_time / now, dispatch=dispatch, method="simulation")
