"""Failed survey items into the hidden-danger register: category, place, deadline, once each."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from risk_models.community_safety import register_failed_items, score_communities, survey_key, survey_keys
from risk_models.register import load_workflow
from service.register_files import open_register
from tests.test_community_safety import _communities, _row


@pytest.fixture
def communities() -> gpd.GeoDataFrame:
    return _communities()


def _safety(communities: gpd.GeoDataFrame, rows: list[dict[str, object]]):
    return score_communities(pd.DataFrame(rows), communities=communities)


def test_failed_items_become_verified_register_items_with_category_place_and_deadline(
    communities: gpd.GeoDataFrame,
) -> None:
    safety = _safety(
        communities,
        [
            _row("C001", elevator_inspection_overdue="yes", bottled_lpg="yes"),
            _row("C002", fire_lane_blocked="yes", ebike_charging_points=2),
            _row("C003"),
        ],
    )
    update = register_failed_items(safety, communities, first_counter={2024: 41})
    assert list(update.items) == [f"YH-2024-{k:06d}" for k in (41, 42, 43, 44)]
    by_key = {update.keys[n]: item for n, item in update.items.items()}
    wf = load_workflow()
    lift = by_key[survey_key("C001", "2024-05-15", "elevator_inspection_overdue")]
    assert (lift.category, lift.status, lift.community_id) == ("elevator", "verified", "C001")
    assert lift.grade == "major" and lift.criteria == ("SE-01",)  # SE-01 is a direct criterion
    assert lift.deadline == date(2024, 5, 15) + pd.Timedelta(days=wf.deadlines["major"].limit_days)
    lpg = by_key[survey_key("C001", "2024-05-15", "bottled_lpg")]
    assert (lpg.category, lpg.grade) == ("gas", "general")
    assert lpg.deadline == date(2024, 5, 15) + pd.Timedelta(days=wf.deadlines["general"].limit_days)
    lane = by_key[survey_key("C002", "2024-05-15", "fire_lane_blocked")]
    assert lane.category == "fire_lane_blocked" and lane.grade == "general"  # FI-11 alone is indirect
    charge = by_key[survey_key("C002", "2024-05-15", "ebike_charging_points")]
    assert (
        charge.category == "ebike_indoor_charging" and "surveyed 2 per 100 households" in charge.description
    )
    polygon = communities.loc["C002", "geometry"]
    assert polygon.contains(shapely.Point(charge.x, charge.y))  # the community's point, WGS84
    assert update.areas.loc[lane.number, "district"] == "East"
    assert [e.action for e in update.events] == ["report", "verify"] * 4


def test_reimport_adds_nothing_and_a_resurvey_adds_what_still_fails(
    tmp_path: Path, communities: gpd.GeoDataFrame
) -> None:
    reg = open_register(tmp_path / "reg", create=True)
    first = _safety(communities, [_row("C001", bottled_lpg="yes", exits_locked="yes")])
    update = register_failed_items(first, communities, first_counter=reg.next_counters(), existing=reg.events)
    reg.append(update.events, update.areas)
    assert len(update.items) == 2
    for _ in range(2):  # the same survey again, through a re-read register
        reg = open_register(tmp_path / "reg")
        again = register_failed_items(
            first, communities, first_counter=reg.next_counters(), existing=reg.events
        )
        assert not again.items and len(again.skipped) == 2
    later = _safety(
        communities,
        [_row("C001", bottled_lpg="yes", exits_locked="yes"), _row("C001", "2024-11-20", bottled_lpg="yes")],
    )
    update = register_failed_items(later, communities, first_counter=reg.next_counters(), existing=reg.events)
    assert list(update.keys.values()) == [survey_key("C001", "2024-11-20", "bottled_lpg")]
    assert list(update.items) == ["YH-2024-000003"]
    reg.append(update.events, update.areas)
    assert len(open_register(tmp_path / "reg").items) == 3
    assert set(survey_keys(open_register(tmp_path / "reg").events)) == {
        survey_key("C001", "2024-05-15", "bottled_lpg"),
        survey_key("C001", "2024-05-15", "exits_locked"),
        survey_key("C001", "2024-11-20", "bottled_lpg"),
    }


def test_keys_survive_community_codes_with_spaces(tmp_path: Path) -> None:
    layer = _communities().rename(index={"C001": "Garden Estate 1"})
    safety = _safety(layer, [_row("Garden Estate 1", bottled_lpg="yes")])
    first = register_failed_items(safety, layer, first_counter={})
    assert set(survey_keys(first.events)) == {survey_key("Garden Estate 1", "2024-05-15", "bottled_lpg")}
    again = register_failed_items(safety, layer, first_counter={2024: 2}, existing=first.events)
    assert not again.items


def test_unverified_import_and_unknown_community(communities: gpd.GeoDataFrame) -> None:
    from gis.errors import InputError

    safety = _safety(None, [_row("C001", bottled_lpg="yes"), _row("Z9", bottled_lpg="yes")])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"communities \['Z9'\]"):
        register_failed_items(safety, communities, first_counter={})
    ok = _safety(communities, [_row("C001", bottled_lpg="yes")])
    update = register_failed_items(ok, communities, first_counter={}, verify=False)
    assert [i.status for i in update.items.values()] == ["reported"]
