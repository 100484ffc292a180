"""Static figures of the hazard register for the report and print (matplotlib, Agg, PNG).

- :func:`four_colour_figure`: the safety risk distribution map (安全风险四色分布图) of the
  hazard sources by risk grade, in red / orange / yellow / blue.
- :func:`register_trend_figure`: the city's dangers found and closed per month, with the
  on-time closure rate and the items overdue at each month's end.
- :func:`ranking_figure`: an assessment's ranking (四评估) as bars, best at the top.

Built on :class:`matplotlib.figure.Figure` (no pyplot), as :mod:`maps.figures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gis.tables import TableOverrides
from risk_models.register.vocab import COLOURS, RISK_GRADES

from ._style import load_style
from .figures import _figure, _scale_bar, drawn_in
from .words import month_text, risk_grade_label, tr

if TYPE_CHECKING:
    from risk_models.register import Assessment, RegisterMonth

__all__ = ["four_colour_figure", "ranking_figure", "register_trend_figure"]


def four_colour_figure(
    month: RegisterMonth,
    *,
    communities: gpd.GeoDataFrame | None = None,
    map_style: TableOverrides = None,
    lang: str | None = None,
) -> Figure:
    """The four-colour safety risk distribution map of the register's graded hazard sources.

    ``lang``: as :func:`maps.risk_figure`'s.

    Sources mapped as areas are filled in their grade's colour, point sources drawn as dots;
    ``communities`` (outlines) give the city's shape.

    Raises
    ------
    ValueError
        The register month has no risk grades (no risk assessments were given).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import register_month, synthetic_assessments, synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> rows = synthetic_assessments(city["hazards"], seed=1)
    >>> m = register_month(reg.items, reg.events, hazards=city["hazards"], risk_assessments=rows, by=())
    >>> fig = four_colour_figure(m, communities=city["communities"], lang="en")
    >>> [t.get_text().split(" (")[0] for t in fig.axes[0].get_legend().get_texts()][:2]
    ['Major risk point', 'High risk point']
    """
    grades = month.risk_grades
    if grades is None or grades["grade"].isna().all():
        msg = (
            "The register month has no risk grades. Fix: give `risk_assessments` to "
            "`register_month` (LEC or matrix rows, risk_grading.toml)."
        )
        raise ValueError(msg)
    return drawn_in(lang, lambda: _four_colour(grades, communities, map_style), place=grades)


def _four_colour(
    grades: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None, map_style: TableOverrides
) -> Figure:
    st = load_style(map_style)
    g = grades[grades["grade"].notna()]
    crs = g.crs
    fig = _figure(7.5, 7.0)
    ax = fig.add_subplot()
    if communities is not None and len(communities):
        communities.to_crs(crs).boundary.plot(ax=ax, color="#bdbdbd", linewidth=0.4)
    handles: list[Any] = []
    for grade in reversed(RISK_GRADES):  # the worst on top
        sel = g[g["grade"] == grade]
        if not len(sel):
            continue
        colour = st["risk_levels"][str(sel["colour"].iloc[0])]["colour"]
        areas = sel[sel.geom_type.isin(["Polygon", "MultiPolygon"])]
        if len(areas):
            areas.plot(ax=ax, color=colour, edgecolor="#333333", linewidth=0.4, zorder=2)
        pts = sel.geometry.representative_point()
        ax.scatter(pts.x, pts.y, s=22, c=colour, edgecolors="#333333", linewidths=0.4, zorder=3)
    for grade, colour in zip(RISK_GRADES, COLOURS, strict=True):
        n = int((g["grade"] == grade).sum())
        label = risk_grade_label(grade)
        fill = st["risk_levels"][colour]["colour"]
        handles.append(Patch(facecolor=fill, edgecolor="#333333", label=f"{label} ({n})"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    _scale_bar(ax, g)
    ax.set_axis_off()
    ax.set_title(tr("reg_fig_four_colour_title", count=len(g)), fontsize=10)
    return fig


def register_trend_figure(month: RegisterMonth, *, lang: str | None = None) -> Figure:
    """Dangers found and closed per month (bars), on-time closure rate and overdue items (lines).

    ``lang``: as :func:`maps.risk_figure`'s (None outside a report: English).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import register_month, synthetic_register
    >>> reg = synthetic_register(city, seed=1, n_items=120)
    >>> fig = register_trend_figure(register_month(reg.items, reg.events, by=["district"]))
    >>> fig.axes[0].get_ylabel()
    'Dangers per month'
    """
    city = next(iter(month.assessments.values())).city if month.assessments else None
    if city is None:
        msg = "The register month has no assessment to draw a trend of. Fix: assess by at least one column."
        raise ValueError(msg)
    return drawn_in(lang, lambda: _trend(month, city))


def _trend(month: RegisterMonth, city: pd.DataFrame) -> Figure:
    x = np.arange(len(city))
    fig = _figure(6.5, 3.9)
    ax = fig.add_subplot()
    ax.bar(x - 0.2, city["found"], width=0.4, color="#6a8caf", label=tr("reg_col_found"))
    ax.bar(x + 0.2, city["closed"], width=0.4, color="#238b45", label=tr("reg_col_closed"))
    ax.plot(x, city["overdue_now"], color="#e31a1c", marker="o", ms=3, label=tr("reg_fig_overdue_end"))
    ax.set_xticks(x, [str(m)[2:] for m in city.index], fontsize=7, rotation=45)
    ax.set_ylabel(tr("reg_fig_per_month"))
    ax2 = ax.twinx()
    ax2.plot(x, 100 * city["on_time_rate"], color="#555555", ls=":", marker="s", ms=3)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(tr("reg_fig_on_time_pct"), color="#555555")
    handles = [*ax.get_legend_handles_labels()[0], Line2D([], [], color="#555555", ls=":", marker="s")]
    labels = [*ax.get_legend_handles_labels()[1], tr("reg_fig_on_time_pct")]
    ax.legend(
        handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4, frameon=False
    )
    ax.set_title(tr("reg_fig_trend_title", month=month_text(month.month)), fontsize=10)
    return fig


def ranking_figure(assessment: Assessment, *, limit: int = 15, lang: str | None = None) -> Figure:
    """An assessment's ranking scores as horizontal bars, rank 1 at the top (``limit`` groups).

    ``lang``: as :func:`maps.risk_figure`'s (None outside a report: English).

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> table = pd.DataFrame({"score": [82.0, 61.5], "rank": [1, 2]}, index=pd.Index(["North", "South"]))
    >>> fig = ranking_figure(SimpleNamespace(table=table, by="district", month="2026-03"))
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['South', 'North']
    """
    return drawn_in(lang, lambda: _ranking(assessment, limit))


def _ranking(assessment: Assessment, limit: int) -> Figure:
    table = assessment.table.head(limit).iloc[::-1]
    fig = _figure(6.5, 0.6 + 0.3 * max(len(table), 3))
    ax = fig.add_subplot()
    score = table["score"].astype(float).fillna(0.0)
    colours = ["#1a9850" if s >= 80 else "#fee08b" if s >= 60 else "#d73027" for s in score]
    ax.barh([str(i) for i in table.index], score, color=colours, edgecolor="white")
    for y, (s, r) in enumerate(zip(score, table["rank"], strict=True)):
        ax.text(s + 1, y, f"#{int(r)}  {s:.0f}", va="center", fontsize=7)
    ax.set_xlim(0, 110)
    ax.set_xlabel(tr("reg_fig_score_x"))
    ax.tick_params(axis="y", labelsize=7)
    what = by_word(assessment.by)
    ax.set_title(tr("reg_fig_ranking_title", by=what, month=month_text(assessment.month)), fontsize=10)
    return fig


def by_word(by: str) -> str:
    """The name of an assessment's grouping column (district -> 区县 / district)."""
    names = {
        "district": tr("district"),
        "street": tr("street"),
        "department_unit": tr("industry_department"),
        "territorial_unit": tr("territorial_government"),
        "enterprise_id": tr("reg_enterprise"),
    }
    return names.get(by, by.replace("_", " "))
