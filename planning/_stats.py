"""Percentiles of response times where some places are never reached (private).

Unreached places carry ``inf``. numpy and pandas interpolate linearly between neighbours, and
``inf - inf`` (or ``0 * inf``) makes their answer NaN both where the percentile is infinite and where
it lands exactly on a finite value next to an ``inf``: the 90th percentile of ten finite times and
one ``inf`` came out NaN instead of the tenth time. :func:`quantile` gives numpy's answer wherever
numpy's is a number, and the limit of linear interpolation with ``inf`` as a very large time
elsewhere: the lower neighbour when the position falls on it, else ``inf``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["quantile", "repair_quantile"]


def _position(n: int, q: float) -> tuple[int, float]:
    # numpy's "linear" method (Hyndman & Fan 7): virtual index n*q + (1 - q) - 1
    index = n * q - q
    lo = math.floor(index)
    return lo, index - lo


def repair_quantile(values: npt.ArrayLike, q: float, answer: float) -> float:
    """``answer`` (numpy's or pandas' linear quantile of ``values``), mended where it is a spurious NaN."""
    if not math.isnan(answer):
        return answer
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan
    v = np.sort(v)
    lo, t = _position(len(v), q)
    lo = min(max(lo, 0), len(v) - 1)
    return float(v[lo]) if t == 0 or lo == len(v) - 1 else (float(v[lo]) if v[lo] == v[lo + 1] else math.inf)


def quantile(values: npt.ArrayLike, q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` by linear interpolation, ``inf`` read as unreached.

    >>> quantile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, float("inf")], 0.9)
    10.0
    >>> quantile([1.0, 2.0, float("inf"), float("inf")], 0.9)
    inf
    >>> quantile([], 0.9)
    nan
    """
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return math.nan
    with np.errstate(invalid="ignore"):
        answer = float(np.quantile(v, q))
    if np.isnan(v).any():
        return answer
    return repair_quantile(v, q, answer)
