"""Call rates by area and hour, and service times, from incidents or risk (planning.reliability)."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point, box

from gis import InputError
from planning.reliability import (
    area_service_times,
    call_rates,
    load_service_times,
    rates_from_risk,
    response_units,
)


@pytest.fixture
def areas() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [20_000, 10_000], "risk_score": [1.0, 3.0]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        index=pd.Index(["C1", "C2"], name="id"),
        crs=32650,
    )


def _incidents(times: list[str], xs: list[float], **cols: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"time": times, **cols},
        geometry=[Point(x, 50) for x in xs],
        index=pd.Index([f"I{k}" for k in range(len(times))], name="id"),
        crs=32650,
    )


def test_rates_by_area_and_hour_by_hand(areas: gpd.GeoDataFrame) -> None:
    inc = _incidents(
        ["2024-03-01T08:05", "2024-03-01T08:55", "2024-03-04T17:30", "2024-03-02T08:10", "2024-03-03T23:59"],
        [10, 20, 150, 150, 500],  # the last lies outside both: nearest area C2
    )
    r = call_rates(inc, areas)
    assert r.attrs["period_days"] == 4.0
    assert list(r.columns) == list(range(24))
    assert r.loc["C1", 8] == pytest.approx(2 / 4)
    assert r.loc["C2", 8] == pytest.approx(1 / 4)
    assert r.loc["C2", 17] == pytest.approx(1 / 4) and r.loc["C2", 23] == pytest.approx(1 / 4)
    assert r.to_numpy().sum() * 4 == pytest.approx(5)
    assert call_rates(inc, areas, period_days=10).loc["C1", 8] == pytest.approx(0.2)
    city = call_rates(inc, areas, hours="city")  # C1's 2 calls shaped by the city's 3 of 5 at 08:00
    assert city.loc["C1", 8] == pytest.approx(2 / 4 * 3 / 5)
    assert city.sum(axis=1).to_numpy() == pytest.approx(r.sum(axis=1).to_numpy())
    with pytest.raises(InputError, match="`hours`"):
        call_rates(inc, areas, hours="district")


def test_bad_incident_rows_are_named(areas: gpd.GeoDataFrame) -> None:
    inc = _incidents(["2024-03-01T08:05", "yesterday", None], [10, 20, 30])
    with pytest.raises(InputError, match=r"city\.gpkg.*rows I1, I2.*ISO 8601"):
        call_rates(inc, areas, source="city.gpkg")
    inc = _incidents(["2024-03-01T08:05"] * 2, [10, 20], category=["traffic"] * 2, duration_min=[30, -5])
    with pytest.raises(InputError, match=r"rows I1 .*duration_min"):
        area_service_times(inc, areas)
    with pytest.raises(InputError, match="period_days"):
        call_rates(inc, areas, period_days=0)


def test_rates_from_risk_share_a_city_total(areas: gpd.GeoDataFrame) -> None:
    r = rates_from_risk(areas, calls_per_year=3650)
    assert r.sum(axis=1).to_numpy() * 365 == pytest.approx([912.5, 2737.5])  # risk 1 : 3
    shares = np.asarray(load_service_times()["call_rates"]["hour_shares"])
    assert (r.loc["C1"] / r.loc["C1"].sum()).to_numpy() == pytest.approx(shares)
    by_people = rates_from_risk(areas, weight_column="population")  # default: 1.5 per 1,000 a year
    assert by_people.to_numpy().sum() * 365 == pytest.approx(45.0)
    with pytest.raises(InputError, match="no `bogus` column"):
        rates_from_risk(areas, weight_column="bogus")
    with pytest.raises(InputError, match=r"rows C2"):
        rates_from_risk(areas.assign(risk_score=[1.0, -1.0]))


def test_service_times_by_category_and_own_durations(areas: gpd.GeoDataFrame) -> None:
    inc = _incidents(
        ["2024-03-01T08:00"] * 4,
        [10, 20, 150, 160],
        category=["traffic", "hazardous_chemicals", "unknown_kind", "residential_fire"],
        duration_min=[None, None, None, 100.0],
    )
    got = area_service_times(inc, areas)
    assert got["C1"] == pytest.approx((40 + 120) / 2)
    assert got["C2"] == pytest.approx((45 + 100) / 2)  # unknown category: the table's default
    tuned = area_service_times(inc, areas, service_times={"categories": {"traffic": {"minutes": 20}}})
    assert tuned["C1"] == pytest.approx(70)
    assert area_service_times(None, areas).tolist() == [45.0, 45.0]
    with pytest.raises(InputError, match=r"\[categories.traffic\] `minutes`"):
        load_service_times({"categories": {"traffic": {"minutes": 0}}})
    with pytest.raises(InputError, match="hour_shares"):
        load_service_times({"call_rates": {"hour_shares": [0.5, 0.5]}})


def test_response_units_per_grade_and_own_column() -> None:
    st = pd.DataFrame(
        {"grade": ["grade1", "grade2", "special"], "response_units": [None, 3, None]}, index=list("abc")
    )
    assert response_units(st).tolist() == [2, 3, 2]
    with pytest.raises(InputError, match=r"rows x .*response_units"):
        response_units(pd.DataFrame({"grade": ["castle"]}, index=["x"]))
