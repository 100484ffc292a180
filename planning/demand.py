"""Demand of a station plan: residents, raised by risk, per community.

:func:`demand_weights` turns communities (and a risk result) into the weights the location
models cover: by default every resident once, the riskiest community's up to
``1 + risk_uplift`` times (``demand`` table of ``planning_norms.toml``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.speech import say
from gis.tables import TableOverrides

from .siting import load_norms

if TYPE_CHECKING:
    from risk_models import RiskResult

__all__ = ["demand_weights"]


def _percentiles(risk: RiskResult | pd.Series, index: pd.Index) -> pd.Series:
    """Risk percentile (0..100) per community from a RiskResult or a Series of scores."""
    if hasattr(risk, "units"):
        units = risk.units
        scores = units["percentile"] if "percentile" in units else units["score"]
        is_pct = "percentile" in units
    else:
        scores, is_pct = pd.Series(risk), False
    scores = scores.copy()
    scores.index = scores.index.astype(str)
    missing = ~index.astype(str).isin(scores.index)
    if missing.any():
        msg = (
            f"`risk` has no score for communities {index[missing].tolist()[:10]}. Fix: score the "
            "scenario with `units='communities'`, or pass a Series of scores indexed by community id."
        )
        raise InputError(msg)
    values = scores.reindex(index.astype(str)).astype(float)
    if not is_pct:  # share of communities scoring strictly lower, as risk_models.assign_levels
        values = (values.rank(method="min") - 1) / len(values) * 100.0
    return pd.Series(values.to_numpy(np.float64), index=index)


def demand_weights(
    communities: gpd.GeoDataFrame,
    *,
    demand: str | pd.Series | None = None,
    risk: RiskResult | pd.Series | None = None,
    planning_norms: TableOverrides = None,
) -> tuple[pd.Series, str]:
    """Demand weight of every community and a note on how it was made.

    Parameters
    ----------
    communities
        Communities with ``population``, indexed by id.
    demand
        ``"population_x_risk"`` (the default of ``demand.default``), ``"population"``, a column
        of ``communities``, or a Series of weights on their index.
    risk
        A :class:`risk_models.RiskResult` on communities, or a Series of scores; needed for
        ``population_x_risk`` (without it the population is used and the note says so).
    planning_norms
        Overrides of ``planning/data/planning_norms.toml``.

    Notes
    -----
    ``population_x_risk`` is ``population x (1 + risk_uplift x percentile / 100)``, the
    percentile being the share of communities with a lower risk score: every resident counts
    at least once, the riskiest community's up to ``1 + risk_uplift`` times (``demand`` table
    of ``planning_norms.toml``). Risk raises demand; it never zeroes it.

    Examples
    --------
    >>> com = gpd.GeoDataFrame({"population": [100.0, 300.0]}, geometry=[None, None], index=["a", "b"])
    >>> demand_weights(com, risk=pd.Series({"a": 2.0, "b": 0.5}))[0].tolist()
    [150.0, 300.0]
    """
    cfg = load_norms(planning_norms)["demand"]
    spec = cfg["default"] if demand is None else demand
    if isinstance(spec, pd.Series):
        weights = spec.reindex(communities.index).astype(float)
        note = say("plan_demand_given")
    elif spec == "population_x_risk":
        pop = communities["population"].astype(float)
        if risk is None:
            weights, note = pop, say("plan_demand_no_risk")
        else:
            uplift = float(cfg["risk_uplift"])
            weights = pop * (1.0 + uplift * _percentiles(risk, communities.index) / 100.0)
            note = say("plan_demand_risk", uplift=f"{uplift:g}", most=f"{1 + uplift:g}")
    elif isinstance(spec, str) and spec in communities:
        weights, note = communities[spec].astype(float), say("plan_demand_column", column=spec)
    else:
        msg = (
            f"`demand` is {spec!r}. Fix: use 'population_x_risk', 'population', a column of "
            "`communities`, or a Series of weights indexed by community id."
        )
        raise InputError(msg)
    bad = ~np.isfinite(weights.to_numpy()) | (weights.to_numpy() < 0)
    if bad.any():
        msg = (
            f"Demand weights are missing, negative or not finite for communities "
            f"{weights.index[bad].tolist()[:10]}. Fix: give every community a population (and a risk score)."
        )
        raise InputError(msg)
    return weights, note
