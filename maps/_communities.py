"""Map layers of the community safety survey: scores by grade, failed items, upgrades, demonstration.

- ``community_safety``: each surveyed community's latest score on its polygon, filled in the
  colour of its grade in the scoring standard (``[community_safety] grade_colours`` of
  ``maps/data/map_style.toml``, best grade first), with a popup of its failed items section by
  section and, with a plan, its score after the planned measures;
- ``upgrades``: the communities with planned upgrade measures (a badge at the community's
  point): the measures, their cost, the score points they restore and the risk they remove;
- ``demonstration``: the chosen demonstration communities (a star), with the reasons for each
  and what it still needs to pass.

Every figure is read from the assessment (:class:`CommunitySafetyLike`, which
:class:`service.communities.CommunityAssessment` satisfies), never recomputed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any, Protocol

import geopandas as gpd
import pandas as pd

from gis.validate import index_by_id

from ._layers import Display, feature_collection
from ._legend_rows import legend_row as _row
from ._style import badge_svg
from .words import current_lang, tr

if TYPE_CHECKING:
    from planning import Demonstration, UpgradePlan
    from risk_models.community_safety import CommunitySafety, SafetyStandard

__all__ = [
    "COMMUNITY_LAYERS",
    "CommunitySafetyLike",
    "community_specs",
    "grade_colours",
    "grade_labels",
    "latest_failed",
    "legend_parts",
]

Spec = dict[str, Any]
#: Layers drawn only from a community safety survey (``risk_map(..., community_safety=...)``).
COMMUNITY_LAYERS = ("community_safety", "upgrades", "demonstration")
_UPGRADE_PROPS = {
    "cid": "id", "name": "n", "measures": "ms", "n_measures": "nm", "cost_cny": "cost",
    "score_points": "pts", "score": "sc", "score_after": "sa", "risk_reduction": "rr",
}  # fmt: skip
_DEMONSTRATION_PROPS = {
    "cid": "id", "name": "n", "district": "d", "community_type": "ty", "residents": "pop",
    "score": "sc", "score_after": "sa", "reasons": "why", "still_needs": "needs",
}  # fmt: skip


class CommunitySafetyLike(Protocol):
    """What the maps and the report read of a scored survey and its plan.

    :class:`service.communities.CommunityAssessment` is one; so is any object with these
    attributes (``plan``, ``after`` and ``demonstration`` may be None).
    """

    @property
    def standard(self) -> SafetyStandard:
        """The scoring standard: grades, pass mark, sections and items."""
        ...

    @property
    def safety(self) -> CommunitySafety:
        """The scored surveys."""
        ...

    @property
    def budget(self) -> float | None:
        """The budget in CNY, or None without a plan."""
        ...

    @property
    def plan(self) -> UpgradePlan | None:
        """The upgrade measures chosen within the budget."""
        ...

    @property
    def after(self) -> pd.DataFrame | None:
        """Each community's score after the plan (``score_after``, ``passed_after``, ``still_failed``)."""
        ...

    @property
    def demonstration(self) -> Demonstration | None:
        """The demonstration communities (``chosen`` with ``reasons`` and ``still_needs``)."""
        ...


def grade_colours(standard: SafetyStandard, style: Mapping[str, Any]) -> dict[str, str]:
    """``{grade: colour}``: the standard's grades, best first, spread over ``grade_colours``.

    A standard with as many grades as colours takes them in order; with more or fewer, grade
    ``i`` of ``n`` takes the colour at ``i / (n - 1)`` of the ramp (best to worst).

    Examples
    --------
    >>> from risk_models.community_safety import load_safety_standard
    >>> from maps._style import load_style
    >>> grade_colours(load_safety_standard(), load_style())
    {'excellent': '#1a9641', 'good': '#a6d96a', 'fair': '#fdae61', 'poor': '#d7191c'}
    """
    ramp = list(style["community_safety"]["grade_colours"])
    grades = [g for g, _, _ in standard.grades]
    n = len(grades)
    if n == len(ramp) or n <= 1:
        return {g: ramp[min(i, len(ramp) - 1)] for i, g in enumerate(grades)}
    return {g: ramp[round(i * (len(ramp) - 1) / (n - 1))] for i, g in enumerate(grades)}


def grade_labels(standard: SafetyStandard) -> dict[str, str]:
    """``{grade: "Good (80 and above)"}`` in the output's language, for legends and tooltips.

    Examples
    --------
    >>> from risk_models.community_safety import load_safety_standard
    >>> labels = grade_labels(load_safety_standard())
    >>> labels["good"], labels["poor"]
    ('Good (80 and above)', 'Poor (below 60)')
    """
    out = {}
    above = None
    zh_out = current_lang() == "zh"
    for grade, low, zh in standard.grades:
        top = low > 0 or above is None
        band = tr("com_band_above", score=f"{low:g}") if top else tr("com_band_below", score=f"{above:g}")
        name = zh if zh_out else grade.replace("_", " ").capitalize()
        out[grade] = tr("com_grade_band", grade=name, band=band)
        above = low
    return out


def latest_failed(safety: CommunitySafety) -> pd.DataFrame:
    """The failed items of each community's latest survey (rows of ``safety.failed()``)."""
    latest = safety.latest()
    failed = safety.failed()
    last = pd.MultiIndex.from_arrays([latest.index.astype(str), latest["survey_date"]])
    key = pd.MultiIndex.from_arrays([failed["community_id"].astype(str), failed["survey_date"]])
    return failed[key.isin(last)]


def _section_breakdown(cs: CommunitySafetyLike, latest: pd.DataFrame) -> pd.DataFrame:
    """Per latest survey and section: ``score (n failed: item labels)``, one column per section."""
    std = cs.standard
    failed = latest_failed(cs.safety)
    names = failed.groupby(["community_id", "section"], observed=True)["label"].agg(
        lambda s: ", ".join(map(str, s))
    )
    counts = failed.groupby(["community_id", "section"], observed=True).size()
    out = pd.DataFrame(index=latest.index.astype(str))
    for section in std.sections.index:
        score = latest.get(f"score_{section}")
        texts = []
        for cid in out.index:
            n = int(counts.get((cid, section), 0))
            value = float(score.loc[cid]) if score is not None and pd.notna(score.loc[cid]) else None
            head = "n/a" if value is None else f"{value:.0f}"
            texts.append(head + (f"; {n} failed: {names.loc[(cid, section)]}" if n else "; none failed"))
        out[f"s_{section}"] = texts
    return out


def _points(communities: gpd.GeoDataFrame, ids: Iterable[str]) -> gpd.GeoDataFrame:
    layer = index_by_id(communities)
    layer = layer.set_axis(layer.index.astype(str))
    keep = [i for i in ids if i in layer.index]
    pts = layer.loc[keep, ["geometry"]].copy()
    pts["geometry"] = pts.geometry.representative_point()
    return pts


def safety_spec(
    cs: CommunitySafetyLike, communities: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display
) -> Spec:
    """The ``community_safety`` layer: latest scores by grade, failed items by section in the popup."""
    safety, std = cs.safety, cs.standard
    st = style["community_safety"]
    latest = safety.latest()
    latest = latest.set_axis(latest.index.astype(str))
    layer = index_by_id(communities)
    layer = layer.set_axis(layer.index.astype(str))
    ids = [i for i in latest.index if i in layer.index]
    g = layer.loc[ids, ["geometry"]].copy()
    lt = latest.loc[ids]
    labels = grade_labels(std)
    g["cid"] = ids
    g["name"] = lt["community_name"] if "community_name" in lt else layer.loc[ids].get("name")
    g["district"] = lt["district"] if "district" in lt else layer.loc[ids].get("district")
    g["score"] = lt["score"].astype(float)
    g["gr"] = lt["grade"].astype(str)
    g["grade_label"] = g["gr"].map(labels)
    g["passed"] = lt["passed"].astype(bool).map({True: "yes 合格", False: "no 不合格"})
    g["failed_items"] = lt["failed_items"].astype(int)
    g["veto"] = lt["veto_failed"].astype(int).where(lt["veto_failed"].astype(int) > 0)
    g["date"] = pd.to_datetime(lt["survey_date"]).dt.strftime("%Y-%m-%d")
    if "community_type" in lt:
        g["kind"] = lt["community_type"].astype(str)
    breakdown = _section_breakdown(cs, lt)
    g = g.join(breakdown)
    props = {
        "cid": "id", "name": "n", "district": "d", "score": "sc", "gr": "gr", "grade_label": "g",
        "passed": "ok", "failed_items": "nf", "veto": "veto", "date": "dt", "kind": "ty",
    }  # fmt: skip
    props.update({c: c for c in breakdown.columns})
    after_fields: list[list[str]] = []
    if cs.after is not None:
        after = cs.after.set_axis(cs.after.index.astype(str)).reindex(ids)
        g["score_after"] = after["score_after"].astype(float)
        g["passed_after"] = after["passed_after"].map({True: "yes 合格", False: "no 不合格"})
        g["still"] = after["still_failed"].where(after["still_failed"].astype(str) != "")
        props.update({"score_after": "sa", "passed_after": "oka", "still": "still"})
        after_fields = [
            ["sa", tr("com_score_after_the_plan"), ".1"],
            ["oka", tr("com_passes_after_the_plan"), ""],
            ["still", tr("com_still_short_score_points"), ""],
        ]
    colours = grade_colours(std, style)
    col = "label_zh" if current_lang() == "zh" else "label"
    sections = [[f"s_{s}", str(row[col]), ""] for s, row in std.sections.iterrows()]
    tag = tr("com_tag_synthetic") if safety.synthetic else tr("com_tag_survey")
    note = tr(
        "com_note",
        count=len(ids),
        tag=tag,
        where=safety.where,
        pass_mark=f"{std.pass_mark:g}",
        standard=std.where,
    )
    return {
        "id": "community_safety",
        "kind": "polygon",
        "cls": "rp-community_safety",
        "style": {
            "color": "#555555",
            "weight": 0.8,
            "opacity": 0.9,
            "fillOpacity": float(st["fill_opacity"]),
        },
        "styleBy": {"prop": "gr", "values": {k: {"fillColor": v} for k, v in colours.items()}},
        "tooltip": {
            "title": "n",
            "fields": [
                ["id", tr("com_community"), ""],
                ["g", tr("com_grade"), ""],
                ["sc", tr("com_safety_score"), ".1"],
                ["ok", tr("com_passes"), ""],
                ["nf", tr("com_failed_items"), "int"],
            ],
        },
        "popup": {
            "title": "n",
            "fields": [
                ["id", tr("com_community"), ""],
                ["d", tr("com_district"), ""],
                ["ty", tr("com_type"), ""],
                ["dt", tr("com_surveyed"), ""],
                ["sc", tr("com_safety_score"), ".1"],
                ["g", tr("com_grade"), ""],
                ["ok", tr("com_passes"), ""],
                ["veto", tr("com_failed_veto_items"), "int"],
                ["nf", tr("com_failed_items"), "int"],
                *sections,
                *after_fields,
            ],
        },
        "note": note,
        "data": feature_collection(g, props, display, digits=1),
    }


def upgrades_spec(
    cs: CommunitySafetyLike, communities: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display
) -> Spec | None:
    """The ``upgrades`` layer: communities with planned measures, with cost, points and risk removed."""
    plan, after = cs.plan, cs.after
    if plan is None or after is None or not len(plan.chosen):
        return None
    chosen = plan.chosen
    titles = chosen.groupby("community_id")["title"].agg(lambda s: "; ".join(map(str, s)))
    by = plan.by_community
    by = by.set_axis(by.index.astype(str))
    pts = _points(communities, by.index)
    ids = list(pts.index)
    a = after.set_axis(after.index.astype(str)).reindex(ids)
    pts["cid"] = ids
    pts["measures"] = titles.set_axis(titles.index.astype(str)).reindex(ids).to_numpy()
    pts["n_measures"] = chosen.groupby(chosen["community_id"].astype(str)).size().reindex(ids).to_numpy()
    pts["cost_cny"] = by["cost_cny"].reindex(ids).to_numpy()
    pts["score_points"] = by["score_points"].reindex(ids).to_numpy()
    pts["risk_reduction"] = by["risk_reduction"].reindex(ids).to_numpy()
    pts["score"] = a["score"].to_numpy()
    pts["score_after"] = a["score_after"].to_numpy()
    latest = cs.safety.latest()
    names = latest["community_name"] if "community_name" in latest else pd.Series(dtype=object)
    pts["name"] = names.set_axis(names.index.astype(str)).reindex(ids).fillna(pd.Series(ids, index=ids))
    us = style["community_safety"]["upgrades"]
    return {
        "id": "upgrades",
        "kind": "point",
        "cls": "rp-upgrades",
        "marker": "icon",
        "icons": {"default": badge_svg("U", us["colour"], size=16, shape="circle")},
        "iconSize": 16,
        "style": {},
        "tooltip": {
            "title": "n",
            "prefix": tr("com_upgrades_prefix"),
            "fields": [["nm", tr("com_measures"), "int"], ["cost", tr("com_cost_cny"), "int"]],
        },
        "popup": {
            "title": "n",
            "prefix": tr("com_planned_upgrades"),
            "fields": [
                ["id", tr("com_community"), ""],
                ["ms", tr("com_measures_2"), ""],
                ["cost", tr("com_cost_cny"), "int"],
                ["pts", tr("com_score_points_restored"), ".1"],
                ["sc", tr("com_score_today"), ".1"],
                ["sa", tr("com_score_after"), ".1"],
                ["rr", tr("com_risk_removed_residents_weighted"), ".1"],
            ],
        },
        "data": feature_collection(pts, _UPGRADE_PROPS, display, points=True, digits=1),
    }


def demonstration_spec(
    cs: CommunitySafetyLike, communities: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display
) -> Spec | None:
    """The ``demonstration`` layer: the chosen communities with their reasons and what they still need."""
    demo = cs.demonstration
    if demo is None or not len(demo.chosen):
        return None
    chosen = demo.chosen.set_axis(demo.chosen.index.astype(str))
    pts = _points(communities, chosen.index)
    ids = list(pts.index)
    c = chosen.reindex(ids)
    latest = cs.safety.latest()
    names = latest["community_name"] if "community_name" in latest else pd.Series(dtype=object)
    pts["cid"] = ids
    pts["name"] = names.set_axis(names.index.astype(str)).reindex(ids).fillna(pd.Series(ids, index=ids))
    for col in ("residents", "score", "score_after", "reasons", "still_needs", "district", "community_type"):
        if col in c.columns:
            pts[col] = c[col].to_numpy()
    ds = style["community_safety"]["demonstration"]
    return {
        "id": "demonstration",
        "kind": "point",
        "cls": "rp-demonstration",
        "marker": "icon",
        "icons": {"default": badge_svg("示", ds["colour"], size=26, shape="star")},
        "iconSize": 26,
        "style": {},
        "tooltip": {
            "title": "n",
            "prefix": tr("com_demonstration"),
            "fields": [["pop", tr("com_residents"), "int"], ["sa", tr("com_score_after"), ".1"]],
        },
        "popup": {
            "title": "n",
            "prefix": tr("com_demonstration_community"),
            "fields": [
                ["id", tr("com_community"), ""],
                ["d", tr("com_district"), ""],
                ["ty", tr("com_type"), ""],
                ["pop", tr("com_residents"), "int"],
                ["sc", tr("com_score_today"), ".1"],
                ["sa", tr("com_score_after_the_plan"), ".1"],
                ["why", tr("com_why_chosen"), ""],
                ["needs", tr("com_still_needs"), ""],
            ],
        },
        "data": feature_collection(pts, _DEMONSTRATION_PROPS, display, points=True, digits=1),
    }


def community_specs(
    cs: CommunitySafetyLike, communities: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display
) -> list[Spec]:
    """The survey's layers: scores by grade, then the planned upgrades and demonstration communities."""
    specs = [safety_spec(cs, communities, style, display)]
    for make in (upgrades_spec, demonstration_spec):
        spec = make(cs, communities, style, display)
        if spec is not None:
            specs.append(spec)
    return specs


def legend_parts(
    style: Mapping[str, Any], present: Iterable[str], specs: list[Spec], standard: SafetyStandard | None
) -> list[str]:
    """The legend's community safety section: every grade's colour, the upgrade and demonstration marks."""
    present = set(present)
    if not present & set(COMMUNITY_LAYERS) or standard is None:
        return []
    st = style["community_safety"]
    parts = [f"<h4>{escape(tr('com_legend_header', pass_mark=f'{standard.pass_mark:g}'))}</h4>"]
    if "community_safety" in present:
        spec = next(s for s in specs if s["id"] == "community_safety")
        values = spec["styleBy"]["values"]
        labels = grade_labels(standard)
        opacity = float(st["fill_opacity"])
        for grade in values:
            fill = values[grade]["fillColor"]
            swatch = (
                f'<span class="rp-sw" style="background:{fill};opacity:{opacity};border-color:#555"></span>'
            )
            parts.append(_row(swatch, labels.get(grade, grade)))
    if "upgrades" in present:
        parts.append(
            _row(badge_svg("U", st["upgrades"]["colour"], size=16, shape="circle"), tr("map_layer_upgrades"))
        )
    if "demonstration" in present:
        parts.append(
            _row(
                badge_svg("示", st["demonstration"]["colour"], size=18, shape="star"),
                tr("safety_demonstration_community"),
            )
        )
    return parts
