"""Static figures for print (matplotlib, Agg, PNG): risk map, response times, trade-off, levels.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot), so concurrent
requests never share state; :func:`figure_png` turns one into PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from gis.atomic import atomic_path
from gis.errors import InputError
from gis.i18n import resolve_lang
from gis.tables import TableOverrides

from ._style import LEVELS_HIGH_FIRST, load_style
from .fonts import figure_font
from .words import level_legend, speaking, spoken_lang, tr

if TYPE_CHECKING:
    from planning.coverage import CoverageResult
    from risk_models.model import RiskResult

__all__ = [
    "district_levels_figure",
    "drawn_in",
    "figure_png",
    "response_time_figure",
    "risk_figure",
    "save_figure",
    "tradeoff_figure",
]


def _figure(width_in: float, height_in: float) -> Figure:
    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def drawn_in(lang: str | None, build: Callable[[], Figure], *, place: Any = None) -> Figure:
    """A figure built by ``build`` in ``lang``, its text in a font that has the glyphs.

    ``lang`` None: the language of the output being drawn (the report's), else by the rule of
    :func:`gis.i18n.resolve_lang` with the place of ``place`` (a GeoDataFrame: Chinese in China).
    Chinese needs a CJK font (:func:`maps.fonts.figure_font`): without one the figure is drawn in
    English, with a warning.
    The font is set on the figure's own texts and tick labels, not in matplotlib's global rc
    settings, so figures drawn at the same time never share a font setting.
    """
    # the rule of gis.i18n.resolve_lang, inside an output already speaking (the report) its language
    wanted = resolve_lang(lang) if lang else spoken_lang() or resolve_lang(scenario={"units": place})
    actual, rc = figure_font(wanted)
    with speaking(actual):
        fig = build()
    families = rc.get("font.sans-serif")
    if families:
        for text in fig.findobj(Text):
            text.set_fontfamily(families)
        for ax in fig.axes:
            ax.tick_params(labelfontfamily=families[0])
    return fig


def _paint_levels(ax: Any, units: gpd.GeoDataFrame, colours: dict[str, str], pixels: int = 1000) -> None:
    """Draw the units' risk levels as an image of ``pixels`` on the long side (each pixel: its unit).

    A pixel takes the level of the unit its centre lies in (one STRtree query for all pixels).
    """
    from matplotlib.colors import to_rgba

    x0, y0, x1, y1 = units.total_bounds
    size = max(x1 - x0, y1 - y0) / pixels
    nx_, ny_ = max(1, int(np.ceil((x1 - x0) / size))), max(1, int(np.ceil((y1 - y0) / size)))
    names = list(colours)
    code = units["level"].astype(str).map({n: i + 1 for i, n in enumerate(names)}).fillna(len(names) + 1)
    cx = x0 + (np.arange(nx_) + 0.5) * size
    cy = y0 + ny_ * size - (np.arange(ny_) + 0.5) * size  # row 0 at the top
    centres = shapely.points(np.tile(cx, ny_), np.repeat(cy, nx_))
    pix, unit = shapely.STRtree(units.geometry.to_numpy()).query(centres, predicate="within")
    image = np.zeros(nx_ * ny_, dtype=np.uint8)
    image[pix] = code.astype(int).to_numpy()[unit]
    palette = np.array([(0, 0, 0, 0), *(to_rgba(colours[n]) for n in names), to_rgba("#cccccc")])
    ax.imshow(
        palette[image.reshape(ny_, nx_)],
        extent=(x0, x0 + nx_ * size, y0, y0 + ny_ * size),
        interpolation="nearest",
    )


def risk_figure(
    risk: RiskResult,
    *,
    coverage: CoverageResult | None = None,
    hazards: gpd.GeoDataFrame | None = None,
    map_style: TableOverrides = None,
    lang: str | None = None,
) -> Figure:
    """A print map of the risk units by level, with stations, hazards and a scale bar.

    Colours come from ``maps/data/map_style.toml``, overridden by ``map_style``. ``lang``
    (``"zh"`` / ``"en"``; None: the report's language, else by the units' place) is the
    language of its title and legend (:func:`drawn_in`).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models import score_scenario
    >>> fig = risk_figure(score_scenario(city, learn=False))
    >>> len(figure_png(fig)) > 10_000
    True
    """
    return drawn_in(
        lang,
        lambda: _risk_figure(risk, coverage=coverage, hazards=hazards, map_style=map_style),
        place=risk.units,
    )


def _risk_figure(
    risk: RiskResult,
    *,
    coverage: CoverageResult | None,
    hazards: gpd.GeoDataFrame | None,
    map_style: TableOverrides,
) -> Figure:
    st = load_style(map_style)
    units = risk.units
    fig = _figure(7.5, 7.0)
    ax = fig.add_subplot()
    level_colours = {k: v["colour"] for k, v in st["risk_levels"].items()}
    budget = int(st["display"]["max_polygons"])
    if budget and len(units) > budget:
        # a province's grid: painted as an image of the units' levels at the figure's resolution
        # (hundreds of thousands of polygon patches take minutes to draw and show as outlines)
        _paint_levels(ax, units, level_colours)
    else:
        colours = units["level"].astype(str).map(level_colours)
        units.plot(ax=ax, color=colours.fillna("#cccccc").to_list(), edgecolor="white", linewidth=0.3)
    handles: list[Any] = [
        Patch(facecolor=st["risk_levels"][lv]["colour"], label=level_legend(lv)) for lv in LEVELS_HIGH_FIRST
    ]
    haz = hazards if hazards is not None else risk.hazards
    if haz is not None and len(haz):
        pts = haz.to_crs(units.crs).geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=5, c="#333333", marker=".", linewidths=0, zorder=3)
        handles.append(Line2D([], [], ls="", marker=".", color="#333333", label=tr("fig_hazard_source")))
    if coverage is not None and len(coverage.stations):
        stp = coverage.stations.to_crs(units.crs).geometry
        ax.scatter(stp.x, stp.y, s=60, c=st["stations"]["colour"], marker="s", edgecolors="white", zorder=4)
        handles.append(
            Line2D([], [], ls="", marker="s", color=st["stations"]["colour"], label=tr("fig_fire_station"))
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    _scale_bar(ax, units)
    ax.set_axis_off()
    title = tr("fig_risk_title", label=risk.label or tr("map_scenario"), units=risk.units_spec)
    ax.set_title(title, fontsize=10)
    return fig


def _scale_bar(ax: Any, gdf: gpd.GeoDataFrame) -> None:
    if gdf.crs is None or gdf.crs.is_geographic:
        return
    x0, y0, x1, y1 = gdf.total_bounds
    span = (x1 - x0) / 4
    length = 10 ** np.floor(np.log10(span))
    length *= 5 if span / length >= 5 else 2 if span / length >= 2 else 1
    x, y = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.04
    ax.plot([x, x + length], [y, y], color="black", lw=3, solid_capstyle="butt", zorder=5)
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x + length / 2, y + (y1 - y0) * 0.012, text, ha="center", va="bottom", fontsize=8, zorder=5)


def response_time_figure(
    coverage: CoverageResult,
    *,
    layer: str = "communities",
    weight_column: str | None = "population",
    lang: str | None = None,
) -> Figure:
    """Histogram of first-engine response times with the standard's line.

    Each place of ``layer`` counts with its ``weight_column`` (residents by default; None or a
    missing column counts places). ``lang``: as :func:`risk_figure`'s.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> std = SimpleNamespace(name="cn-gb51080", response_s=300.0)
    >>> cov = SimpleNamespace(standard=std, communities=pd.DataFrame(
    ...     {"response_time_s": [120.0, 280.0, 420.0, np.inf], "population": [10, 20, 30, 5]}))
    >>> fig = response_time_figure(cov)
    >>> fig.axes[0].get_xlabel()
    'First-engine response time (min)'
    """
    return drawn_in(lang, lambda: _response_time_figure(coverage, layer, weight_column))


def _response_time_figure(coverage: CoverageResult, layer: str, weight_column: str | None) -> Figure:
    table = getattr(coverage, layer)
    t = table["response_time_s"].to_numpy(float)
    w = table[weight_column].to_numpy(float) if weight_column and weight_column in table else np.ones(len(t))
    finite = np.isfinite(t)
    std = coverage.standard
    fig = _figure(6.5, 3.6)
    ax = fig.add_subplot()
    if finite.any():
        ax.hist(t[finite] / 60, bins=30, weights=w[finite], color="#6a8caf", edgecolor="white")
    ax.axvline(std.response_s / 60, color="#e31a1c", lw=2, ls="--")
    share = float(w[finite & (t <= std.response_s)].sum() / w.sum()) if w.sum() > 0 else float("nan")
    ax.text(
        std.response_s / 60,
        ax.get_ylim()[1] * 0.95,
        tr("fig_standard_line", name=std.name, minutes=f"{std.response_s / 60:g}", share=f"{share:.0%}"),
        color="#e31a1c",
        va="top",
        fontsize=8,
    )
    if (~finite).any():
        ax.text(
            0.99,
            0.95,
            tr("fig_not_reached", count=f"{w[~finite].sum():,.0f}"),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )
    ax.set_xlabel(tr("fig_response_xlabel"))
    weighted = bool(weight_column and weight_column in table)
    if weighted and weight_column == "population":
        ylabel = tr("map_f_residents")
    elif weighted:
        ylabel = str(weight_column).capitalize()
    else:
        ylabel = tr("fig_places", layer=_layer_word(layer))
    ax.set_ylabel(ylabel)
    ax.set_title(tr("fig_response_title", layer=_layer_word(layer)), fontsize=10)
    return fig


def _layer_word(layer: str) -> str:
    names = {"communities": tr("fig_layer_communities"), "hazards": tr("fig_layer_hazards")}
    return names.get(layer, layer)


def tradeoff_figure(
    tradeoff: pd.DataFrame, *, required_share: float | None = None, lang: str | None = None
) -> Figure:
    """Coverage (and mean response time) against the number of new stations.

    ``lang``: as :func:`risk_figure`'s.

    Examples
    --------
    >>> t = pd.DataFrame({"n_new": [0, 1, 2], "coverage_share": [0.55, 0.7, 0.8],
    ...                   "mean_response_s": [420.0, 360.0, 330.0]})
    >>> len(tradeoff_figure(t).axes)
    2
    """
    missing = {"n_new", "coverage_share"} - set(tradeoff.columns)
    if missing:
        msg = (
            f"The trade-off table lacks {sorted(missing)}. Fix: give n_new, coverage_share, mean_response_s."
        )
        raise InputError(msg)
    return drawn_in(lang, lambda: _tradeoff_figure(tradeoff, required_share))


def _tradeoff_figure(tradeoff: pd.DataFrame, required_share: float | None) -> Figure:
    t = tradeoff.sort_values("n_new")
    fig = _figure(6.5, 3.6)
    ax = fig.add_subplot()
    ax.plot(t["n_new"], 100 * t["coverage_share"], marker="o", color="#1a9850", label=tr("fig_coverage"))
    if required_share is not None:
        ax.axhline(100 * required_share, color="#e31a1c", ls="--", lw=1, label=tr("fig_standard"))
    ax.set_xlabel(tr("fig_new_stations"))
    ax.set_ylabel(tr("fig_covered_pct"), color="#1a9850")
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    if "mean_response_s" in t:
        ax2.plot(
            t["n_new"],
            t["mean_response_s"] / 60,
            marker="s",
            color="#555555",
            ls=":",
            label=tr("fig_mean_response"),
        )
    ax2.set_ylabel(tr("fig_mean_response_min"), color="#555555")
    ax.set_title(tr("fig_tradeoff_title"), fontsize=10)
    return fig


def _unit_districts(
    risk: RiskResult, communities: gpd.GeoDataFrame | None, coverage: CoverageResult | None
) -> pd.Series:
    units = risk.units
    pts = gpd.GeoSeries(shapely.point_on_surface(units.geometry.to_numpy()), index=units.index, crs=units.crs)
    if communities is not None and "district" in communities and communities["district"].notna().any():
        com = communities.to_crs(units.crs)
        pos_pt, pos_c = shapely.STRtree(com.geometry.to_numpy()).query(pts.to_numpy(), predicate="within")
        owner = pd.Series(com["district"].to_numpy()[pos_c], index=units.index[pos_pt])
        return owner[~owner.index.duplicated()].reindex(units.index).fillna(tr("fig_no_district")).astype(str)
    if coverage is not None and len(coverage.districts):
        d = coverage.districts.to_crs(units.crs)
        pos_pt, pos_d = shapely.STRtree(d.geometry.to_numpy()).query(pts.to_numpy(), predicate="within")
        named = {s: tr("fig_station_district", station=s) for s in d.index.astype(str)}
        owner = pd.Series(d.index.astype(str).to_numpy()[pos_d], index=units.index[pos_pt]).map(named)
        return owner[~owner.index.duplicated()].reindex(units.index).fillna(tr("fig_no_district")).astype(str)
    return pd.Series(tr("fig_all"), index=units.index)


def district_levels_figure(
    risk: RiskResult,
    *,
    communities: gpd.GeoDataFrame | None = None,
    coverage: CoverageResult | None = None,
    map_style: TableOverrides = None,
    lang: str | None = None,
) -> Figure:
    """Risk units per level in each district (communities' ``district``, else station districts).

    ``lang``: as :func:`risk_figure`'s.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models import score_scenario
    >>> risk = score_scenario(city, learn=False)
    >>> fig = district_levels_figure(risk, communities=city["communities"], lang="en")
    >>> fig.axes[0].get_xlabel()
    'Risk units'
    """
    return drawn_in(
        lang, lambda: _district_levels_figure(risk, communities, coverage, map_style), place=risk.units
    )


def _district_levels_figure(
    risk: RiskResult,
    communities: gpd.GeoDataFrame | None,
    coverage: CoverageResult | None,
    map_style: TableOverrides,
) -> Figure:
    st = load_style(map_style)
    district = _unit_districts(risk, communities, coverage)
    counts = pd.crosstab(district, risk.units["level"].astype(str)).reindex(
        columns=list(LEVELS_HIGH_FIRST), fill_value=0
    )
    counts = counts.loc[counts.sum(axis=1).sort_values().index]
    fig = _figure(6.5, 0.6 + 0.32 * max(len(counts), 3))
    ax = fig.add_subplot()
    left = np.zeros(len(counts))
    for lv in LEVELS_HIGH_FIRST:
        ax.barh(
            counts.index,
            counts[lv],
            left=left,
            color=st["risk_levels"][lv]["colour"],
            label=level_legend(lv),
            edgecolor="white",
        )
        left += counts[lv].to_numpy()
    ax.set_xlabel(tr("fig_risk_units"))
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(tr("fig_district_title"), fontsize=10)
    return fig


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure as PNG, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(figure_png(fig))
    return path
