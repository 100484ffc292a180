"""The uncertainty of a risk map on the interactive map: uncertain units hatched (issue 19).

A unit is *uncertain* when no risk level reaches the certain probability (70 % by default) over
the samples of :func:`risk_models.sensitivity.analyse_sensitivity` (its ``uncertain`` column).
:func:`uncertainty_spec` draws those units only, hatched by the page's SVG pattern
``rp-hatch-uncertain`` (``riskplan_map.js``), with the level probabilities, the score band and
the figures that drive the unit in the popup; :func:`legend_parts` adds its legend entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import geopandas as gpd

from . import _layers as lyr
from .words import level_label, tr

__all__ = ["UNCERTAIN_COLOUR", "legend_parts", "uncertainty_spec"]

#: Colour of the hatch lines and outline of uncertain units.
UNCERTAIN_COLOUR = "#333333"

_PROPS = {
    "uid": "id",
    "level": "lv",
    "level_likely": "ll",
    "level_probability": "lp",
    "p_red": "pr",
    "p_orange": "po",
    "p_yellow": "py",
    "p_blue": "pb",
    "score_p05": "s05",
    "score_p95": "s95",
    "rank_p05": "r05",
    "rank_p95": "r95",
    "drivers": "dr",
}


def _fields() -> list[list[str]]:
    return [
        ["lv", tr("unc_f_level_on_map"), ""],
        ["ll", tr("unc_f_likeliest"), ""],
        ["lp", tr("unc_f_probability"), "pct"],
        ["pr", tr("unc_f_p_red"), "pct"],
        ["po", tr("unc_f_p_orange"), "pct"],
        ["py", tr("unc_f_p_yellow"), "pct"],
        ["pb", tr("unc_f_p_blue"), "pct"],
        ["s05", tr("unc_f_score_p05"), ".2"],
        ["s95", tr("unc_f_score_p95"), ".2"],
        ["r05", tr("unc_f_rank_p05"), "int"],
        ["r95", tr("unc_f_rank_p95"), "int"],
        ["dr", tr("unc_f_drivers"), ""],
    ]


def uncertainty_spec(units: gpd.GeoDataFrame, display: lyr.Display) -> lyr.Spec | None:
    """The layer ``uncertain``: the units whose level is uncertain, hatched; None when none are.

    Parameters
    ----------
    units
        The ``units`` of a :class:`risk_models.sensitivity.SensitivityResult` (or the layer
        ``risk_uncertainty`` read back): ``uncertain``, ``p_*``, bands and ``drivers``.
    display
        How the map draws geometries.

    Examples
    --------
    >>> import shapely
    >>> u = gpd.GeoDataFrame({"uncertain": [True, False], "level": ["red", "blue"], "p_red": [0.6, 0.0]},
    ...                      geometry=[shapely.box(0, 0, 5, 5), shapely.box(5, 0, 10, 5)], crs=32650)
    >>> spec = uncertainty_spec(u, lyr.Display(simplify_m=5, decimals=5, gcj02=False))
    >>> spec["cls"], len(spec["data"]["features"])
    ('rp-uncertain', 1)
    """
    if "uncertain" not in units.columns:
        return None
    shown = units[units["uncertain"].astype(bool)].copy()
    if not len(shown):
        return None
    shown["uid"] = shown.index.astype(str)
    for c in ("level", "level_likely"):
        if c in shown.columns:
            shown[c] = shown[c].astype(str).map(level_label)
    fields = _fields()
    tip = {"title": "id", "prefix": tr("unc_prefix"), "fields": fields[:3]}
    return {
        "id": "uncertain",
        "kind": "polygon",
        "cls": "rp-uncertain",
        "style": {"color": UNCERTAIN_COLOUR, "weight": 1.2, "opacity": 0.9, "fillOpacity": 0.85},
        "tooltip": tip,
        "popup": {"title": "id", "prefix": tr("unc_prefix"), "fields": fields},
        "data": lyr.feature_collection(shown, _PROPS, display, digits=3),
    }


def legend_parts(style: Mapping[str, Any], present: set[str]) -> list[str]:
    """The legend entry of the hatched uncertain units, when the layer is on the map."""
    if "uncertain" not in present:
        return []
    hatch = f"repeating-linear-gradient(-45deg,{UNCERTAIN_COLOUR} 0 1.5px,transparent 1.5px 5px)"
    share = style.get("uncertainty", {}).get("certain_probability", 0.7)
    label = tr("unc_legend", share=f"{share:.0%}")
    return [
        '<div class="rp-row"><span class="rp-sw" style="background:'
        f'{hatch};border-color:{UNCERTAIN_COLOUR}"></span><span>{escape(label)}</span></div>'
    ]
