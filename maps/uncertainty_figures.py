"""The report's uncertainty chart: which figures move the risk map most (issue 19)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .figures import _figure, drawn_in
from .words import tr

__all__ = ["sensitivity_figure"]


def sensitivity_figure(parameters: pd.DataFrame, *, n: int = 12, lang: str | None = None) -> Figure:
    """A Sobol bar chart: first-order and total indices of the figures kept for Sobol.

    Without Sobol indices (no figure passed the screening) the bars are Morris's mu*. ``lang``:
    as :func:`maps.risk_figure`'s.

    Examples
    --------
    >>> p = pd.DataFrame({"mu_star": [0.2, 0.1], "S1": [0.3, np.nan], "ST": [0.5, np.nan],
    ...                   "ST_conf": [0.05, np.nan]}, index=["a.weight", "b.bandwidth_m"])
    >>> len(sensitivity_figure(p).axes)
    1
    """
    return drawn_in(lang, lambda: _sensitivity_figure(parameters, n))


def _sensitivity_figure(parameters: pd.DataFrame, n: int) -> Figure:
    has_sobol = "ST" in parameters and parameters["ST"].notna().any()
    fig = _figure(6.5, 0.9 + 0.32 * min(n, max(len(parameters), 1)))
    ax = fig.add_subplot()
    if has_sobol:
        p = parameters[parameters["ST"].notna()].sort_values("ST").tail(n)
        y = np.arange(len(p))
        conf = p["ST_conf"].to_numpy(float) if "ST_conf" in p else None
        ax.barh(y + 0.2, p["ST"], height=0.4, color="#b2182b", xerr=conf, label=tr("unc_fig_st"))
        ax.barh(y - 0.2, p["S1"].fillna(0.0), height=0.4, color="#ef8a62", label=tr("unc_fig_s1"))
        ax.set_xlabel(tr("unc_fig_sobol_x"))
        ax.legend(fontsize=8, loc="lower right")
    else:
        p = parameters.sort_values("mu_star").tail(n) if "mu_star" in parameters else parameters.head(0)
        y = np.arange(len(p))
        ax.barh(y, p.get("mu_star", pd.Series(dtype=float)), color="#b2182b")
        ax.set_xlabel(tr("unc_fig_morris_x"))
    ax.set_yticks(y, [str(i) for i in p.index], fontsize=8)
    ax.set_title(tr("unc_fig_title"), fontsize=10)
    return fig
