"""Expected annual impact from impacts per return period: the exceedance curve integrated.

With return periods ``T_1 < ... < T_n`` (annual exceedance probabilities ``p_i = 1 / T_i``) and
impacts ``I_i`` (affected share, damage share, deaths), the expected annual impact is the area
under the impact-exceedance curve, in trapezoids between the return periods, as CLIMADA and FEMA's
National Risk Index compute expected annual loss:

- between ``p_i`` and ``p_{i+1}``: ``(p_i - p_{i+1}) (I_i + I_{i+1}) / 2``;
- more frequent than ``T_1``: the impact falls linearly to 0 at ``p_0 = 1 / protection_years``
  (events the drainage is built for do no harm): ``(p_0 - p_1) I_1 / 2`` when ``p_0 > p_1``;
- rarer than ``T_n``: ``beyond_largest = "constant"`` counts ``p_n I_n`` (a rarer event does at
  least the largest one's harm), ``"none"`` nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError

__all__ = ["expected_annual", "return_periods"]


def return_periods(periods: Sequence[object], *, where: str = "flood depth rasters") -> list[float]:
    """The return periods as floats > 1, in increasing order; InputError naming the bad one.

    Examples
    --------
    >>> return_periods(["100", 10, 50.0])
    [10.0, 50.0, 100.0]
    """
    out = []
    for p in periods:
        try:
            t = float(str(p))
        except ValueError:
            t = float("nan")
        if not np.isfinite(t) or t <= 1:
            msg = (
                f"Return period `{p}` of the {where} is not a number of years > 1. "
                "Fix: key each raster by its return period in years, e.g. 10, 50, 100."
            )
            raise InputError(msg)
        out.append(t)
    if len(set(out)) != len(out):
        msg = f"The {where} repeat a return period ({sorted(out)}). Fix: give one raster per return period."
        raise InputError(msg)
    return sorted(out)


def expected_annual(
    impacts: pd.DataFrame | Mapping[float, npt.ArrayLike],
    *,
    protection_years: float = 2.0,
    beyond_largest: str = "constant",
) -> npt.NDArray[np.float64]:
    """Expected annual impact per row from impacts per return period (columns or mapping keys).

    Parameters
    ----------
    impacts
        Return period (years) -> impact per unit (same length for every period).
    protection_years
        Return period at and below which events do no harm.
    beyond_largest
        ``"constant"`` or ``"none"`` (see the module's docstring).

    Examples
    --------
    Impacts 1 at 10 years and 2 at 100 years: 0.4 x 1 / 2 + 0.09 x 1.5 + 0.01 x 2.

    >>> expected_annual({10: [1.0], 100: [2.0]}).round(6).tolist()
    [0.355]
    >>> expected_annual({10: [1.0], 100: [2.0]}, beyond_largest="none", protection_years=10).round(6).tolist()
    [0.135]
    """
    frame = impacts if isinstance(impacts, pd.DataFrame) else pd.DataFrame(dict(impacts))
    periods = return_periods(list(frame.columns))
    by_period = {float(str(c)): c for c in frame.columns}
    values = np.column_stack([frame[by_period[t]].to_numpy(dtype=np.float64) for t in periods])
    p = 1.0 / np.asarray(periods)
    total = np.zeros(len(frame))
    for i in range(len(periods) - 1):
        total += (p[i] - p[i + 1]) * (values[:, i] + values[:, i + 1]) / 2.0
    p0 = 1.0 / float(protection_years)
    if p0 > p[0]:
        total += (p0 - p[0]) * values[:, 0] / 2.0
    if beyond_largest == "constant":
        total += p[-1] * values[:, -1]
    elif beyond_largest != "none":
        msg = f'`beyond_largest` is {beyond_largest!r}. Fix: use "constant" or "none".'
        raise InputError(msg)
    return total
