"""Static figures of the community safety survey for the report and print (matplotlib, Agg, PNG).

- :func:`community_safety_figure`: the print map of every surveyed community's latest score,
  filled by its grade (the colours of the interactive map), with the planned upgrades and the
  demonstration communities marked;
- :func:`failed_sections_figure`: the failed items of the latest surveys by section, as bars.

Built on :class:`matplotlib.figure.Figure` (no pyplot), as :mod:`maps.figures`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gis.tables import TableOverrides
from gis.validate import index_by_id

from ._communities import grade_colours, grade_labels, latest_failed
from ._style import load_style
from .figures import _figure, _scale_bar, drawn_in
from .words import current_lang, tr

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ._communities import CommunitySafetyLike

__all__ = ["community_safety_figure", "failed_sections_figure"]


def community_safety_figure(
    assessment: CommunitySafetyLike,
    communities: gpd.GeoDataFrame,
    *,
    map_style: TableOverrides = None,
    lang: str | None = None,
) -> Figure:
    """A print map of the surveyed communities by grade, with planned upgrades and demonstration ones.

    ``lang``: as :func:`maps.risk_figure`'s.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from types import SimpleNamespace
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
    >>> run = SimpleNamespace(standard=safety.standard, safety=safety, budget=None, plan=None,
    ...                       after=None, demonstration=None)
    >>> fig = community_safety_figure(run, city["communities"], lang="en")
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()][0]
    'Excellent (90 and above): 5'
    """
    return drawn_in(lang, lambda: _community_safety(assessment, communities, map_style), place=communities)


def _community_safety(
    assessment: CommunitySafetyLike, communities: gpd.GeoDataFrame, map_style: TableOverrides
) -> Figure:
    st = load_style(map_style)
    cs = st["community_safety"]
    layer = index_by_id(communities)
    layer = layer.set_axis(layer.index.astype(str))
    latest = assessment.safety.latest()
    latest = latest.set_axis(latest.index.astype(str))
    colours = grade_colours(assessment.standard, st)
    labels = grade_labels(assessment.standard)
    fig = _figure(7.5, 7.0)
    ax = fig.add_subplot()
    layer.boundary.plot(ax=ax, color="#bdbdbd", linewidth=0.4)
    surveyed = layer.loc[layer.index.isin(latest.index)]
    grade = latest["grade"].astype(str).reindex(surveyed.index)
    handles: list[Any] = []
    if len(surveyed):
        fill = grade.map(colours).fillna("#cccccc")
        surveyed.plot(ax=ax, color=fill.to_list(), edgecolor="white", linewidth=0.3, alpha=0.9)
    for g, colour in colours.items():
        n = int((grade == g).sum())
        handles.append(Patch(facecolor=colour, edgecolor="#555555", label=f"{labels[g]}: {n}"))
    plan = assessment.plan
    if plan is not None and len(plan.chosen):
        ids = plan.chosen["community_id"].astype(str).unique()
        pts = layer.loc[layer.index.isin(ids)].geometry.representative_point()
        colour = cs["upgrades"]["colour"]
        ax.scatter(pts.x, pts.y, s=10, c=colour, marker="o", linewidths=0, zorder=3)
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                color=colour,
                label=f"{tr('map_layer_upgrades')}: {len(pts)}",
            )
        )
    demo = assessment.demonstration
    if demo is not None and len(demo.chosen):
        ids = demo.chosen.index.astype(str)
        pts = layer.loc[layer.index.isin(ids)].geometry.representative_point()
        colour = cs["demonstration"]["colour"]
        ax.scatter(pts.x, pts.y, s=110, c=colour, marker="*", edgecolors="white", linewidths=0.6, zorder=4)
        label = f"{tr('safety_demonstration_community')}: {len(pts)}"
        handles.append(Line2D([], [], ls="", marker="*", ms=10, color=colour, label=label))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        frameon=False,
        title=tr("cs_fig_legend_title", count=len(surveyed), pass_mark=f"{assessment.standard.pass_mark:g}"),
        title_fontsize=7,
    )
    _scale_bar(ax, layer)
    ax.set_axis_off()
    tag = tr("cs_fig_synthetic") if assessment.safety.synthetic else ""
    ax.set_title(tr("cs_fig_scores") + tag, fontsize=10)
    return fig


def failed_sections_figure(assessment: CommunitySafetyLike, *, lang: str | None = None) -> Figure:
    """The failed items of each community's latest survey, by section (bars, most failed on top).

    ``lang``: as :func:`maps.risk_figure`'s (None outside a report: English).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from types import SimpleNamespace
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
    >>> run = SimpleNamespace(standard=safety.standard, safety=safety)
    >>> failed_sections_figure(run).axes[0].get_xlabel()
    'Failed items (latest surveys)'
    """
    return drawn_in(lang, lambda: _failed_sections(assessment))


def _failed_sections(assessment: CommunitySafetyLike) -> Figure:
    std = assessment.standard
    failed = latest_failed(assessment.safety)
    counts = failed["section"].astype(str).value_counts().reindex(std.sections.index, fill_value=0)
    counts = counts.sort_values(kind="stable")
    fig = _figure(6.5, 3.6)
    ax = fig.add_subplot()
    y = np.arange(len(counts))
    ax.barh(y, counts.to_numpy(), color="#d7191c")
    col = "label_zh" if current_lang() == "zh" and "label_zh" in std.sections else "label"
    ax.set_yticks(y, [str(std.sections.loc[s, col]) for s in counts.index], fontsize=8)
    ax.set_xlabel(tr("cs_h_failed"))
    for yi, n in zip(y, counts.to_numpy(), strict=True):
        ax.text(float(n), float(yi), f" {int(n)}", va="center", fontsize=7)
    tag = tr("cs_fig_synthetic") if assessment.safety.synthetic else ""
    ax.set_title(tr("cs_fig_failed_title") + tag, fontsize=10)
    return fig
