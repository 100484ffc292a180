"""Station workload with busy stations: who answers each area's calls, and how fast at the 90th.

:func:`station_workload` expands every station into its response units (several units per
station, each a server of the hypercube, the station's units next to each other in every
area's dispatch order), solves the hypercube (:func:`~planning.reliability.approximate_hypercube`,
area service times after Jarvis) and reads off, per area: the chance the first-due station is
busy (all its units out: the state chain holds it exactly; with the conditional and Larson
laws, which miss it, from the Erlang loss of a group of its units carrying its busy time) and
the call goes to the 2nd or 3rd station or is lost to mutual aid, the expected coverage within
a standard and the expected 90th-percentile response; per station: its busy fraction and calls; and the
city's figures. :func:`workload_by_hour` does it for each hour of the day (one steady state
per hour: the hour's call rates held long enough to settle, the usual standards-of-cover
reading).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError

from .hypercube import HypercubeResult, _erlang_loss, approximate_hypercube, exact_hypercube

__all__ = ["Workload", "station_workload", "weighted_quantile", "workload_by_hour"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Workload:
    """Workload of the stations and the reliability of each area's response.

    Attributes
    ----------
    stations
        On the station ids: ``response_units``, ``busy_fraction`` (mean over its units),
        ``calls_per_day`` (answered), ``first_due_calls_per_day`` (from the areas it is first
        due to) and ``first_due_answered_share`` (of those, the share it answered itself).
    areas
        On the area ids: ``first_due``, ``calls_per_day``, ``busy_fraction_first_due`` (the
        chance a call finds every unit of the first-due station out), ``second_due_share``,
        ``third_due_share``, ``lost_share`` (every unit busy: mutual aid),
        ``expected_coverage`` (within ``standard_s``; NaN without one) and
        ``expected_response_p90_s`` (inf when more than 10% of calls are lost or unreachable).
    city
        ``expected_coverage``, ``expected_response_p90_s``, ``mean_busy_fraction``,
        ``lost_share``, ``calls_per_day``.
    hypercube
        The solver's unit-level result; ``unit_station`` maps units to station positions.
    """

    stations: pd.DataFrame
    areas: pd.DataFrame
    city: dict[str, float]
    hypercube: HypercubeResult
    unit_station: npt.NDArray[np.int64] = field(repr=False)


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest value whose cumulative weight reaches ``q`` of the total (``inf`` allowed).

    Examples
    --------
    >>> weighted_quantile(np.array([100.0, 200.0, np.inf]), np.array([0.85, 0.1, 0.05]), 0.9)
    200.0
    """
    total = float(weights.sum())
    if not total > 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / total
    k = int(np.searchsorted(cum, q - 1e-12))
    return float(values[order][min(k, len(values) - 1)])


def _as_frame(times: pd.DataFrame | FloatArray) -> pd.DataFrame:
    frame = times if isinstance(times, pd.DataFrame) else pd.DataFrame(np.asarray(times, dtype=float))
    if frame.ndim != 2 or frame.shape[1] == 0 or frame.isna().to_numpy().any():
        msg = (
            f"station workload: response times {frame.shape} must be an (areas, stations) matrix "
            "without NaN (inf = unreachable)"
        )
        raise InputError(msg)
    return frame


def station_workload(
    times: pd.DataFrame | FloatArray,
    rates: pd.Series | FloatArray,
    service_min: pd.Series | FloatArray | float,
    *,
    response_units: pd.Series | npt.ArrayLike | None = None,
    standard_s: float | None = None,
    solver: str = "approximate",
    method: str = "auto",
) -> Workload:
    """Busy fractions of the stations and the areas' reliability of response.

    Parameters
    ----------
    times
        ``(areas, stations)`` response seconds (turnout included), a DataFrame on the area ids
        with the station ids as columns (or an array: positions are the ids).
    rates
        Calls per hour from each area.
    service_min
        Mean service time (minutes) per area, or one for all.
    response_units
        Units per station that take separate calls (default 1 each).
    standard_s
        Response standard for the expected coverage.
    solver
        ``approximate`` (:func:`~planning.reliability.approximate_hypercube`) or ``exact``
        (the 2^N system: one service time for all, at most 10 units).
    method
        The approximation's busy-set law (see :func:`~planning.reliability.approximate_hypercube`).

    Returns
    -------
    Workload

    Examples
    --------
    >>> t = pd.DataFrame({"S1": [100.0, 400.0], "S2": [500.0, 150.0]}, index=["A", "B"])
    >>> w = station_workload(t, np.array([1.0, 0.5]), 30.0, standard_s=300.0)
    >>> w.areas["first_due"].tolist(), round(float(w.stations.loc["S1", "busy_fraction"]), 3)
    (['S1', 'S2'], 0.358)
    """
    frame = _as_frame(times)
    n_areas, n_st = frame.shape
    t = frame.to_numpy(dtype=float)
    lam = np.asarray(rates, dtype=float).reshape(-1)
    if lam.size != n_areas:
        msg = f"station workload: {lam.size} rates for {n_areas} areas. Fix: give one rate per area."
        raise InputError(msg)
    tau_min = np.broadcast_to(np.asarray(service_min, dtype=float), (n_areas,)).astype(float)
    units = (
        np.ones(n_st, dtype=np.int64)
        if response_units is None
        else np.asarray(response_units).astype(np.int64)
    )
    if units.shape != (n_st,) or (units < 1).any():
        msg = f"station workload: `response_units` {units.tolist()} must be one whole number >= 1 per station"
        raise InputError(msg)
    unit_station = np.repeat(np.arange(n_st), units)
    unit_t = t[:, unit_station]
    prefs = np.argsort(unit_t, axis=1, kind="stable")
    tau_h = tau_min / 60.0
    if solver == "exact":
        if not np.allclose(tau_h, tau_h[0]):
            msg = (
                "station workload: the exact solver takes one service time for all areas. "
                "Fix: use solver='approximate'."
            )
            raise InputError(msg)
        res = exact_hypercube(lam, prefs, float(tau_h[0]))
    elif solver == "approximate":
        res = approximate_hypercube(lam, prefs, tau_h, method=method)
    else:
        msg = f"station workload: `solver` is {solver!r}. Fix: use approximate or exact."
        raise InputError(msg)
    return _read(
        frame,
        lam,
        res,
        prefs,
        unit_station=unit_station,
        units=units,
        standard_s=standard_s,
        station_erlang=res.method in ("conditional", "larson"),
    )


def _all_busy(carried: float, servers: int) -> float:
    """P(all ``servers`` busy) of an Erlang loss group carrying ``carried`` Erlangs (bisection)."""
    if carried <= 0.0:
        return 0.0
    if carried >= servers * (1.0 - 1e-9):
        return 1.0
    lo, hi = carried, carried * 2.0 + 1.0
    while hi * (1.0 - float(_erlang_loss(hi, servers)[servers])) < carried:
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid * (1.0 - float(_erlang_loss(mid, servers)[servers])) < carried:
            lo = mid
        else:
            hi = mid
    return float(_erlang_loss(0.5 * (lo + hi), servers)[servers])


def _station_erlang(
    weights: FloatArray,
    ranked_station: npt.NDArray[np.int64],
    busy: FloatArray,
    *,
    unit_station: npt.NDArray[np.int64],
    units: npt.NDArray[np.int64],
) -> FloatArray:
    """Dispatch weights with the first-due station's all-busy chance taken from its own Erlang loss.

    The hypercube's busy-set laws miss the dependence of a station's co-located units (one out,
    the next takes the district's calls): for a station of several units the chance that all are
    out is taken as the Erlang loss of a group of its units carrying its busy time, and each
    area's shares are rescaled to it (the first-due station's units to ``1 - B``, the rest to
    ``B``, in proportion).
    """
    carried = np.bincount(unit_station, weights=busy, minlength=units.size)
    all_busy = np.array(
        [_all_busy(float(a), int(c)) if c > 1 else np.nan for a, c in zip(carried, units, strict=True)]
    )
    first = ranked_station[:, 0]
    multi = units[first] > 1
    if not multi.any():
        return weights
    in_first = np.hstack([ranked_station == first[:, None], np.zeros((len(first), 1), dtype=bool)])
    share = (weights * in_first).sum(axis=1)
    target = np.where(multi, 1.0 - np.nan_to_num(all_busy[first]), share)
    f_first = np.divide(target, share, out=np.ones_like(share), where=share > 0)
    f_rest = np.divide(1.0 - target, 1.0 - share, out=np.ones_like(share), where=share < 1)
    return np.where(in_first, weights * f_first[:, None], weights * f_rest[:, None])


def _read(
    frame: pd.DataFrame,
    lam: FloatArray,
    res: HypercubeResult,
    prefs: npt.NDArray[np.int64],
    *,
    unit_station: npt.NDArray[np.int64],
    units: npt.NDArray[np.int64],
    standard_s: float | None,
    station_erlang: bool,
) -> Workload:
    t = frame.to_numpy(dtype=float)
    n_areas, n_st = t.shape
    n_units = unit_station.size
    ranked_station = unit_station[prefs]  # (areas, unit rank) -> station position
    if station_erlang:
        dispatch = _station_erlang(
            res.dispatch, ranked_station, res.busy, unit_station=unit_station, units=units
        )
        res = HypercubeResult(busy=res.busy, dispatch=dispatch, method=res.method)
    disp = res.dispatch[:, :n_units]
    lost = res.dispatch[:, n_units]
    st_order = np.argsort(t, axis=1, kind="stable")
    st_rank = np.empty_like(st_order)
    np.put_along_axis(st_rank, st_order, np.arange(n_st)[None, :].repeat(n_areas, 0), axis=1)
    by_rank = np.zeros((n_areas, n_st))
    rows = np.repeat(np.arange(n_areas), n_units)
    np.add.at(by_rank, (rows, np.take_along_axis(st_rank, ranked_station, axis=1).ravel()), disp.ravel())
    pad = np.zeros((n_areas, max(0, 3 - n_st)))
    by_rank3 = np.hstack([by_rank, pad])
    ranked_t = np.take_along_axis(t, ranked_station, axis=1)
    values = np.hstack([ranked_t, np.full((n_areas, 1), np.inf)])
    weights = np.hstack([disp, lost[:, None]])
    p90 = np.array([weighted_quantile(values[a], weights[a], 0.9) for a in range(n_areas)])
    cover = (
        (disp * (ranked_t <= standard_s)).sum(axis=1) if standard_s is not None else np.full(n_areas, np.nan)
    )
    ids = frame.columns.to_numpy()
    first = st_order[:, 0]
    per_day = lam * 24.0
    areas = pd.DataFrame(
        {
            "first_due": ids[first],
            "calls_per_day": per_day,
            "busy_fraction_first_due": 1.0 - by_rank3[:, 0],
            "second_due_share": by_rank3[:, 1],
            "third_due_share": by_rank3[:, 2],
            "lost_share": lost,
            "expected_coverage": cover,
            "expected_response_p90_s": p90,
        },
        index=frame.index,
    )
    busy = np.bincount(unit_station, weights=res.busy, minlength=n_st) / units
    answered = np.zeros(n_st)
    np.add.at(answered, ranked_station.ravel(), (per_day[:, None] * disp).ravel())
    first_calls = np.bincount(first, weights=per_day, minlength=n_st)
    own = np.bincount(first, weights=per_day * by_rank3[:, 0], minlength=n_st)
    stations = pd.DataFrame(
        {
            "response_units": units,
            "busy_fraction": busy,
            "calls_per_day": answered,
            "first_due_calls_per_day": first_calls,
            "first_due_answered_share": np.divide(
                own, first_calls, out=np.full(n_st, np.nan), where=first_calls > 0
            ),
        },
        index=pd.Index(ids, name="station"),
    )
    total = float(lam.sum())
    city: dict[str, float] = {
        "calls_per_day": total * 24.0,
        "mean_busy_fraction": float(res.busy.mean()),
        "lost_share": float((lam * lost).sum() / total) if total > 0 else 0.0,
        "expected_coverage": float((lam * cover).sum() / total)
        if total > 0 and standard_s is not None
        else np.nan,
        "expected_response_p90_s": weighted_quantile(values.ravel(), (weights * lam[:, None]).ravel(), 0.9),
    }
    return Workload(stations=stations, areas=areas, city=city, hypercube=res, unit_station=unit_station)


def workload_by_hour(
    times: pd.DataFrame | FloatArray,
    rates_by_hour: pd.DataFrame,
    service_min: pd.Series | FloatArray | float,
    *,
    response_units: pd.Series | npt.ArrayLike | None = None,
    standard_s: float | None = None,
    districts: pd.Series | None = None,
    method: str = "auto",
) -> tuple[dict[int, Workload], pd.DataFrame]:
    """:func:`station_workload` for each hour of the day, and the 90th-percentile table.

    Parameters
    ----------
    times, service_min, response_units, standard_s, method
        As for :func:`station_workload`.
    rates_by_hour
        Calls per hour by area (rows, as ``times``) and hour of the day (columns 0..23), from
        :func:`~planning.reliability.call_rates` or :func:`~planning.reliability.rates_from_risk`.
    districts
        District of each area (default: its first-due station).

    Returns
    -------
    tuple
        ``{hour: Workload}`` and a table of the expected 90th-percentile response (seconds) by
        district (rows, plus ``city``) and hour (columns): each district's calls of the hour
        pooled, weighted by their rates.

    Examples
    --------
    >>> t = pd.DataFrame({"S1": [100.0, 400.0], "S2": [500.0, 150.0]}, index=["A", "B"])
    >>> r = pd.DataFrame(np.full((2, 24), 0.2), index=["A", "B"], columns=range(24))
    >>> _, table = workload_by_hour(t, r, 30.0)
    >>> table.shape, float(table.loc["city", 0])
    ((3, 24), 150.0)
    """
    frame = _as_frame(times)
    if list(rates_by_hour.columns) != list(range(24)) or len(rates_by_hour) != len(frame):
        msg = "workload by hour: `rates_by_hour` must have one row per area and the columns 0..23"
        raise InputError(msg)
    per_hour: dict[int, Workload] = {}
    rows: dict[Any, dict[int, float]] = {}
    for hour in range(24):
        w = station_workload(
            frame,
            rates_by_hour[hour].to_numpy(float),
            service_min,
            response_units=response_units,
            standard_s=standard_s,
            method=method,
        )
        per_hour[hour] = w
        group = w.areas["first_due"] if districts is None else districts.reindex(frame.index)
        values, weights = _mixture(frame, w)
        lam = rates_by_hour[hour].to_numpy(float)
        for name, members in group.groupby(group.to_numpy()).groups.items():
            pos = frame.index.get_indexer(members)
            rows.setdefault(name, {})[hour] = weighted_quantile(
                values[pos].ravel(), (weights[pos] * lam[pos, None]).ravel(), 0.9
            )
        rows.setdefault("city", {})[hour] = w.city["expected_response_p90_s"]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=range(24))
    order = [k for k in table.index if k != "city"]
    table = table.loc[[*sorted(order, key=str), "city"]]
    table.index.name = "district"
    return per_hour, table


def _mixture(frame: pd.DataFrame, w: Workload) -> tuple[FloatArray, FloatArray]:
    """Each area's response-time values and dispatch weights (lost calls at ``inf``)."""
    t = frame.to_numpy(dtype=float)
    n_units = w.unit_station.size
    prefs = np.argsort(t[:, w.unit_station], axis=1, kind="stable")
    ranked_t = np.take_along_axis(t, w.unit_station[prefs], axis=1)
    values = np.hstack([ranked_t, np.full((len(t), 1), np.inf)])
    weights = np.hstack([w.hypercube.dispatch[:, :n_units], w.hypercube.dispatch[:, n_units : n_units + 1]])
    return values, weights
