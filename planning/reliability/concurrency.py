"""Concurrency of calls by hour of the day: how often k or more calls are in progress at once.

Calls arrive as a Poisson stream of the hour's rate; each keeps units busy for its service
time. Without limit on units the number of calls in progress is Poisson with mean
``rate x mean service time`` whatever the service-time law (the M/G/infinity system), so
``P(k or more at once)`` is a Poisson tail; with the city's ``units`` the chance that every
unit is busy is Erlang's loss formula (also insensitive to the service-time law).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from gis.errors import InputError

from .hypercube import _erlang_loss

__all__ = ["concurrency_by_hour"]


def concurrency_by_hour(
    rates_by_hour: pd.DataFrame,
    service_min: pd.Series | float,
    *,
    k_max: int = 5,
    units: int | None = None,
) -> pd.DataFrame:
    """The chance of k or more calls at once, per hour of the day.

    Parameters
    ----------
    rates_by_hour
        Calls per hour by area (rows) and hour (columns 0..23).
    service_min
        Mean service time (minutes), per area (weighted by the hour's calls) or one for all.
    k_max
        Largest k reported (columns ``p_at_least_1`` .. ``p_at_least_{k_max}``).
    units
        The city's response units: adds ``p_all_units_busy`` (Erlang loss).

    Returns
    -------
    pandas.DataFrame
        On the hours 0..23: ``calls_per_hour``, ``mean_in_progress`` and the tails.

    Examples
    --------
    >>> r = pd.DataFrame(np.full((1, 24), 2.0), columns=range(24))
    >>> c = concurrency_by_hour(r, 30.0, k_max=2, units=2)
    >>> round(float(c.loc[0, "p_at_least_1"]), 4), round(float(c.loc[0, "p_all_units_busy"]), 4)
    (0.6321, 0.2)
    """
    if list(rates_by_hour.columns) != list(range(24)):
        msg = "concurrency: `rates_by_hour` must have the columns 0..23 (hours of the day)"
        raise InputError(msg)
    if k_max < 1 or (units is not None and units < 1):
        msg = f"concurrency: `k_max` {k_max} and `units` {units} must be >= 1"
        raise InputError(msg)
    lam = rates_by_hour.to_numpy(float)
    tau = np.broadcast_to(np.asarray(service_min, dtype=float).reshape(-1, 1) / 60.0, lam.shape)
    per_hour = lam.sum(axis=0)
    mean = (lam * tau).sum(axis=0)
    out = pd.DataFrame(
        {"calls_per_hour": per_hour, "mean_in_progress": mean}, index=pd.Index(range(24), name="hour")
    )
    for k in range(1, k_max + 1):
        out[f"p_at_least_{k}"] = stats.poisson.sf(k - 1, mean)
    if units is not None:
        out["p_all_units_busy"] = [float(_erlang_loss(a, units)[units]) if a > 0 else 0.0 for a in mean]
    return out
