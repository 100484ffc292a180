"""The report's section "How sure is this map": the chart, the figures' table and the units."""

from __future__ import annotations

import html

import geopandas as gpd
import pandas as pd

from .report import _img, _table
from .uncertainty_figures import sensitivity_figure

__all__ = ["uncertainty_section"]

_PARAM_COLUMNS = [
    ("parameter", "Figure", ""),
    ("value", "Value", ".3"),
    ("low", "Low", ".3"),
    ("high", "High", ".3"),
    ("mu_star", "Morris mu*", ".3"),
    ("S1", "Sobol S1", ".2"),
    ("ST", "Sobol ST", ".2"),
    ("ST_conf", "ST ± (95%)", ".2"),
    ("source", "Source of the range", ""),
]
_UNIT_COLUMNS = [
    ("unit", "Unit", ""),
    ("level", "Level on the map", ""),
    ("level_likely", "Likeliest level", ""),
    ("level_probability", "Its probability", "pct"),
    ("score_p05", "Score 5%", ".2"),
    ("score_p95", "Score 95%", ".2"),
    ("drivers", "Driven by", ""),
]


def uncertainty_section(
    units: gpd.GeoDataFrame, parameters: pd.DataFrame, notes: tuple[str, ...] | list[str] = ()
) -> str:
    """HTML of the section: how many units are uncertain, the Sobol chart, the tables and notes."""
    n_unc = int(units["uncertain"].astype(bool).sum()) if "uncertain" in units else 0
    parts = [
        '<h2 id="uncertainty">How sure is this map</h2>',
        f"<p>{n_unc} of {len(units)} units have no risk level with at least 70% probability over the "
        "sampled ranges of the model's figures (hatched on the map).</p>",
        '<div class="figs">'
        + _img(sensitivity_figure(parameters), "Sobol indices of the figures")
        + "</div>",
        "<h3>The figures and their ranges</h3>",
    ]
    p = parameters.rename_axis("parameter").reset_index()
    order = [c for c in ("ST", "mu_star") if c in p]
    if order:
        p = p.sort_values(order, ascending=False, na_position="last")
    parts.append(_table(p, _PARAM_COLUMNS, css_id="sensitivity-parameters"))
    if n_unc:
        u = units[units["uncertain"].astype(bool)].drop(columns="geometry").copy()
        u["unit"] = u.index.astype(str)
        u = u.sort_values("level_probability")
        parts.append("<h3>Units whose level is uncertain</h3>")
        parts.append(_table(u, _UNIT_COLUMNS, css_id="uncertain-units", limit=25))
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(parts)
