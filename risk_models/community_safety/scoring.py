"""Scores: every surveyed community's safety score, its item breakdown, and the change on re-survey.

:func:`score_communities` applies the standard (``risk_models/data/community_safety.toml``) to a
checked :class:`~risk_models.community_safety.survey.Survey`, vectorised over communities x
items: an item fails when its value meets the rule, earns its points otherwise, and drops out
when surveyed n/a (the remaining points are scaled back to 100). :func:`survey_changes` compares
each re-surveyed community's latest survey with its previous one, per item, per community and
per district.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError
from gis.tables import TableOverrides
from gis.validate import index_by_id

from .standard import SafetyStandard, load_safety_standard
from .survey import Survey, check_survey

__all__ = ["CHANGES", "CommunitySafety", "SurveyChanges", "score_communities", "survey_changes"]

log = logging.getLogger(__name__)

#: What happened to an item between two surveys of a community.
CHANGES: tuple[str, ...] = ("fixed", "new_failure", "still_failing", "still_passing", "not_applicable")
_COMPARE = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_META = ("community_name", "district", "street", "community_type")
_LAYER = ("name", "district", "street", "community_type", "population", "households")


@dataclass(frozen=True, eq=False)
class CommunitySafety:
    """Scored surveys (:func:`score_communities`).

    Attributes
    ----------
    scores
        One row per community and survey: ``community_id``, ``survey_date``, ``score`` (0..100),
        ``grade``, ``passed``, ``points_lost`` (100 - score), ``failed_items`` (count),
        ``veto_failed``, ``failed`` (the failed item ids, ``; ``-separated), ``score_<section>``
        (0..100: the share of the section's points earned; NaN when the whole section was n/a),
        and the community's ``community_name``, ``district``, ``street``, ``community_type``,
        ``population``, ``households`` where the survey or the communities layer gives them.
    items
        One row per community, survey and item: ``community_id``, ``survey_date``, ``section``,
        ``item``, ``points`` (earned), ``max_points`` (both on the 100-point scale: a row's
        points sum to its score; 0 when n/a), ``failed``, ``value`` (yes 1 / no 0, NaN n/a),
        ``rule`` (text), ``not_applicable``.
    standard
        The standard applied.
    where
        The survey's file, for messages.
    synthetic
        True when the survey is generated.
    """

    scores: pd.DataFrame
    items: pd.DataFrame
    standard: SafetyStandard
    where: str = "the survey"
    synthetic: bool = False

    def failed(self) -> pd.DataFrame:
        """The failed items (rows of :attr:`items`), with the item's ``category``, ``label`` and ``veto``.

        Examples
        --------
        >>> from gis.demo import synthetic_survey
        >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
        >>> sorted(safety.failed().columns)[:4]
        ['category', 'community_id', 'failed', 'item']
        """
        out = self.items[self.items["failed"].to_numpy()].reset_index(drop=True)
        spec = self.standard.items
        key = out["item"].astype(str)
        for col in ("category", "label", "label_zh", "veto"):
            out[col] = spec[col].reindex(key).to_numpy()
        return out

    def latest(self) -> pd.DataFrame:
        """Each community's latest survey (rows of :attr:`scores`), indexed by ``community_id``.

        Examples
        --------
        >>> from gis.demo import synthetic_survey
        >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
        >>> safety.latest().index.is_unique
        True
        """
        order = self.scores.sort_values(["community_id", "survey_date"], kind="stable")
        return order.drop_duplicates("community_id", keep="last").set_index("community_id")

    def safety_score(self) -> pd.Series:
        """The latest score of each community (``safety_score``, 0..100), for the risk model.

        Pass it as ``risk_models.score_scenario(..., community_safety=...)``: it adds the
        documented term ``[vulnerability.community_safety]`` of ``risk_weights.toml``.

        Examples
        --------
        >>> from gis.demo import synthetic_survey
        >>> score = score_communities(synthetic_survey(city["communities"], seed=1)).safety_score()
        >>> score.name, len(score), bool(score.between(0, 100).all())
        ('safety_score', 150, True)
        """
        return self.latest()["score"].rename("safety_score")


@dataclass(frozen=True, eq=False)
class SurveyChanges:
    """The change between each re-surveyed community's previous and latest survey (:func:`survey_changes`).

    Attributes
    ----------
    items
        Per community and item: ``community_id``, ``district``, ``section``, ``item``,
        ``date_before``, ``date_after``, ``value_before``, ``value_after``, ``points_before``,
        ``points_after``, ``failed_before``, ``failed_after``, ``change`` (:data:`CHANGES`).
    communities
        Per community: ``community_id``, ``district``, ``date_before``, ``date_after``,
        ``score_before``, ``score_after``, ``score_change``, ``passed_before``, ``passed_after``,
        ``fixed``, ``new_failures``, ``still_failing``.
    districts
        Per district: ``district``, ``communities`` (re-surveyed), ``score_before`` and
        ``score_after`` (means), ``score_change``, ``passed_before``, ``passed_after``, ``fixed``,
        ``new_failures``, ``still_failing``.
    district_items
        Per district and item: ``failing_before``, ``failing_after``, ``fixed``, ``new_failures``.
    """

    items: pd.DataFrame
    communities: pd.DataFrame
    districts: pd.DataFrame
    district_items: pd.DataFrame


def _fail_matrix(values: npt.NDArray[np.float64], std: SafetyStandard) -> npt.NDArray[np.bool_]:
    """Whether each (row, item) value meets its item's fail rule; n/a (NaN) never fails."""
    fail = np.zeros(values.shape, dtype=bool)
    ops = std.items["op"].to_numpy()
    thresholds = std.items["threshold"].to_numpy(float)
    for op in set(ops):
        cols = np.flatnonzero(ops == op)
        with np.errstate(invalid="ignore"):
            fail[:, cols] = _COMPARE[op](values[:, cols], thresholds[cols])
    fail &= ~np.isnan(values)
    return fail


def _grades(
    score: npt.NDArray[np.float64], veto: npt.NDArray[np.bool_], std: SafetyStandard
) -> npt.NDArray[np.object_]:
    names = [g for g, _, _ in std.grades]
    lows = np.array([lo for _, lo, _ in std.grades])
    pos = np.argmax(score[:, None] >= lows[None, :] - 1e-9, axis=1)  # grades are best first
    below = np.flatnonzero(lows < std.pass_mark - 1e-9)
    if len(below):  # a failed veto item: at most the best grade below the pass mark
        pos = np.where(veto & (lows[pos] >= std.pass_mark - 1e-9), below[0], pos)
    return np.asarray(names, dtype=object)[pos]


def _attributes(scores: pd.DataFrame, survey: Survey, communities: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """The community's name, district, street, type, residents: the survey's, else the layer's."""
    frame = survey.frame
    for col in _META:
        if col in frame.columns:
            scores[col] = frame[col].to_numpy()
    if communities is None:
        return scores
    layer = index_by_id(communities)
    ids = scores["community_id"].astype(str)
    for col in _LAYER:
        if col not in layer.columns:
            continue
        target = "community_name" if col == "name" else col
        values = layer[col].reindex(ids).to_numpy()
        if target in scores.columns:
            scores[target] = scores[target].where(
                scores[target].notna(), pd.Series(values, index=scores.index)
            )
        else:
            scores[target] = values
    return scores


def score_communities(
    survey: Survey | pd.DataFrame,
    standard: SafetyStandard | TableOverrides = None,
    *,
    communities: gpd.GeoDataFrame | None = None,
) -> CommunitySafety:
    """Score every community survey: score, grade, pass, section scores and the item breakdown.

    Parameters
    ----------
    survey
        A checked survey (:func:`read_survey`, :func:`check_survey`), or a sheet to check.
    standard
        The scoring standard (:func:`load_safety_standard`) or overrides of the shipped one; it
        must have the items the survey was checked against.
    communities
        The scenario's communities (indexed by id): their ``name``, ``district``, ``street``,
        ``community_type``, ``population`` and ``households`` are added to the scores where the
        survey lacks them.

    Returns
    -------
    CommunitySafety

    Raises
    ------
    InputError
        The survey lacks items of the standard, or a row is n/a on every item.

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
    >>> row = safety.scores.iloc[0]
    >>> round(float(row["score"] + row["points_lost"]), 6), row["grade"] in ("excellent", "good", "fair")
    (100.0, True)
    >>> items = safety.items[safety.items["community_id"] == row["community_id"]]
    >>> round(float(items["points"].sum() - row["score"]), 9)
    0.0
    """
    std = load_safety_standard(standard)
    if not isinstance(survey, Survey):
        survey = check_survey(survey, std, communities=communities)
    item_ids = list(std.items.index)
    missing = [i for i in item_ids if i not in survey.frame.columns]
    if missing:
        msg = (
            f"{survey.where} was checked against another standard: it lacks the items {missing[:10]} "
            f"of {std.where}. Fix: read the survey with the same standard (`read_survey(path, standard)`)."
        )
        raise InputError(msg)
    frame = survey.frame
    values = frame[item_ids].to_numpy(float)
    n, m = values.shape
    fail = _fail_matrix(values, std)
    applicable = ~np.isnan(values)
    raw = applicable * std.items["max_points"].to_numpy(float)
    total = raw.sum(axis=1)
    if (total <= 0).any():
        rows = list(np.flatnonzero(total <= 0)[:10] + 2)
        msg = (
            f"{survey.where}: rows {rows} are n/a on every item. "
            "Fix: survey at least one item, or drop the rows."
        )
        raise InputError(msg)
    max_points = raw * (100.0 / total)[:, None]
    points = np.where(fail, 0.0, max_points)
    score = points.sum(axis=1)
    veto_cols = np.flatnonzero(std.items["veto"].to_numpy(bool))
    veto = np.asarray(fail[:, veto_cols].any(axis=1) if len(veto_cols) else np.zeros(n, bool), dtype=bool)
    scores = pd.DataFrame(
        {
            "community_id": frame["community_id"].astype(str).to_numpy(),
            "survey_date": frame["survey_date"].to_numpy(),
            "score": score,
            "grade": _grades(score, veto, std),
            "passed": (score >= std.pass_mark - 1e-9) & ~veto,
            "points_lost": 100.0 - score,
            "failed_items": fail.sum(axis=1),
            "veto_failed": veto,
        }
    )
    ids = np.asarray(item_ids, dtype=object)
    scores["failed"] = ["; ".join(ids[r]) for r in fail]
    sections = std.items["section"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for sec in std.sections.index:
            cols = np.flatnonzero(sections == sec)
            sec_max = max_points[:, cols].sum(axis=1)
            scores[f"score_{sec}"] = np.where(
                sec_max > 0, 100.0 * points[:, cols].sum(axis=1) / sec_max, np.nan
            )
    scores = _attributes(scores, survey, communities)

    row_codes, row_ids = pd.factorize(scores["community_id"])
    item_cat = pd.Categorical(item_ids, categories=item_ids)
    sec_cat = pd.Categorical(sections, categories=list(std.sections.index))
    rules = std.items["rule"].to_numpy()
    items = pd.DataFrame(
        {
            "community_id": pd.Categorical.from_codes(np.repeat(row_codes, m), categories=row_ids),
            "survey_date": np.repeat(scores["survey_date"].to_numpy(), m),
            "section": pd.Categorical.from_codes(np.tile(sec_cat.codes, n), categories=sec_cat.categories),
            "item": pd.Categorical.from_codes(np.tile(item_cat.codes, n), categories=item_cat.categories),
            "points": points.ravel(),
            "max_points": max_points.ravel(),
            "failed": fail.ravel(),
            "value": values.ravel(),
            "rule": pd.Categorical.from_codes(np.tile(np.arange(m), n), categories=pd.Index(rules)),
            "not_applicable": (~applicable).ravel(),
        }
    )
    log.info(
        "%d surveys of %d communities scored: %d passed, mean score %.1f",
        n,
        len(row_ids),
        int(scores["passed"].sum()),
        float(score.mean()),
    )
    return CommunitySafety(scores, items, std, survey.where, survey.synthetic)


def _pairs(scores: pd.DataFrame) -> pd.DataFrame:
    """Each re-surveyed community's previous and latest survey dates."""
    order = scores.sort_values(["community_id", "survey_date"], kind="stable")
    last = order.groupby("community_id", sort=False).tail(2)
    counts = last.groupby("community_id", sort=False)["survey_date"].transform("size")
    last = last[counts.to_numpy() == 2]
    before = last.groupby("community_id", sort=False)["survey_date"].first()
    after = last.groupby("community_id", sort=False)["survey_date"].last()
    return pd.DataFrame({"date_before": before, "date_after": after})


def survey_changes(safety: CommunitySafety) -> SurveyChanges:
    """The change of every re-surveyed community's latest survey against its previous one.

    Per item (fixed, new failure, still failing, still passing, n/a), per community (score
    change, pass before and after, items fixed and newly failing) and per district (the same
    summed over its re-surveyed communities, and per item). Communities surveyed once are left out.

    Parameters
    ----------
    safety
        Scored surveys (:func:`score_communities`) holding two or more surveys of some communities.

    Returns
    -------
    SurveyChanges
        Empty frames when no community was surveyed twice.

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> sheet = synthetic_survey(city["communities"], seed=1, resurvey_share=0.3)
    >>> changes = survey_changes(score_communities(sheet))
    >>> len(changes.communities)
    45
    >>> changes.communities[["score_before", "score_after"]].notna().all().all()
    np.True_
    >>> set(changes.items["change"]) <= set(CHANGES)
    True
    """
    scores = safety.scores
    pairs = _pairs(scores)
    district = (
        scores.drop_duplicates("community_id", keep="last").set_index("community_id")["district"]
        if "district" in scores.columns
        else pd.Series(dtype=object)
    )
    items = safety.items
    cid = items["community_id"].astype(str)
    keyed = items.assign(community_id=cid)
    before = keyed.merge(
        pairs["date_before"].rename("survey_date").reset_index(), on=["community_id", "survey_date"]
    )
    after = keyed.merge(
        pairs["date_after"].rename("survey_date").reset_index(), on=["community_id", "survey_date"]
    )
    cols = ["value", "points", "failed", "not_applicable", "survey_date"]
    both = before[["community_id", "section", "item", *cols]].merge(
        after[["community_id", "item", *cols]], on=["community_id", "item"], suffixes=("_before", "_after")
    )
    fb, fa = both["failed_before"].to_numpy(bool), both["failed_after"].to_numpy(bool)
    na = both["not_applicable_before"].to_numpy(bool) | both["not_applicable_after"].to_numpy(bool)
    change = np.select(
        [na, fb & ~fa, ~fb & fa, fb & fa],
        ["not_applicable", "fixed", "new_failure", "still_failing"],
        "still_passing",
    )
    item_table = pd.DataFrame(
        {
            "community_id": both["community_id"],
            "district": both["community_id"].map(district).fillna("(no district)")
            if len(district)
            else "(no district)",
            "section": both["section"].astype(str),
            "item": both["item"].astype(str),
            "date_before": both["survey_date_before"],
            "date_after": both["survey_date_after"],
            "value_before": both["value_before"],
            "value_after": both["value_after"],
            "points_before": both["points_before"],
            "points_after": both["points_after"],
            "failed_before": fb,
            "failed_after": fa,
            "change": change,
        }
    )
    counted = pd.get_dummies(item_table["change"]).reindex(columns=list(CHANGES), fill_value=False)
    counted.insert(0, "community_id", item_table["community_id"])
    per = counted.groupby("community_id").sum(numeric_only=True)
    keyed_scores = scores.set_index(["community_id", "survey_date"])
    sb = keyed_scores.reindex(list(zip(pairs.index, pairs["date_before"], strict=True)))
    sa = keyed_scores.reindex(list(zip(pairs.index, pairs["date_after"], strict=True)))
    comm = pd.DataFrame(
        {
            "community_id": pairs.index.to_numpy(),
            "district": pairs.index.map(district).fillna("(no district)")
            if len(district)
            else "(no district)",
            "date_before": pairs["date_before"].to_numpy(),
            "date_after": pairs["date_after"].to_numpy(),
            "score_before": sb["score"].to_numpy(float),
            "score_after": sa["score"].to_numpy(float),
            "passed_before": sb["passed"].to_numpy(bool),
            "passed_after": sa["passed"].to_numpy(bool),
        }
    )
    comm.insert(6, "score_change", comm["score_after"] - comm["score_before"])
    for col in ("fixed", "new_failure", "still_failing"):
        comm[col if col != "new_failure" else "new_failures"] = (
            per[col].reindex(comm["community_id"]).fillna(0).astype(int).to_numpy()
        )
    districts = (
        comm.groupby("district", sort=True)
        .agg(
            communities=("community_id", "size"),
            score_before=("score_before", "mean"),
            score_after=("score_after", "mean"),
            passed_before=("passed_before", "sum"),
            passed_after=("passed_after", "sum"),
            fixed=("fixed", "sum"),
            new_failures=("new_failures", "sum"),
            still_failing=("still_failing", "sum"),
        )
        .reset_index()
    )
    districts.insert(4, "score_change", districts["score_after"] - districts["score_before"])
    district_items = (
        item_table.assign(
            failing_before=item_table["failed_before"],
            failing_after=item_table["failed_after"],
            fixed=item_table["change"] == "fixed",
            new_failures=item_table["change"] == "new_failure",
        )
        .groupby(["district", "section", "item"], sort=True)[
            ["failing_before", "failing_after", "fixed", "new_failures"]
        ]
        .sum()
        .reset_index()
    )
    return SurveyChanges(item_table, comm, districts, district_items)
