"""Legend and title of the interactive map, as escaped HTML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._communities import legend_parts as community_legend
from ._register import legend_parts
from ._style import LEVELS_HIGH_FIRST, badge_svg, symbol_svg
from ._uncertainty import legend_parts as uncertainty_legend

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
        f"<td>{float(r['mean_response_s']) / 60:.1f} min</td></tr>"
        for _, r in tradeoff.sort_values("n_new").iterrows()
    )
    return (
        '<table class="rp-tradeoff"><tr><th>new</th><th>covered</th><th>mean response</th></tr>'
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
    parts = ["<details open><summary>Legend 图例</summary>"]
    if "units" in present:
        parts.append("<h4>Risk level 风险等级</h4>")
        for lv in LEVELS_HIGH_FIRST:
            spec = style["risk_levels"][lv]
            parts.append(_row(_swatch(spec["colour"], opacity=0.75), spec["label"]))
        parts.extend(uncertainty_legend(style, present))
    if "hazards" in present:
        hz = next(s for s in specs if s["id"] == "hazards")
        used = {str(f["properties"].get("ic", "")).split("|")[0] for f in hz["data"]["features"]}
        parts.append("<h4>Hazard sources 危险源</h4>")
        for key, cat in style["hazard_categories"].items():
            if key in used:
                parts.append(_row(symbol_svg(cat["shape"], cat["colour"], size=14), cat["label"]))
        if "hazard_areas" in present:
            parts.append(
                _row(
                    _swatch("rgba(120,120,120,0.25)", border="#555"),
                    "Site area, in its category colour 厂区范围",
                )
            )
        ring = style["rectification"]["open_ring"]
        parts.append(
            _row(symbol_svg("circle", "#bbbbbb", size=14, ring=ring), "Open, not yet rectified 未整改")
        )
        if hz.get("cluster"):
            parts.append(
                _row(
                    '<span class="rp-sw" style="border-radius:50%;background:#3c3c50"></span>',
                    "Cluster of hazards (number inside)",
                )
            )
    parts.extend(community_legend(style, present, specs, safety_standard))
    parts.extend(legend_parts(style, present, specs))
    parts.append("<h4>Response 应急响应</h4>")
    if "stations" in present:
        parts.append(_row(badge_svg("F", style["stations"]["colour"], size=16), style["stations"]["label"]))
    if "proposed" in present:
        parts.append(
            _row(
                badge_svg("+", style["proposed"]["colour"], size=18, shape="star"), style["proposed"]["label"]
            )
        )
    if "depots" in present:
        parts.append(_row(badge_svg("D", style["depots"]["colour"], size=16), style["depots"]["label"]))
    if "communities" in present:
        cs = style["communities"]
        std = f" ({coverage.standard.response_s / 60:g} min)" if coverage is not None else ""
        circle = '<svg width="14" height="14"><circle cx="7" cy="7" r="5.5" fill="{}" stroke="#333"/></svg>'
        parts.append(_row(circle.format(cs["covered_fill"]), f"Community reached in time{std}"))
        parts.append(_row(circle.format(cs["uncovered_fill"]), "Community not reached in time"))
    if "uncovered" in present:
        colour = style["uncovered"]["colour"]
        hatch = f"repeating-linear-gradient(45deg,{colour} 0 2px,transparent 2px 6px)"
        parts.append(_row(_swatch(hatch, border=colour, dashed=True), style["uncovered"]["label"]))
    if "isochrones" in present:
        iso = next(s for s in specs if s["id"] == "isochrones")
        for key, value in sorted(iso["styleBy"]["values"].items(), key=lambda kv: float(kv[0])):
            parts.append(_row(_swatch(value["fillColor"], opacity=0.6), f"Response within {key} min"))
    if "districts" in present:
        parts.append(_row('<span class="rp-ln"></span>', style["districts"]["label"]))
    if tradeoff is not None and len(tradeoff):
        parts.append("<h4>New stations: coverage 新增消防站</h4>")
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
        lines.append(f"Response standard {escape(std.name)}: {std.response_s / 60:g} min")
    if risk is not None:
        lines.append(f"Risk units: {escape(str(risk.units_spec))}")
    lines.append("Coordinates: GCJ-02 (for Chinese base maps)" if gcj02 else "Coordinates: WGS84")
    out = lines[0] + "".join(f'<div class="rp-sub">{line}</div>' for line in lines[1:])
    notes = list(notes)
    if notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in notes)
        out += (
            f'<details class="rp-sub rp-notes"><summary>About the data ({len(notes)})</summary>'
            f"<ul>{items}</ul></details>"
        )
    return out
