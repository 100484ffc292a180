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
from .report import _img, _table

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
    tag = " (synthetic survey)" if synthetic else ""
    parts = [
        f'<h2 id="community-safety">Community safety 社区安全评估{html.escape(tag)}</h2>',
        f'<p class="sub">Survey {html.escape(safety.where.strip("`"))}: {len(safety.scores)} surveys of '
        f"{len(latest)} communities, scored against {html.escape(std.where.replace('`', ''))}; pass mark "
        f"{std.pass_mark:g} and no failed veto item (一票否决). Each community's latest survey is "
        "counted; its score joins the risk model's vulnerability.</p>",
    ]
    if synthetic:
        parts.append(
            '<p class="synthetic">SYNTHETIC survey: generated for the demo city, not measured. '
            "Every figure below is made up.</p>"
        )
    passed = int(latest["passed"].sum())
    kpis = [
        ("communities", f"{len(latest)}", "communities surveyed 已调查社区"),
        ("mean_score", f"{latest['score'].mean():.1f}", "mean safety score 平均评分"),
        ("passed", f"{passed}/{len(latest)}", "pass today 合格"),
        ("failed_items", f"{int(latest['failed_items'].sum()):,}", "failed items 不合格项"),
    ]
    plan, after, demo = cs.plan, cs.after, cs.demonstration
    if plan is not None and after is not None:
        kpis.append(
            ("passed_after", f"{int(after['passed_after'].sum())}/{len(after)}", "pass after the plan")
        )
        kpis.append(
            (
                "spent",
                f"{plan.budget_used_cny / 1e6:,.2f} / {plan.budget_cny / 1e6:,.2f} M",
                "CNY spent / budget 预算使用",
            )
        )
    if demo is not None:
        kpis.append(("demonstration", f"{len(demo.chosen)}", "demonstration communities 示范社区"))
    parts.append(_kpis(kpis))

    figs = []
    if communities is not None and len(communities):
        figs.append((cfig.community_safety_figure(cs, communities), "Community safety scores"))
    figs.append((cfig.failed_sections_figure(cs), "Failed items by section"))
    parts.append('<div class="figs">' + "".join(_img(f, a) for f, a in figs) + "</div>")

    summary = safety_summary(safety)
    parts.append("<h3>The survey by district 各区县调查结果</h3>")
    parts.append(
        _table(
            summary,
            [
                ("district", "District", ""),
                ("communities", "Communities", "int"),
                ("mean_score", "Mean score", ".1"),
                ("passed", "Pass", "int"),
                ("passed_share", "Pass share", "pct"),
                ("failed_items", "Failed items", "int"),
                ("veto_failed", "Veto items failed", "int"),
                ("most_failed_item", "Most failed item", ""),
                *[(g, f"{g.replace('_', ' ').capitalize()} {zh}", "int") for g, _, zh in std.grades],
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
        parts.append("<h3>Failed items (latest surveys) 不合格项</h3>")
        parts.append(
            _table(
                items,
                [
                    ("section", "Section", ""),
                    ("label", "Item", ""),
                    ("zh", "项目", ""),
                    ("communities", "Communities failing", "int"),
                    ("category", "Register category", ""),
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
        parts.append(f"<h3>Change over re-surveys 复查变化 ({n} communities surveyed again)</h3>")
        parts.append(
            _table(
                changes.districts,
                [
                    ("district", "District", ""),
                    ("communities", "Re-surveyed", "int"),
                    ("score_before", "Mean score before", ".1"),
                    ("score_after", "Mean score after", ".1"),
                    ("score_change", "Change", ".1"),
                    ("passed_before", "Pass before", "int"),
                    ("passed_after", "Pass after", "int"),
                    ("fixed", "Items fixed", "int"),
                    ("new_failures", "New failures", "int"),
                    ("still_failing", "Still failing", "int"),
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
            _table(
                per_item.sort_values("fixed", ascending=False, kind="stable"),
                [
                    ("section", "Section", ""),
                    ("label", "Item", ""),
                    ("failing_before", "Failing before", "int"),
                    ("failing_after", "Failing after", "int"),
                    ("fixed", "Fixed", "int"),
                    ("new_failures", "New failures", "int"),
                ],
                css_id="cs-changes-items",
            )
        )
    return "\n".join(parts)


def _plan_part(cs: CommunitySafetyLike, limit: int) -> str:
    plan, after = cs.plan, cs.after
    assert plan is not None and after is not None
    parts = ["<h3>Budget use 预算使用</h3>"]
    left = plan.budget_cny - plan.budget_used_cny
    rows = [
        ("Budget (CNY)", f"{plan.budget_cny:,.0f}"),
        ("Spent (CNY)", f"{plan.budget_used_cny:,.0f} ({plan.budget_used_cny / plan.budget_cny:.1%})")
        if plan.budget_cny > 0
        else ("Spent (CNY)", f"{plan.budget_used_cny:,.0f}"),
        ("Left (CNY)", f"{left:,.0f}"),
        ("Measures", f"{len(plan.chosen):,}"),
        (
            "Communities with measures",
            f"{plan.chosen['community_id'].nunique() if len(plan.chosen) else 0:,}",
        ),
        ("Risk removed (residents x vulnerability share)", f"{plan.objective:,.1f}"),
        ("Proven bound on the risk removable within the budget", f"{plan.bound:,.1f}"),
        ("Proven gap", f"{plan.gap:.3%}"),
        ("Status", plan.status),
        (
            "Greedy ratio heuristic, side by side",
            f"{plan.greedy_objective:,.1f} ({plan.greedy_budget_used_cny:,.0f} CNY)",
        ),
        ("Solver", plan.solver),
        ("Pass after the plan", f"{int(after['passed_after'].sum())} of {len(after)}"),
    ]
    table = pd.DataFrame(rows, columns=["what", "value"])
    parts.append(_table(table, [("what", "", ""), ("value", "", "")], css_id="cs-budget"))
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
            _table(
                by_section,
                [
                    ("section", "Section", ""),
                    ("measures", "Measures", "int"),
                    ("cost_cny", "Cost CNY", "int"),
                    ("risk_reduction", "Risk removed", ".1"),
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
        f"<h3>Priority list 整改优先序 ({len(by)} communities, most risk removed first)</h3>"
        "<p>Risk removed = residents x the vulnerability the restored score points take away "
        "(planning/data/upgrade_measures.toml <code>[risk]</code>), summed over the community's measures.</p>"
    )
    parts.append(
        _table(
            by,
            [
                ("priority", "Priority", "int"),
                ("community", "Community", ""),
                ("community_name", "Name", ""),
                ("district", "District", ""),
                ("residents", "Residents", "int"),
                ("titles", "Measures", ""),
                ("cost_cny", "Cost CNY", "int"),
                ("score_points", "Points restored", ".1"),
                ("score", "Score", ".1"),
                ("score_after", "Score after", ".1"),
                ("risk_reduction", "Risk removed", ".1"),
                ("still_failed", "Still short", ""),
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
    parts = [
        f"<h3>Demonstration communities 安全示范社区 ({len(chosen)} of {demo.n} asked)</h3>",
        f"<p>{html.escape(demo.summary())}. Each scores at least the pass mark minus "
        f"{demo.margin:g} after the planned measures; quotas per district and community type.</p>",
    ]
    parts.append(
        _table(
            chosen,
            [
                ("community", "Community", ""),
                ("community_name", "Name", ""),
                ("district", "District", ""),
                ("community_type", "Type", ""),
                ("residents", "Residents", "int"),
                ("score", "Score", ".1"),
                ("score_after", "Score after the plan", ".1"),
                ("reasons", "Why chosen", ""),
                ("still_needs", "Still needs", ""),
            ],
            css_id="cs-demonstration",
        )
    )
    parts.append(
        _table(
            demo.quotas,
            [
                ("column", "Quota by", ""),
                ("category", "Category", ""),
                ("minimum", "Minimum", "int"),
                ("maximum", "Maximum", "int"),
                ("eligible", "Eligible", "int"),
                ("chosen", "Chosen", "int"),
            ],
            css_id="cs-quotas",
        )
    )
    return "\n".join(parts)
