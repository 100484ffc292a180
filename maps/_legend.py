"""Legend and title of the interactive map, as escaped HTML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._closure_layers import legend_parts as closure_legend
from ._communities import legend_parts as community_legend
from ._flood_layers import legend_parts as flood_legend
from ._register import legend_parts
from ._style import LEVELS_HIGH_FIRST, badge_svg, symbol_svg
from ._uncertainty import legend_parts as uncertainty_legend
from .words import category_label, level_legend, term_label, tr

if TYPE_CHECKING:
    from planning.coverage import CoverageResult
    from risk_models.community_safety import SafetyStandard
    from risk_models.model import RiskResult

__all__ = ["legend_html", "title_html", "tradeoff_html"]


def _row(symbol: str, label: str) -> str:
    return f'<div class="rp-row">{symbol}<span>{escape(label)}</span></div>'


def _swatch(fill: str, *, border: str = "#777", opacity: float = 1.0, dashed: bool = False) -> str:
    style = f"background:{fill};opacity:{opacity};border-color:{border}"  # fill: a colour or a CSS gradient
    if dashed:
        style += ";border-style:dashed;border-width:2px"
    return f'<span class="rp-sw" style="{style}"></span>'


def tradeoff_html(tradeoff: pd.DataFrame) -> str:
    """A small table of coverage against the number of new stations.

    Examples
    --------
    >>> t = pd.DataFrame({"n_new": [0, 1], "coverage_share": [0.5, 0.7], "mean_response_s": [400, 320]})
    >>> "70%" in tradeoff_html(t)
    True
    """
    rows = "".join(
        f"<tr><td>{int(r['n_new'])}</td><td>{float(r['coverage_share']):.0%}</td>"
        f"<td>{escape(tr('minutes', minutes=format(float(r['mean_response_s']) / 60, '.1f')))}</td></tr>"
        for _, r in tradeoff.sort_values("n_new").iterrows()
    )
    return (
        f'<table class="rp-tradeoff"><tr><th>{escape(tr("map_tradeoff_new"))}</th>'
        f"<th>{escape(tr('map_tradeoff_covered'))}</th><th>{escape(tr('map_tradeoff_mean'))}</th></tr>"
        f"{rows}</table>"
    )


def legend_html(
    style: Mapping[str, Any],
    *,
    present: Iterable[str],
    specs: list[dict[str, Any]],
    coverage: CoverageResult | None = None,
    tradeoff: pd.DataFrame | None = None,
    safety_standard: SafetyStandard | None = None,
) -> str:
    """The legend: one section per kind of layer on the map (``safety_standard``: its grades)."""
    present = set(present)
    parts = [f"<details open><summary>{escape(tr('map_legend'))}</summary>"]
    if "units" in present:
        parts.append(f"<h4>{escape(tr('map_legend_risk_level'))}</h4>")
        for lv in LEVELS_HIGH_FIRST:
            spec = style["risk_levels"][lv]
            parts.append(_row(_swatch(spec["colour"], opacity=0.75), level_legend(lv)))
        parts.extend(uncertainty_legend(style, present))
    if "hazards" in present:
        hz = next(s for s in specs if s["id"] == "hazards")
        used = {str(f["properties"].get("ic", "")).split("|")[0] for f in hz["data"]["features"]}
        parts.append(f"<h4>{escape(tr('map_legend_hazards'))}</h4>")
        for key, cat in style["hazard_categories"].items():
            if key in used:
                parts.append(
                    _row(symbol_svg(cat["shape"], cat["colour"], size=14), category_label(key, cat["label"]))
                )
        if "hazard_areas" in present:
            parts.append(
                _row(
                    _swatch("rgba(120,120,120,0.25)", border="#555"),
                    tr("map_legend_site_area"),
                )
            )
        ring = style["rectification"]["open_ring"]
        parts.append(_row(symbol_svg("circle", "#bbbbbb", size=14, ring=ring), tr("map_legend_open")))
        if hz.get("cluster"):
            parts.append(
                _row(
                    '<span class="rp-sw" style="border-radius:50%;background:#3c3c50"></span>',
                    tr("map_legend_cluster"),
                )
            )
    parts.extend(community_legend(style, present, specs, safety_standard))
    parts.extend(legend_parts(style, present, specs))
    parts.extend(flood_legend(style, present, specs))
    parts.append(f"<h4>{escape(tr('map_legend_response'))}</h4>")
    if "stations" in present:
        parts.append(_row(badge_svg("F", style["stations"]["colour"], size=16), tr("map_layer_stations")))
    if "proposed" in present:
        parts.append(
            _row(badge_svg("+", style["proposed"]["colour"], size=18, shape="star"), tr("map_layer_proposed"))
        )
    if "depots" in present:
        parts.append(_row(badge_svg("D", style["depots"]["colour"], size=16), tr("map_layer_depots")))
    if "communities" in present:
        cs = style["communities"]
        std = (
            tr("map_in_brackets", text=tr("minutes", minutes=f"{coverage.standard.response_s / 60:g}"))
            if coverage is not None
            else ""
        )
        circle = '<svg width="14" height="14"><circle cx="7" cy="7" r="5.5" fill="{}" stroke="#333"/></svg>'
        parts.append(_row(circle.format(cs["covered_fill"]), tr("map_legend_reached", standard=std)))
        parts.append(_row(circle.format(cs["uncovered_fill"]), tr("map_legend_not_reached")))
    if "uncovered" in present:
        colour = style["uncovered"]["colour"]
        hatch = f"repeating-linear-gradient(45deg,{colour} 0 2px,transparent 2px 6px)"
        parts.append(_row(_swatch(hatch, border=colour, dashed=True), tr("map_layer_uncovered")))
    if "isochrones" in present:
        iso = next(s for s in specs if s["id"] == "isochrones")
        for key, value in sorted(iso["styleBy"]["values"].items(), key=lambda kv: float(kv[0])):
            parts.append(_row(_swatch(value["fillColor"], opacity=0.6), tr("map_legend_within", minutes=key)))
    if "districts" in present:
        parts.append(_row('<span class="rp-ln"></span>', term_label("fire_station_district")))
    parts.extend(closure_legend(present, specs))
    if tradeoff is not None and len(tradeoff):
        parts.append(f"<h4>{escape(tr('map_legend_new_stations'))}</h4>")
        parts.append(tradeoff_html(tradeoff))
    parts.append("</details>")
    return "".join(parts)


def title_html(
    label: str,
    *,
    coverage: CoverageResult | None,
    risk: RiskResult | None,
    gcj02: bool,
    notes: Iterable[str] = (),
) -> str:
    """The title box: scenario (synthetic says so), standard, coordinate system, data notes.

    Examples
    --------
    >>> title_html("Demo City (synthetic)", coverage=None, risk=None, gcj02=False)[:28]
    '<b>Demo City (synthetic)</b>'
    """
    lines = [f"<b>{escape(label)}</b>"]
    if coverage is not None:
        std = coverage.standard
        lines.append(escape(tr("map_title_standard", name=std.name, minutes=f"{std.response_s / 60:g}")))
    if risk is not None:
        lines.append(escape(tr("map_title_units", units=risk.units_spec)))
    lines.append(escape(tr("map_title_gcj02") if gcj02 else tr("map_title_wgs84")))
    out = lines[0] + "".join(f'<div class="rp-sub">{line}</div>' for line in lines[1:])
    notes = list(notes)
    if notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        out += (
            f'<details class="rp-sub rp-notes"><summary>{escape(tr("map_title_notes", count=len(notes)))}'
            "</summary>"
            f"<ul>{items}</ul></details>"
        )
    return out
