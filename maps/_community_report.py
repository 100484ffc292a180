"""The report's community safety section: the survey by district, the plan, the demonstration list.

Every figure is read from the assessment (:class:`~maps.CommunitySafetyLike`: the scored survey
of :mod:`risk_models.community_safety`, the plan of :func:`planning.plan_upgrades` and the
demonstration of :func:`planning.choose_demonstration`), never recomputed here; the tables are
those of ``communities.gpkg``. Tables carry ids (``cs-districts``, ``cs-priority``,
``cs-budget``, ``cs-demonstration``, ``cs-quotas``, ``cs-items``, ``cs-changes-district``,
``cs-changes-items``) so that a reader (or a test) can find them.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from . import community_figures as cfig
from ._communities import latest_failed
from ._html import figure_img, html_table
from .words import current_lang, tr

if TYPE_CHECKING:
    from ._communities import CommunitySafetyLike

__all__ = ["community_section"]


def _kpis(items: list[tuple[str, str, str]]) -> str:
    boxes = "".join(
        f'<div class="kpi" data-metric="{key}"><b>{html.escape(value)}</b>{html.escape(label)}</div>'
        for key, value, label in items
    )
    return f'<div class="kpis" id="cs-kpis">{boxes}</div>'


def _names(cs: CommunitySafetyLike) -> pd.DataFrame:
    latest = cs.safety.latest()
    latest = latest.set_axis(latest.index.astype(str))
    cols = [c for c in ("community_name", "district", "community_type") if c in latest.columns]
    return latest[cols]


def community_section(
    assessment: CommunitySafetyLike, *, communities: gpd.GeoDataFrame | None = None, limit: int = 50
) -> str:
    """The HTML of the report's community safety section (every text escaped).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from types import SimpleNamespace
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1, resurvey_share=0.2))
    >>> run = SimpleNamespace(standard=safety.standard, safety=safety, budget=None, plan=None,
    ...                       after=None, demonstration=None)
    >>> page = community_section(run, communities=city["communities"])
    >>> 'id="cs-districts"' in page and 'id="cs-changes-district"' in page and "SYNTHETIC" in page
    True
    """
    from risk_models.community_safety import safety_summary, survey_changes

    cs, safety, std = assessment, assessment.safety, assessment.standard
    latest = safety.latest()
    synthetic = bool(safety.synthetic)
    tag = tr("cs_tag_synthetic") if synthetic else ""
    sub = tr(
        "cs_sub",
        where=safety.where.strip("`"),
        surveys=len(safety.scores),
        communities=len(latest),
        standard=std.where.replace("`", ""),
        pass_mark=f"{std.pass_mark:g}",
    )
    parts = [
        f'<h2 id="community-safety">{html.escape(tr("cs_h", tag=tag))}</h2>',
        f'<p class="sub">{html.escape(sub)}</p>',
    ]
    if synthetic:
        parts.append(f'<p class="synthetic">{html.escape(tr("cs_synthetic"))}</p>')
    passed = int(latest["passed"].sum())
    zh_out = current_lang() == "zh"
    kpis = [
        ("communities", f"{len(latest)}", tr("cs_kpi_surveyed")),
        ("mean_score", f"{latest['score'].mean():.1f}", tr("cs_kpi_mean")),
        ("passed", f"{passed}/{len(latest)}", tr("cs_kpi_pass")),
        ("failed_items", f"{int(latest['failed_items'].sum()):,}", tr("cs_kpi_failed")),
    ]
    plan, after, demo = cs.plan, cs.after, cs.demonstration
    if plan is not None and after is not None:
        kpis.append(
            ("passed_after", f"{int(after['passed_after'].sum())}/{len(after)}", tr("cs_kpi_pass_after"))
        )
        kpis.append(
            (
                "spent",
                f"{plan.budget_used_cny / 1e6:,.2f} / {plan.budget_cny / 1e6:,.2f} M",
                tr("com_cny_spent_budget"),
            )
        )
    if demo is not None:
        kpis.append(("demonstration", f"{len(demo.chosen)}", tr("cs_kpi_demonstration")))
    parts.append(_kpis(kpis))

    figs = []
    if communities is not None and len(communities):
        figs.append((cfig.community_safety_figure(cs, communities), tr("cs_fig_scores")))
    figs.append((cfig.failed_sections_figure(cs), tr("cs_fig_failed")))
    parts.append('<div class="figs">' + "".join(figure_img(f, a) for f, a in figs) + "</div>")

    summary = safety_summary(safety)
    parts.append(f"<h3>{html.escape(tr('cs_h_districts'))}</h3>")
    parts.append(
        html_table(
            summary,
            [
                ("district", tr("cs_district"), ""),
                ("communities", tr("cs_communities"), "int"),
                ("mean_score", tr("cs_mean_score"), ".1"),
                ("passed", tr("cs_pass"), "int"),
                ("passed_share", tr("cs_pass_share"), "pct"),
                ("failed_items", tr("cs_failed_items"), "int"),
                ("veto_failed", tr("cs_veto_items_failed"), "int"),
                ("most_failed_item", tr("cs_most_failed_item"), ""),
                *[(g, zh if zh_out else g.replace("_", " ").capitalize(), "int") for g, _, zh in std.grades],
            ],
            css_id="cs-districts",
        )
    )
    failed = latest_failed(safety)
    if len(failed):
        items = (
            failed.groupby(["section", "item"], observed=True)
            .agg(communities=("community_id", "nunique"), label=("label", "first"), zh=("label_zh", "first"))
            .reset_index()
            .sort_values("communities", ascending=False, kind="stable")
        )
        items["category"] = std.items["category"].reindex(items["item"].astype(str)).to_numpy()
        parts.append(f"<h3>{html.escape(tr('cs_h_failed'))}</h3>")
        parts.append(
            html_table(
                items,
                [
                    ("section", tr("cs_section"), ""),
                    ("zh" if zh_out else "label", tr("cs_item"), ""),
                    ("communities", tr("cs_communities_failing"), "int"),
                    ("category", tr("cs_register_category"), ""),
                ],
                css_id="cs-items",
            )
        )

    if plan is not None and after is not None:
        parts.append(_plan_part(cs, limit))
    if demo is not None:
        parts.append(_demonstration_part(cs))

    changes = survey_changes(safety)
    if len(changes.communities):
        n = len(changes.communities)
        parts.append(f"<h3>{html.escape(tr('cs_h_changes', count=n))}</h3>")
        parts.append(
            html_table(
                changes.districts,
                [
                    ("district", tr("cs_district"), ""),
                    ("communities", tr("cs_re_surveyed"), "int"),
                    ("score_before", tr("cs_mean_score_before"), ".1"),
                    ("score_after", tr("cs_mean_score_after"), ".1"),
                    ("score_change", tr("cs_change"), ".1"),
                    ("passed_before", tr("cs_pass_before"), "int"),
                    ("passed_after", tr("cs_pass_after"), "int"),
                    ("fixed", tr("cs_items_fixed"), "int"),
                    ("new_failures", tr("cs_new_failures"), "int"),
                    ("still_failing", tr("cs_still_failing"), "int"),
                ],
                css_id="cs-changes-district",
            )
        )
        per_item = (
            changes.district_items.groupby(["section", "item"], observed=True)[
                ["failing_before", "failing_after", "fixed", "new_failures"]
            ]
            .sum()
            .reset_index()
        )
        per_item["label"] = std.items["label"].reindex(per_item["item"].astype(str)).to_numpy()
        per_item = per_item[(per_item[["failing_before", "failing_after"]].sum(axis=1) > 0).to_numpy()]
        parts.append(
            html_table(
                per_item.sort_values("fixed", ascending=False, kind="stable"),
                [
                    ("section", tr("cs_section"), ""),
                    ("label", tr("cs_item"), ""),
                    ("failing_before", tr("cs_failing_before"), "int"),
                    ("failing_after", tr("cs_failing_after"), "int"),
                    ("fixed", tr("cs_fixed"), "int"),
                    ("new_failures", tr("cs_new_failures"), "int"),
                ],
                css_id="cs-changes-items",
            )
        )
    return "\n".join(parts)


def _plan_part(cs: CommunitySafetyLike, limit: int) -> str:
    plan, after = cs.plan, cs.after
    assert plan is not None and after is not None
    parts = [f"<h3>{html.escape(tr('cs_h_budget'))}</h3>"]
    left = plan.budget_cny - plan.budget_used_cny
    rows = [
        (tr("cs_budget_cny"), f"{plan.budget_cny:,.0f}"),
        (tr("cs_spent_cny"), f"{plan.budget_used_cny:,.0f} ({plan.budget_used_cny / plan.budget_cny:.1%})")
        if plan.budget_cny > 0
        else (tr("cs_spent_cny"), f"{plan.budget_used_cny:,.0f}"),
        (tr("cs_left_cny"), f"{left:,.0f}"),
        (tr("cs_measures"), f"{len(plan.chosen):,}"),
        (
            tr("cs_communities_with_measures"),
            f"{plan.chosen['community_id'].nunique() if len(plan.chosen) else 0:,}",
        ),
        (tr("cs_risk_removed_residents_x_vulnerability_s"), f"{plan.objective:,.1f}"),
        (tr("cs_proven_bound_on_the_risk_removable_withi"), f"{plan.bound:,.1f}"),
        (tr("cs_proven_gap"), f"{plan.gap:.3%}"),
        (tr("cs_status"), plan.status),
        (
            tr("cs_greedy_ratio_heuristic_side_by_side"),
            f"{plan.greedy_objective:,.1f} ({plan.greedy_budget_used_cny:,.0f} CNY)",
        ),
        (tr("cs_solver"), plan.solver),
        (tr("cs_pass_after_the_plan"), f"{int(after['passed_after'].sum())} of {len(after)}"),
    ]
    table = pd.DataFrame(rows, columns=["what", "value"])
    parts.append(html_table(table, [("what", "", ""), ("value", "", "")], css_id="cs-budget"))
    if len(plan.chosen):
        by_section = (
            plan.chosen.groupby("section", observed=True)
            .agg(
                measures=("measure", "size"),
                cost_cny=("cost_cny", "sum"),
                risk_reduction=("risk_reduction", "sum"),
            )
            .reset_index()
            .sort_values("cost_cny", ascending=False, kind="stable")
        )
        parts.append(
            html_table(
                by_section,
                [
                    ("section", tr("cs_section"), ""),
                    ("measures", tr("cs_measures"), "int"),
                    ("cost_cny", tr("cs_cost_cny"), "int"),
                    ("risk_reduction", tr("cs_risk_removed"), ".1"),
                ],
                css_id="cs-budget-sections",
            )
        )
    by = plan.by_community.copy()
    by.index = by.index.astype(str)
    titles = plan.chosen.groupby(plan.chosen["community_id"].astype(str))["title"].agg(
        lambda s: "; ".join(map(str, s))
    )
    a = after.set_axis(after.index.astype(str))
    by = by.join(_names(cs)).join(a[["score", "score_after", "passed_after", "still_failed"]])
    by["titles"] = titles.reindex(by.index)
    residents = plan.chosen.groupby(plan.chosen["community_id"].astype(str))["residents"].first()
    by["residents"] = residents.reindex(by.index)
    by = (
        by.sort_values("risk_reduction", ascending=False, kind="stable")
        .rename_axis("community")
        .reset_index()
    )
    by["priority"] = range(1, len(by) + 1)
    parts.append(
        f"<h3>{html.escape(tr('cs_h_priority', count=len(by)))}</h3>"
        f"<p>{html.escape(tr('cs_priority_text'))}</p>"
    )
    parts.append(
        html_table(
            by,
            [
                ("priority", tr("cs_priority"), "int"),
                ("community", tr("cs_community"), ""),
                ("community_name", tr("cs_name"), ""),
                ("district", tr("cs_district"), ""),
                ("residents", tr("cs_residents"), "int"),
                ("titles", tr("cs_measures"), ""),
                ("cost_cny", tr("cs_cost_cny"), "int"),
                ("score_points", tr("cs_points_restored"), ".1"),
                ("score", tr("cs_score"), ".1"),
                ("score_after", tr("cs_score_after"), ".1"),
                ("risk_reduction", tr("cs_risk_removed"), ".1"),
                ("still_failed", tr("cs_still_short"), ""),
            ],
            css_id="cs-priority",
            limit=limit,
        )
    )
    return "\n".join(parts)


def _demonstration_part(cs: CommunitySafetyLike) -> str:
    demo = cs.demonstration
    assert demo is not None
    chosen = demo.chosen.rename_axis("community").reset_index()
    names = _names(cs)
    if "community_name" in names:
        chosen["community_name"] = names["community_name"].reindex(chosen["community"].astype(str)).to_numpy()
    rule = tr("cs_demonstration_text", margin=f"{demo.margin:g}")
    parts = [
        f"<h3>{html.escape(tr('cs_h_demonstration', chosen=len(chosen), asked=demo.n))}</h3>",
        f"<p>{html.escape(demo.summary())}. {html.escape(rule)}</p>",
    ]
    parts.append(
        html_table(
            chosen,
            [
                ("community", tr("cs_community"), ""),
                ("community_name", tr("cs_name"), ""),
                ("district", tr("cs_district"), ""),
                ("community_type", tr("cs_type"), ""),
                ("residents", tr("cs_residents"), "int"),
                ("score", tr("cs_score"), ".1"),
                ("score_after", tr("cs_score_after_the_plan"), ".1"),
                ("reasons", tr("cs_why_chosen"), ""),
                ("still_needs", tr("cs_still_needs"), ""),
            ],
            css_id="cs-demonstration",
        )
    )
    parts.append(
        html_table(
            demo.quotas,
            [
                ("column", tr("cs_quota_by"), ""),
                ("category", tr("cs_category"), ""),
                ("minimum", tr("cs_minimum"), "int"),
                ("maximum", tr("cs_maximum"), "int"),
                ("eligible", tr("cs_eligible"), "int"),
                ("chosen", tr("cs_chosen"), "int"),
            ],
            css_id="cs-quotas",
        )
    )
    return "\n".join(parts)
