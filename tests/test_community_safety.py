"""The community safety standard, the survey import and the scores, against hand-computed rows.

Item values on the 100-point scale of the shipped standard (100 x section weight x item points
/ section points), used below:

- elevators 0.15, points 3 / 4 / 3: age 4.5, inspection 6, entrapments 4.5;
- gas 0.20, points 4 / 4 / 3: pipe age 80/11, alarms 80/11, bottled LPG 60/11;
- ebikes 0.15, points 5 / 4: indoor charging 75/9, charging points 60/9;
- electrical 0.15, points 4 / 3: wiring 60/7, overload 45/7;
- fire lanes and exits 0.15, points 5 / 5: 7.5 each;
- fire facilities 0.10, points 3 / 3 / 3: 10/3 each;
- emergency readiness 0.10, points 3 / 3 / 4: 3, 3, 4.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import box

from gis.errors import InputError
from risk_models.community_safety import (
    COMMUNITY_TYPES,
    ITEM_IDS,
    SECTION_IDS,
    check_survey,
    load_safety_standard,
    read_survey,
    score_communities,
    survey_changes,
)

#: A surveyed value that passes each item of the shipped standard.
PASS: dict[str, object] = {
    "elevator_age": 5,
    "elevator_inspection_overdue": "no",
    "elevator_entrapments": 0,
    "gas_pipe_age": 5,
    "gas_alarm_valve": 100,
    "bottled_lpg": "否",
    "ebike_indoor_charging": "no",
    "ebike_charging_points": 20,
    "electrical_old_wiring": "no",
    "electrical_overload": "no",
    "fire_lane_blocked": "no",
    "exits_locked": "no",
    "hydrant_pressure": 0.3,
    "extinguishers": 100,
    "smoke_alarms_elderly": 100,
    "drills_this_year": 2,
    "trained_volunteers": 20,
    "mini_fire_station": "有",
}


def _row(cid: str, day: str = "2024-05-15", **values: object) -> dict[str, object]:
    return {"community_id": cid, "survey_date": day, "district": "East", **PASS, **values}


def _communities(n: int = 6) -> gpd.GeoDataFrame:
    ids = [f"C{k:03d}" for k in range(1, n + 1)]
    return gpd.GeoDataFrame(
        {
            "name": [f"Estate {k}" for k in range(n)],
            "district": ["East"] * n,
            "population": 1000.0 + np.arange(n),
        },
        index=pd.Index(ids, name="id"),
        geometry=[box(116.40 + 0.01 * k, 39.90, 116.405 + 0.01 * k, 39.905) for k in range(n)],
        crs=4326,
    )


HAND = pd.DataFrame(
    [
        _row("C001"),
        _row("C002", elevator_age=20, bottled_lpg="是"),
        _row("C003", exits_locked="yes"),
        _row(
            "C004",
            elevator_age="n/a",
            elevator_inspection_overdue="不适用",
            elevator_entrapments="n/a",
            fire_lane_blocked="yes",
        ),
        _row("C005", elevator_age=15, hydrant_pressure=0.10, drills_this_year=0, gas_alarm_valve="79.9%"),
    ]
)


# ---------------------------------------------------------------------------------------------
# the standard


def test_shipped_standard_has_the_shared_ids_sections_and_a_source_for_every_item() -> None:
    std = load_safety_standard()
    assert tuple(std.items.index) == ITEM_IDS
    assert tuple(std.sections.index) == SECTION_IDS
    assert std.sections["weight"].sum() == pytest.approx(1.0)
    assert std.items["max_points"].sum() == pytest.approx(100.0)
    assert (std.items["source"].str.len() > 10).all()
    assert std.items.loc["exits_locked", "veto"] and not std.items.loc["fire_lane_blocked", "veto"]
    assert std.items.loc["drills_this_year", "rule"] == "drills_this_year fails if < 1 per year"
    assert [g for g, _, _ in std.grades] == ["excellent", "good", "fair", "poor"]


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "city_standard.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[sections.gas]\nwieght = 0.2\n", "sections.gas.wieght"),
        ("[sections.gas]\nweight = 0.3\n", "sections.*.weight"),
        (
            '[sections.gas.items.gas_pipe_age]\nfail_if = "older than 20"\n',
            "sections.gas.items.gas_pipe_age.fail_if",
        ),
        ('[sections.gas.items.bottled_lpg]\nfail_if = "> 1"\n', "sections.gas.items.bottled_lpg.fail_if"),
        ("[sections.gas.items.gas_pipe_age]\nrange = [80, 0]\n", "sections.gas.items.gas_pipe_age.range"),
        (
            '[sections.gas.items.gas_pipe_age]\ncategory = "pipes"\n',
            "sections.gas.items.gas_pipe_age.category",
        ),
        (
            '[sections.gas.items.gas_pipe_age]\ncriteria = ["FI-11"]\n',
            "sections.gas.items.gas_pipe_age.criteria",
        ),
        ("[scoring]\npass_mark = 120\n", "scoring.pass_mark"),
        ("[grades.poor]\nmin_score = 10\n", "grades"),
        ("colour = 1\n", "colour"),
    ],
)
def test_a_bad_city_standard_names_its_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_safety_standard(path)
    assert str(path) in str(err.value)
    assert f"`{key}`" in str(err.value)
    assert "Fix:" in str(err.value)


def test_city_overrides_merge_and_a_whole_standard_replaces(tmp_path: Path) -> None:
    std = load_safety_standard(
        _toml(tmp_path, "[scoring]\npass_mark = 85\n[sections.gas.items.bottled_lpg]\npoints = 0\n")
    )
    assert std.pass_mark == 85.0
    assert "bottled_lpg" not in std.items.index  # points 0 drops the item
    assert std.items.loc["gas_pipe_age", "max_points"] == pytest.approx(10.0)  # gas 20 points over 2 items
    whole = _toml(
        tmp_path,
        'base = "none"\n[scoring]\npass_mark = 60\n'
        "[grades.pass]\nmin_score = 60\n[grades.fail]\nmin_score = 0\n"
        '[sections.lanes]\nweight = 1.0\n[sections.lanes.items.fire_lane_blocked]\nkind = "yes_no"\n'
        'fail_if = "yes"\npoints = 1\ncategory = "fire_lane_blocked"\nheaders = ["通道堵塞"]\n',
    )
    mini = load_safety_standard(whole)
    assert list(mini.items.index) == ["fire_lane_blocked"]
    safety = score_communities(
        pd.DataFrame({"社区编号": ["A", "B"], "调查日期": ["2024-01-02"] * 2, "通道堵塞": ["是", "否"]}), mini
    )
    assert safety.scores["score"].tolist() == [0.0, 100.0]
    assert safety.scores["grade"].tolist() == ["fail", "pass"]


# ---------------------------------------------------------------------------------------------
# scores against hand-computed rows


def test_scores_equal_hand_computed_rows() -> None:
    safety = score_communities(check_survey(HAND, communities=_communities()))
    s = safety.scores.set_index("community_id")
    expected = {
        "C001": 100.0,
        "C002": 100.0 - 4.5 - 60 / 11,
        "C003": 100.0 - 7.5,
        "C004": (85.0 - 7.5) / 85.0 * 100.0,  # elevators n/a: 85 points left, scaled back to 100
        "C005": 100.0 - 3.0 - 80 / 11,  # age 15 and 0.10 MPa are not failures; no drill, 79.9 % alarms are
    }
    for cid, score in expected.items():
        assert s.loc[cid, "score"] == pytest.approx(score, abs=1e-9), cid
        assert s.loc[cid, "points_lost"] == pytest.approx(100.0 - score, abs=1e-9)
    assert s["grade"].tolist() == ["excellent", "excellent", "fair", "excellent", "good"]
    assert s["passed"].tolist() == [True, True, False, True, True]
    assert (
        s.loc["C003", "veto_failed"] and s.loc["C003", "score"] > 90
    )  # a locked exit fails whatever the score
    assert s.loc["C002", "failed"] == "elevator_age; bottled_lpg"
    assert s.loc["C005", "failed"] == "gas_alarm_valve; drills_this_year"
    assert s.loc["C002", "score_gas"] == pytest.approx(100 * 8 / 11)
    assert np.isnan(s.loc["C004", "score_elevators"])
    assert s.loc["C004", "score_fire_lanes_exits"] == pytest.approx(50.0)


def test_item_breakdown_sums_to_the_score_and_carries_values_and_rules() -> None:
    safety = score_communities(HAND)
    items = safety.items
    assert len(items) == len(HAND) * len(ITEM_IDS)
    assert list(items.columns[:10]) == [
        "community_id",
        "survey_date",
        "section",
        "item",
        "points",
        "max_points",
        "failed",
        "value",
        "rule",
        "not_applicable",
    ]
    total = items.groupby("community_id", observed=True)["points"].sum()
    assert np.allclose(
        total.to_numpy(), safety.scores.set_index("community_id")["score"].reindex(total.index)
    )
    c4 = items[items["community_id"] == "C004"].set_index("item")
    assert c4.loc["elevator_age", "max_points"] == 0 and bool(c4.loc["elevator_age", "not_applicable"])
    assert c4.loc["fire_lane_blocked", "max_points"] == pytest.approx(7.5 * 100 / 85)
    c2 = items[items["community_id"] == "C002"].set_index("item")
    assert c2.loc["elevator_age", "value"] == 20 and c2.loc["bottled_lpg", "value"] == 1.0
    assert c2.loc["elevator_age", "rule"] == "elevator_age fails if > 15 years"
    failed = safety.failed()
    assert set(failed["item"].astype(str)) == {
        "elevator_age",
        "bottled_lpg",
        "exits_locked",
        "fire_lane_blocked",
        "gas_alarm_valve",
        "drills_this_year",
    }
    assert (
        dict(zip(failed["item"].astype(str), failed["category"], strict=True))["exits_locked"]
        == "fire_facilities"
    )


def test_chinese_headers_gb18030_and_excel_read_the_same_as_english(tmp_path: Path) -> None:
    std = load_safety_standard()
    zh = HAND.rename(
        columns={
            "community_id": "社区编号",
            "survey_date": "调查日期",
            "district": "区县",
            **dict(zip(std.items.index, std.items["label_zh"], strict=True)),
        }
    )
    csv = tmp_path / "survey.csv"
    csv.write_bytes(zh.to_csv(index=False).encode("gb18030"))
    xlsx = tmp_path / "survey.xlsx"
    zh.assign(调查日期=pd.to_datetime(zh["调查日期"])).to_excel(xlsx, index=False)  # Excel date cells
    english = score_communities(HAND).scores
    for path in (csv, xlsx):
        got = score_communities(read_survey(path, communities=_communities())).scores
        assert got["score"].tolist() == pytest.approx(english["score"].tolist()), path
        assert got["district"].tolist() == ["East"] * 5


def _error(rows: pd.DataFrame, **kwargs: object) -> str:
    with pytest.raises(InputError) as err:
        check_survey(rows, where="`survey.csv`", **kwargs)  # type: ignore[arg-type]
    text = str(err.value)
    assert text.startswith("`survey.csv`") and "Fix:" in text
    return text


def test_unknown_community_codes_name_the_rows_and_the_fix() -> None:
    rows = pd.DataFrame([_row("C001"), _row("X9"), _row("C002"), _row("X9", "2024-06-01")])
    text = _error(rows, communities=_communities())
    assert "rows [3, 5]" in text and "['X9']" in text and "`communities` layer" in text


def test_codes_that_lost_their_leading_zeros_say_so() -> None:
    layer = _communities().rename(index=lambda c: "0" + c[1:])  # ids 0001 ..
    assert "leading zeros" in _error(pd.DataFrame([_row("1")]), communities=layer)
    ok = check_survey(pd.DataFrame([_row(" 0001 ")]), communities=layer)
    assert ok.frame["community_id"].tolist() == ["0001"]


def test_values_out_of_range_unreadable_blank_and_not_applicable_name_the_rows() -> None:
    rows = pd.DataFrame(
        [
            _row("C001", gas_alarm_valve=120),
            _row("C002", hydrant_pressure="high"),
            _row("C003", drills_this_year=""),
            _row("C004", exits_locked="n/a"),
            _row("C005", bottled_lpg="maybe", elevator_age=-1),
        ]
    )
    text = _error(rows)
    assert "rows [2]: `gas_alarm_valve`" in text and "outside 0..100 %" in text
    assert "rows [3]: `hydrant_pressure`" in text and "not a number" in text
    assert "rows [4]: `drills_this_year`" in text and "blank" in text
    assert "rows [5]: `exits_locked`" in text and "does not allow" in text
    assert "rows [6]: `bottled_lpg`" in text and "not yes or no" in text
    assert "rows [6]: `elevator_age`" in text and "outside 0..60 years" in text


def test_missing_item_columns_name_the_item_and_its_chinese_header() -> None:
    text = _error(HAND.drop(columns=["gas_alarm_valve", "survey_date"]))
    assert "survey_date" in text and "gas_alarm_valve (燃气报警器及自动切断阀安装率)" in text


def test_duplicate_community_and_date_rows_are_refused() -> None:
    rows = pd.DataFrame([_row("C001"), _row("C002"), _row("C001", "2024/5/15")])
    text = _error(rows)
    assert "rows [2, 4]" in text and "C001 2024-05-15" in text


def test_bad_dates_and_community_types_are_refused() -> None:
    rows = pd.DataFrame([_row("C001", "someday"), {**_row("C002"), "community_type": "castle"}])
    rows.loc[0, "community_type"] = "老旧小区"
    text = _error(rows)
    assert "rows [2]: survey date ['someday']" in text and "rows [3]: community type ['castle']" in text
    good = check_survey(rows.assign(survey_date="2024年5月6日", community_type=["老旧小区", "new_highrise"]))
    assert good.frame["community_type"].tolist() == ["old_town", "new_highrise"]
    assert set(good.frame["community_type"]) <= set(COMMUNITY_TYPES)


# ---------------------------------------------------------------------------------------------
# re-surveys


def test_resurvey_changes_per_item_community_and_district() -> None:
    rows = pd.DataFrame(
        [
            _row("C001", "2024-05-15", elevator_age=20, bottled_lpg="yes"),
            _row("C001", "2024-11-15", elevator_age=21, fire_lane_blocked="yes"),
            _row("C002", "2024-05-15", gas_alarm_valve=50),
            _row("C002", "2025-05-15", gas_alarm_valve=90),
            _row("C002", "2024-11-15", gas_alarm_valve=60, drills_this_year=0),  # the previous of 2025-05
            _row("C003", "2024-05-15"),  # surveyed once: left out
        ]
    ).assign(district=["East", "East", "West", "West", "West", "East"])
    changes = survey_changes(score_communities(rows))
    items = changes.items.set_index(["community_id", "item"])["change"]
    assert items[("C001", "bottled_lpg")] == "fixed"
    assert items[("C001", "fire_lane_blocked")] == "new_failure"
    assert items[("C001", "elevator_age")] == "still_failing"
    assert items[("C001", "gas_pipe_age")] == "still_passing"
    assert items[("C002", "gas_alarm_valve")] == "fixed" and items[("C002", "drills_this_year")] == "fixed"
    comm = changes.communities.set_index("community_id")
    assert list(comm.index) == ["C001", "C002"]
    assert comm.loc["C001", "score_before"] == pytest.approx(100 - 4.5 - 60 / 11)
    assert comm.loc["C001", "score_after"] == pytest.approx(100 - 4.5 - 7.5)
    assert comm.loc["C001", "score_change"] == pytest.approx(60 / 11 - 7.5)
    assert comm.loc["C002", "date_before"] == pd.Timestamp("2024-11-15")
    assert comm.loc["C002", "score_change"] == pytest.approx(80 / 11 + 3)
    assert (
        comm.loc["C001", "fixed"],
        comm.loc["C001", "new_failures"],
        comm.loc["C001", "still_failing"],
    ) == (1, 1, 1)
    districts = changes.districts.set_index("district")
    assert districts.loc["East", "communities"] == 1 and districts.loc["West", "fixed"] == 2
    assert districts.loc["West", "score_change"] == pytest.approx(80 / 11 + 3)
    di = changes.district_items.set_index(["district", "item"])
    assert di.loc[("East", "fire_lane_blocked"), "new_failures"] == 1
    assert di.loc[("West", "gas_alarm_valve"), "failing_before"] == 1


def test_no_resurvey_gives_empty_change_tables() -> None:
    changes = survey_changes(score_communities(HAND))
    assert changes.items.empty and changes.communities.empty and changes.districts.empty


def test_scores_read_names_and_residents_from_the_communities_layer() -> None:
    safety = score_communities(HAND.drop(columns="district"), communities=_communities())
    s = safety.scores.set_index("community_id")
    assert s.loc["C003", "community_name"] == "Estate 2"
    assert s.loc["C003", "district"] == "East" and s.loc["C003", "population"] == 1002.0


# ---------------------------------------------------------------------------------------------
# properties


@st.composite
def _surveys(draw: st.DrawFn) -> pd.DataFrame:
    """Surveys of the shipped standard: each item passing, failing or (where allowed) n/a."""
    std = load_safety_standard()
    n = draw(st.integers(1, 6))
    rows = []
    for k in range(n):
        row = _row(f"C{k:03d}")
        for item, spec in std.items.iterrows():
            choice = draw(
                st.sampled_from(["pass", "fail", "na"] if spec["not_applicable"] else ["pass", "fail"])
            )
            if choice == "na":
                row[item] = "n/a"
            elif choice == "fail":
                row[item] = FAIL[str(item)]
        rows.append(row)
    return pd.DataFrame(rows)


#: A surveyed value that fails each item.
FAIL: dict[str, object] = {
    "elevator_age": 16,
    "elevator_inspection_overdue": "yes",
    "elevator_entrapments": 3,
    "gas_pipe_age": 21,
    "gas_alarm_valve": 79,
    "bottled_lpg": "yes",
    "ebike_indoor_charging": "yes",
    "ebike_charging_points": 9,
    "electrical_old_wiring": "yes",
    "electrical_overload": "yes",
    "fire_lane_blocked": "yes",
    "exits_locked": "yes",
    "hydrant_pressure": 0.09,
    "extinguishers": 89,
    "smoke_alarms_elderly": 79,
    "drills_this_year": 0,
    "trained_volunteers": 9,
    "mini_fire_station": "no",
}


@settings(max_examples=40, deadline=None)
@given(_surveys(), st.data())
def test_mending_a_failed_item_gains_its_points_and_never_lowers_the_score(
    rows: pd.DataFrame, data: st.DataObject
) -> None:
    safety = score_communities(rows)
    items, scores = safety.items, safety.scores
    assert scores["score"].between(0, 100 + 1e-9).all()
    total = items.groupby("community_id", observed=True, sort=False)["points"].sum().to_numpy()
    np.testing.assert_allclose(total, scores["score"].to_numpy(), atol=1e-9)
    assert (
        scores["failed_items"]
        == items.groupby("community_id", observed=True, sort=False)["failed"].sum().to_numpy()
    ).all()
    failed = items[items["failed"]]
    if failed.empty:
        assert np.allclose(scores["score"], 100.0)
        return
    pick = failed.iloc[data.draw(st.integers(0, len(failed) - 1))]
    mended = rows.copy()
    k = int(str(pick["community_id"])[1:])
    mended.loc[k, str(pick["item"])] = PASS[str(pick["item"])]
    after = score_communities(mended).scores
    gain = after.loc[k, "score"] - scores.loc[k, "score"]
    assert gain == pytest.approx(pick["max_points"], abs=1e-9)
    assert after.loc[k, "passed"] or not scores.loc[k, "passed"]  # passing stays passing
    others = after.index != k
    np.testing.assert_allclose(after.loc[others, "score"], scores.loc[others, "score"])
