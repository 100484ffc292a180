"""The report's section "How sure is this map": the chart, the figures' table and the units."""

from __future__ import annotations

import html

import geopandas as gpd
import pandas as pd

from ._html import figure_img, html_table
from .uncertainty_figures import sensitivity_figure
from .words import level_label, tr

__all__ = ["uncertainty_section"]


def _param_columns() -> list[tuple[str, str, str]]:
    return [
        ("parameter", tr("unc_col_figure"), ""),
        ("value", tr("unc_col_value"), ".3"),
        ("low", tr("unc_col_low"), ".3"),
        ("high", tr("unc_col_high"), ".3"),
        ("mu_star", "Morris mu*", ".3"),
        ("S1", "Sobol S1", ".2"),
        ("ST", "Sobol ST", ".2"),
        ("ST_conf", "ST ± (95%)", ".2"),
        ("source", tr("unc_col_source"), ""),
    ]


def _unit_columns() -> list[tuple[str, str, str]]:
    return [
        ("unit", tr("map_f_unit"), ""),
        ("level", tr("unc_f_level_on_map"), ""),
        ("level_likely", tr("unc_f_likeliest"), ""),
        ("level_probability", tr("unc_f_probability"), "pct"),
        ("score_p05", tr("unc_f_score_p05"), ".2"),
        ("score_p95", tr("unc_f_score_p95"), ".2"),
        ("drivers", tr("unc_col_drivers"), ""),
    ]


def uncertainty_section(
    units: gpd.GeoDataFrame, parameters: pd.DataFrame, notes: tuple[str, ...] | list[str] = ()
) -> str:
    """HTML of the section: how many units are uncertain, the Sobol chart, the tables and notes."""
    n_unc = int(units["uncertain"].astype(bool).sum()) if "uncertain" in units else 0
    parts = [
        f'<h2 id="uncertainty">{html.escape(tr("unc_h"))}</h2>',
        f"<p>{html.escape(tr('unc_summary', uncertain=n_unc, units=len(units)))}</p>",
        '<div class="figs">' + figure_img(sensitivity_figure(parameters), tr("unc_fig_alt")) + "</div>",
        f"<h3>{html.escape(tr('unc_h_figures'))}</h3>",
    ]
    p = parameters.rename_axis("parameter").reset_index()
    order = [c for c in ("ST", "mu_star") if c in p]
    if order:
        p = p.sort_values(order, ascending=False, na_position="last")
    parts.append(html_table(p, _param_columns(), css_id="sensitivity-parameters"))
    if n_unc:
        u = units[units["uncertain"].astype(bool)].drop(columns="geometry").copy()
        u["unit"] = u.index.astype(str)
        u = u.sort_values("level_probability")
        for c in ("level", "level_likely"):
            if c in u.columns:
                u[c] = u[c].astype(str).map(level_label)
        parts.append(f"<h3>{html.escape(tr('unc_h_units'))}</h3>")
        parts.append(html_table(u, _unit_columns(), css_id="uncertain-units", limit=25))
    if notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    return "\n".join(parts)
