"""The composite score, its levels and its explanation.

``score = hazard x exposure x vulnerability x response``, the multiplicative form of
FEMA's National Risk Index (expected loss x community risk factor) and of INFORM
(hazard & exposure x vulnerability / coping capacity):

- ``hazard``: sum over categories of ``weight_c x density_c`` (severity per km2, see
  :mod:`risk_models.density`); ``hazard_<category>`` columns add up to it exactly;
- ``exposure_factor``: from population density (:mod:`risk_models.exposure`);
- ``vulnerability_factor``: 0.5..2 from census shares (:mod:`risk_models.vulnerability`);
- ``response_factor``: first-engine response time / 300 s, clipped to 0.5..2 (the inverse of
  capacity); 1 when no response times are given.

Each factor's contribution is reported as its ratio to the study-area median
(``<factor>_vs_median``); the log of the score is the sum of the logs of the factors,
so these ratios multiply to the score's ratio to the median unit's factors.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.speech import say

from .weights import RiskWeights, load_weights
from .words import category_word, listing

__all__ = ["FACTORS", "LEVELS", "assign_levels", "compose", "reasons", "response_factor"]

log = logging.getLogger(__name__)

#: Red (major), orange (high), yellow (moderate), blue (low), from low to high.
LEVELS: tuple[str, ...] = ("blue", "yellow", "orange", "red")
FACTORS: tuple[str, ...] = ("hazard", "exposure_factor", "vulnerability_factor", "response_factor")


def response_factor(
    response_time_s: pd.Series | None,
    index: pd.Index,
    *,
    risk_weights: RiskWeights | None = None,
) -> pd.Series:
    """Response factor per unit: ``clip(time / reference_s, min, max)``; 1 without times.

    Missing or infinite times (no engine reaches the unit) take ``unreached_factor``.

    Examples
    --------
    >>> t = pd.Series([150.0, 300.0, 900.0, np.inf], index=list("abcd"))
    >>> response_factor(t, pd.Index(list("abcde"))).tolist()
    [0.5, 1.0, 2.0, 2.0, 2.0]
    """
    c = (risk_weights if risk_weights is not None else load_weights())["capacity"]
    if response_time_s is None:
        return pd.Series(1.0, index=index, name="response_factor")
    t = response_time_s.astype(float).reindex(index)
    if (t < 0).any():
        bad = list(t.index[t < 0][:10])
        msg = f"`response_time_s` is negative for units {bad}. Fix: give times in seconds >= 0."
        raise InputError(msg)
    f = np.clip(t / float(c["reference_s"]), float(c["factor_min"]), float(c["factor_max"]))
    f = f.where(np.isfinite(t), float(c["unreached_factor"]))
    return f.rename("response_factor")


def assign_levels(score: pd.Series, *, risk_weights: RiskWeights | None = None) -> pd.DataFrame:
    """``percentile`` (share of units scoring strictly lower, 0..100) and ``level``.

    ``levels.method`` is ``"percentile"`` (breaks on the percentile), ``"thresholds"``
    (breaks on the score) or a mapclassify scheme with four classes.

    Examples
    --------
    >>> out = assign_levels(pd.Series(np.arange(100.0)))
    >>> out["level"].value_counts().reindex(list(LEVELS)).tolist()
    [60, 25, 10, 5]
    """
    lv = (risk_weights if risk_weights is not None else load_weights())["levels"]
    pct = (score.rank(method="min") - 1) / len(score) * 100.0
    method = str(lv["method"])
    if method in ("percentile", "thresholds"):
        basis = pct if method == "percentile" else score
        cls = np.searchsorted(np.asarray(lv["breaks"], dtype=float), basis.to_numpy(float), side="right")
    else:
        try:
            import mapclassify
        except ImportError:
            from gis.errors import MissingDependencyError

            raise MissingDependencyError("mapclassify", purpose="classify risk levels") from None
        if not hasattr(mapclassify, method):
            msg = f"`levels.method` {method!r} is not a mapclassify scheme. Fix: use e.g. 'NaturalBreaks'."
            raise InputError(msg)
        cls = np.asarray(getattr(mapclassify, method)(score.to_numpy(float), k=4).yb)
    level = pd.Categorical(np.asarray(LEVELS)[np.clip(cls, 0, 3)], categories=list(LEVELS), ordered=True)
    return pd.DataFrame({"percentile": pct, "level": level}, index=score.index)


def compose(parts: pd.DataFrame, *, risk_weights: RiskWeights | None = None) -> pd.DataFrame:
    """Score, level and breakdown from the factor columns of ``parts``.

    Parameters
    ----------
    parts
        Columns ``hazard_<category>`` and the factors ``exposure_factor``,
        ``vulnerability_factor``, ``response_factor``. Without any ``hazard_<category>``
        column (no hazard source reaches the units) the hazard term is neutral (1.0), so the
        score rests on the other factors.
    risk_weights
        Risk table (levels).

    Returns
    -------
    pandas.DataFrame
        ``parts`` plus ``hazard``, ``score``, ``percentile``, ``level``, ``share_<category>``
        (share of the hazard term) and ``<factor>_vs_median``.

    Examples
    --------
    >>> parts = pd.DataFrame({"hazard_mining": [1.0, 2.0], "hazard_other": [1.0, 0.0],
    ...                       "exposure_factor": [1.0, 2.0], "vulnerability_factor": [1.0, 1.0],
    ...                       "response_factor": [1.0, 1.0]})
    >>> compose(parts)[["hazard", "score", "share_mining"]].to_dict("list")
    {'hazard': [2.0, 2.0], 'score': [2.0, 4.0], 'share_mining': [0.5, 1.0]}
    """
    out = parts.copy()
    cats = [c for c in parts.columns if c.startswith("hazard_")]
    out["hazard"] = parts[cats].sum(axis=1) if cats else 1.0
    out["score"] = out["hazard"]
    for f in FACTORS[1:]:
        out["score"] = out["score"] * out[f]
    for c in cats:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share_" + c.removeprefix("hazard_")] = (out[c] / out["hazard"]).fillna(0.0)
    for f in FACTORS:
        positive = out[f][out[f] > 0]
        med = float(positive.median()) if len(positive) else 1.0
        out[f"{f}_vs_median"] = out[f] / med
    return out.join(assign_levels(out["score"], risk_weights=risk_weights))


def reasons(row: pd.Series, *, top_sources: str = "", n_categories: int = 2) -> str:
    """One line explaining a unit's score from its breakdown (a row of :func:`compose`).

    Examples
    --------
    >>> row = pd.Series({"hazard_vs_median": 8.0, "share_mining": 0.7, "share_other": 0.3,
    ...                  "exposure_factor_vs_median": 0.5, "vulnerability_factor_vs_median": 1.2,
    ...                  "response_factor_vs_median": 1.0, "population": 1200.0})
    >>> reasons(row)
    'hazard 8.0x median (mining 70%, other 30%); exposure 0.5x (1,200 people); vulnerability 1.2x'

    Inside :func:`gis.speech.speaking` the words are that language's:

    >>> from gis.speech import speaking
    >>> with speaking("zh"):
    ...     reasons(row).startswith("危险性为中位数的8.0倍"), reasons(row).endswith("脆弱性1.2倍")
    (True, True)
    """
    shares = row[[k for k in row.index if str(k).startswith("share_")]].astype(float)
    if shares.empty:
        parts = [say("risk_why_no_hazard")]
    else:
        shares = shares[shares > 0].sort_values(ascending=False).head(n_categories)
        mix = listing(
            say("risk_why_share", category=category_word(k.removeprefix("share_")), share=f"{v:.0%}")
            for k, v in shares.items()
        )
        parts = [
            say("risk_why_hazard", ratio=f"{row['hazard_vs_median']:.1f}")
            + (say("risk_why_mix", mix=mix) if mix else "")
        ]
    if top_sources:
        parts[0] += say("risk_why_from", sources=top_sources)
    people = say("risk_why_people", people=f"{row['population']:,.0f}") if "population" in row else ""
    parts.append(say("risk_why_exposure", ratio=f"{row['exposure_factor_vs_median']:.1f}", people=people))
    parts.append(say("risk_why_vulnerability", ratio=f"{row['vulnerability_factor_vs_median']:.1f}"))
    resp = float(row["response_factor_vs_median"])
    if resp != 1.0:
        secs = (
            say("risk_why_seconds", seconds=f"{row['response_time_s']:.0f}")
            if "response_time_s" in row
            else ""
        )
        parts.append(say("risk_why_response", ratio=f"{resp:.1f}", seconds=secs))
    if row.get("population", 1.0) == 0:
        parts.append(say("risk_why_no_residents"))
    return say("words_clause_sep").join(parts)
