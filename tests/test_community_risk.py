"""The safety score in the risk model's vulnerability, and the synthetic survey of the demo city."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import gis
from gis.demo import SYNTHETIC_SOURCE, synthetic_survey
from gis.errors import InputError
from risk_models import load_weights, score_scenario, vulnerability_index
from risk_models.community_safety import ITEM_IDS, check_survey, score_communities


@pytest.fixture(scope="module")
def city() -> dict[str, Any]:
    return gis.demo_city(n_road_nodes=2000)


@pytest.fixture(scope="module")
def safety(city: dict[str, Any]):
    return score_communities(synthetic_survey(city["communities"], seed=7), communities=city["communities"])


def test_without_a_survey_nothing_changes_and_weight_zero_is_the_same(city: dict[str, Any], safety) -> None:
    plain = score_scenario(city, learn=False).units
    zero = score_scenario(
        city,
        learn=False,
        community_safety=safety.safety_score(),
        risk_weights={"vulnerability": {"community_safety": {"weight": 0.0}}},
    ).units
    pd.testing.assert_series_equal(plain["vulnerability_index"], zero["vulnerability_index"])
    pd.testing.assert_series_equal(plain["score"], zero["score"])
    assert "vuln_safety_shortfall" not in plain.columns


def test_the_safety_term_is_the_documented_weighted_mean(city: dict[str, Any], safety) -> None:
    w = load_weights()
    census_weight = sum(float(v["weight"]) for v in w["vulnerability"]["indicators"].values())
    w_safety = float(w["vulnerability"]["community_safety"]["weight"])
    score = safety.safety_score()
    partial = score.iloc[: len(score) // 2]  # half the communities surveyed
    plain = score_scenario(city, learn=False).units
    res = score_scenario(city, learn=False, community_safety=partial)
    units = res.units
    surveyed = units.index.isin(partial.index)
    v0 = plain["vulnerability_index"]
    expected = (v0 * census_weight + w_safety * (100 - partial.reindex(units.index)) / 100) / (
        census_weight + w_safety
    )
    np.testing.assert_allclose(units.loc[surveyed, "vulnerability_index"], expected[surveyed], rtol=1e-12)
    np.testing.assert_array_equal(units.loc[~surveyed, "vulnerability_index"], v0[~surveyed])
    lo, hi = float(w["vulnerability"]["factor_min"]), float(w["vulnerability"]["factor_max"])
    np.testing.assert_allclose(units["vulnerability_factor"], lo + (hi - lo) * units["vulnerability_index"])
    # the index moves towards the shortfall: up for a community whose survey is worse than its census
    shortfall = (100 - partial) / 100
    moved = units.loc[partial.index, "vulnerability_index"] - v0[partial.index]
    assert (np.sign(moved.round(12)) == np.sign((shortfall - v0[partial.index]).round(12))).all()
    assert any("Community safety survey: 75 of 150 communities surveyed" in n for n in res.notes)


def test_grid_units_take_the_surveyed_communities_they_overlap(city: dict[str, Any], safety) -> None:
    plain = score_scenario(city, units="grid:1000", learn=False).units
    res = score_scenario(city, units="grid:1000", learn=False, community_safety=safety.safety_score()).units
    changed = ~np.isclose(res["vulnerability_index"], plain["vulnerability_index"])
    assert changed.mean() > 0.5
    assert res["vuln_safety_shortfall"].between(0, 1).all() or res["vuln_safety_shortfall"].isna().any()


def test_scores_outside_0_100_are_refused() -> None:
    df = pd.DataFrame(
        {
            "share_aged_65plus": [0.1],
            "share_built_pre2000": [0.5],
            "share_highrise_no_elevator": [0.1],
            "share_gas_supply": [0.9],
        }
    )
    with pytest.raises(InputError, match=r"outside 0\.\.100"):
        vulnerability_index(df, safety_score=pd.Series([130.0]))


# ---------------------------------------------------------------------------------------------
# the synthetic survey of the demo city


def test_synthetic_survey_is_deterministic_labelled_and_reads_cleanly(city: dict[str, Any]) -> None:
    before = city["communities"].copy()
    a = synthetic_survey(city["communities"], seed=5, resurvey_share=0.2)
    b = synthetic_survey(city["communities"], seed=5, resurvey_share=0.2)
    c = synthetic_survey(city["communities"], seed=6, resurvey_share=0.2)
    pd.testing.assert_frame_equal(a, b)
    assert not a[list(ITEM_IDS)].equals(c[list(ITEM_IDS)])
    pd.testing.assert_frame_equal(city["communities"], before)  # the demo city is not changed
    assert (a["data_source"] == SYNTHETIC_SOURCE).all() and a.attrs["synthetic"]
    survey = check_survey(a, communities=city["communities"])
    assert survey.synthetic and len(survey.frame) == 180
    assert score_communities(survey).synthetic


def test_synthetic_survey_has_the_realistic_spread(city: dict[str, Any]) -> None:
    sheet = synthetic_survey(city["communities"], seed=11)
    safety = score_communities(sheet, communities=city["communities"])
    items = safety.items.merge(safety.scores[["community_id", "community_type"]], on="community_id")
    rate = items.groupby(["community_type", "section"], observed=True)["failed"].mean()
    assert rate[("old_town", "gas")] > 2 * rate[("new_highrise", "gas")]
    assert rate[("old_town", "elevators")] > rate[("new_highrise", "elevators")]
    assert rate[("old_town", "electrical")] > 2 * rate[("new_highrise", "electrical")]
    assert rate[("new_highrise", "ebikes")] > rate[("new_highrise", "gas")]
    assert rate[("new_highrise", "ebikes")] > 0.4
    mean = safety.scores.groupby("community_type")["score"].mean()
    assert mean["old_town"] < mean["mixed"] < mean["new_highrise"]
    assert set(safety.scores["community_type"]) == {"old_town", "mixed", "new_highrise", "resettlement"}
    assert 0.05 < safety.scores["passed"].mean() < 0.6  # some pass, most have work to do
