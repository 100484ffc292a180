"""The hypercube's full busy-set chain (2^N states) solved by uniformised power iteration.

Larson's (1974) state system: a state is the set of busy units, a call of area j goes to the
first free unit of j's preference list (lost when all are busy) and a busy unit i frees at
rate ``mu_i``. With one service rate for every unit the chain is the exact hypercube; with a
rate per unit it is Jarvis' (1985) model, whose unit rates :func:`state_hypercube` fits to the
mix of calls each unit answers (area-dependent service times). The generator is held sparse
(``N x 2^N`` transitions each way) and the stationary law found by power iteration on the
uniformised chain, which needs a few hundred sparse products and no factorisation (a sparse
LU fills in badly on the hypercube graph: 8 s at 12 units against 0.04 s here); chains of up
to 8 units are solved directly.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["MAX_STATE_UNITS", "first_free", "state_hypercube"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Largest number of units whose 2^N chain ``approximate_hypercube(method="auto")`` solves
#: (4,096 states: about 0.1 s a solve with 150 areas; 16 units take 4 s a solve, 2^16 states).
MAX_STATE_UNITS = 12

#: Chains of up to this many states (8 units) are solved directly (sparse LU), larger ones
#: iteratively.
DENSE_STATES = 256


def first_free(preferences: IntArray) -> npt.NDArray[np.int8]:
    """``(areas, 2^N)``: the first free unit of each area's list in each busy set, -1 if none.

    Parameters
    ----------
    preferences
        ``(areas, units)`` unit indices in dispatch order (at most 62 units).

    Returns
    -------
    numpy.ndarray
        Unit index (int8) for every area and state (bit ``i`` of the state: unit ``i`` busy).
    """
    areas, units = preferences.shape
    states = np.arange(1 << units, dtype=np.int64)
    first = np.full((areas, states.size), -1, dtype=np.int8)
    for m in range(units - 1, -1, -1):
        unit = preferences[:, m]
        free = ((states[None, :] >> unit[:, None]) & 1) == 0
        first = np.where(free, unit[:, None].astype(np.int8), first)
    return first


class _Chain:
    """The generator's transitions, arrivals fixed, service rates set per solve."""

    def __init__(self, rates: FloatArray, first: npt.NDArray[np.int8], units: int) -> None:
        n_states = first.shape[1]
        states = np.arange(n_states, dtype=np.int64)
        ok = first >= 0
        key = first.astype(np.int64) * n_states + states[None, :]
        weights = np.broadcast_to(rates[:, None], first.shape)
        arrive = np.bincount(key[ok], weights=weights[ok], minlength=units * n_states).reshape(
            units, n_states
        )
        rows, cols, vals, done = [], [], [], []
        for i in range(units):
            busy = ((states >> i) & 1) == 1
            free = states[~busy]
            keep = arrive[i, ~busy] > 0
            rows.append(free[keep])
            cols.append(free[keep] | (1 << i))
            vals.append(arrive[i, ~busy][keep])
            done.append(states[busy])
        self.n_states = n_states
        self.arrivals = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_states, n_states)
        )
        self.busy_states = done

    def transposed(self, mu: FloatArray) -> sp.csr_matrix:
        """``Q.T`` for the unit service rates ``mu`` (so that ``Q.T @ pi = 0`` at steady state)."""
        rows = np.concatenate(self.busy_states)
        cols = np.concatenate([b ^ (1 << i) for i, b in enumerate(self.busy_states)])
        vals = np.concatenate([np.full(b.size, mu[i]) for i, b in enumerate(self.busy_states)])
        service = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_states, self.n_states))
        q = (self.arrivals + service).tocsr()
        out = np.asarray(q.sum(axis=1)).ravel()
        return (q.T - sp.diags(out)).tocsr()


def _stationary(
    qt: sp.csr_matrix, start: FloatArray | None, *, tolerance: float, max_iterations: int
) -> FloatArray:
    """Stationary law of the chain of generator ``qt.T``.

    Up to :data:`DENSE_STATES` states a direct solve (one balance equation replaced by the
    normalisation, sparse LU); above, power iteration on the uniformised chain from ``start``.
    """
    n = qt.shape[0]
    if n <= DENSE_STATES:
        a = sp.vstack([sp.csr_matrix(np.ones((1, n))), qt[1:]]).tocsc()
        b = np.zeros(n)
        b[0] = 1.0
        pi = np.maximum(spla.spsolve(a, b), 0.0)
        return pi / pi.sum()
    rate = float(-qt.diagonal().min()) * 1.05 or 1.0
    step = (sp.identity(n, format="csr") + qt / rate).tocsr()
    pi = np.full(n, 1.0 / n) if start is None else start / start.sum()
    for _ in range(max_iterations):
        new = step @ pi
        new /= new.sum()
        if float(np.abs(new - pi).sum()) < tolerance:
            return new
        pi = new
    log.warning("hypercube state chain: no convergence in %d iterations", max_iterations)
    return pi


def _dispatch(pi: FloatArray, first: npt.NDArray[np.int8], rank: IntArray) -> FloatArray:
    """``(areas, units + 1)``: the law's mass of states where each preference answers (last: lost)."""
    areas, units = rank.shape
    col = np.where(first >= 0, np.take_along_axis(rank, np.maximum(first, 0).astype(np.int64), axis=1), units)
    key = (np.arange(areas)[:, None] * (units + 1) + col).ravel()
    weights = np.broadcast_to(pi, first.shape).ravel()
    mass: FloatArray = np.bincount(key, weights=weights, minlength=areas * (units + 1)).astype(np.float64)
    return mass.reshape(areas, units + 1)


def state_hypercube(
    rates: FloatArray,
    preferences: IntArray,
    tau: FloatArray,
    *,
    tolerance: float = 1e-4,
    max_iterations: int = 100,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Busy and dispatch fractions of the 2^N chain, unit service rates fitted after Jarvis.

    Parameters
    ----------
    rates
        ``(areas,)`` calls per unit time.
    preferences
        ``(areas, units)`` dispatch orders.
    tau
        ``(areas,)`` mean service time of each area's calls. Equal: the exact hypercube, one
        solve. Unequal: each unit's service rate is the inverse of the mean service time of
        the calls it answers (a fixed point, each solve started from the last one's law).
    tolerance
        Largest relative change of a unit's service time at convergence.
    max_iterations
        Fixed-point iterations before giving up with a logged warning.

    Returns
    -------
    tuple
        ``busy`` ``(units,)``, ``dispatch`` ``(areas, units + 1)`` (last column: lost) and the
        fitted mean service time of each unit ``(units,)``.
    """
    areas, units = preferences.shape
    first = first_free(preferences)
    states = np.arange(1 << units, dtype=np.int64)
    rank = np.empty_like(preferences)
    np.put_along_axis(rank, preferences, np.arange(units)[None, :].repeat(areas, 0), axis=1)
    unit_tau = np.full(units, float((rates * tau).sum() / rates.sum()) if rates.sum() > 0 else float(tau[0]))
    chain = _Chain(rates, first, units)
    pi: FloatArray | None = None
    dispatch = np.zeros((areas, units + 1))
    uniform = bool(np.allclose(tau, tau[0], rtol=1e-12))
    for _ in range(max_iterations):
        pi = _stationary(chain.transposed(1.0 / unit_tau), pi, tolerance=1e-13, max_iterations=200_000)
        dispatch = _dispatch(pi, first, rank)
        if uniform:
            unit_tau = np.full(units, float(tau[0]))
            break
        flow = np.zeros(units)
        work = np.zeros(units)
        answered = rates[:, None] * dispatch[:, :units]
        np.add.at(flow, preferences.ravel(), answered.ravel())
        np.add.at(work, preferences.ravel(), (answered * tau[:, None]).ravel())
        new = np.where(flow > 0, work / np.where(flow > 0, flow, 1.0), unit_tau)
        change = float(np.abs(new / unit_tau - 1.0).max())
        unit_tau = new
        if change < tolerance:  # the law of service times within `tolerance` of the fitted ones
            break
    else:
        log.warning("hypercube state chain: unit service times unsettled after %d iterations", max_iterations)
    assert pi is not None
    busy = np.array([pi[((states >> i) & 1) == 1].sum() for i in range(units)])
    return busy, dispatch, unit_tau
