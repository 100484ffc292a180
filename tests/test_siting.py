"""Siting rules of planning.siting against hand-computed distances and wind sectors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString, Point, Polygon

from gis.errors import InputError
from planning.siting import apply_siting_rules, downwind, generate_candidates

CRS = "EPSG:32649"


def _sites(*xy: tuple[float, float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=[Point(x, y) for x, y in xy], index=[f"s{i}" for i in range(len(xy))], crs=CRS
    )


def test_hazard_200m_hand_distances() -> None:
    sites = _sites((0, 0), (200.0, 0), (200.5, 0), (0, 300))
    hz = gpd.GeoDataFrame(
        {"category": ["fuel_gas", "construction"]},
        geometry=[Point(400, 0), Point(0, 310)],  # a construction site is not flammable/explosive
        index=["H1", "H2"],
        crs=CRS,
    )
    out = apply_siting_rules(sites, hazards=hz)
    np.testing.assert_allclose(out["hazard_m"], [400.0, 200.0, 199.5, 500.0])
    assert out["excluded_by"].tolist() == ["", "", "hazard_200m", ""]
    assert out["nearest_hazard"].tolist() == ["H1"] * 4


def test_sensitive_50m_uses_site_geometry_and_kinds() -> None:
    sites = _sites((0, 0), (100, 0), (300, 0))
    school = Polygon([(140, -10), (160, -10), (160, 10), (140, 10)])  # 40 m from s1
    sens = gpd.GeoDataFrame(
        {"kind": ["school", "other"]}, geometry=[school, Point(310, 0)], index=["K1", "O1"], crs=CRS
    )
    out = apply_siting_rules(sites, sensitive_sites=sens)
    np.testing.assert_allclose(out["sensitive_m"], [140.0, 40.0, 140.0])
    assert out["excluded_by"].tolist() == ["", "sensitive_50m", ""]


def test_arterial_frontage() -> None:
    sites = _sites((0, 20), (0, 45), (500, 5))
    roads = gpd.GeoDataFrame(
        {"highway": ["primary", "residential"]},
        geometry=[LineString([(-100, 0), (100, 0)]), LineString([(400, 0), (600, 0)])],
        crs=CRS,
    )
    out = apply_siting_rules(sites, roads=roads)
    np.testing.assert_allclose(out["frontage_m"][:2], [20.0, 45.0])
    assert out["excluded_by"].tolist() == ["", "no_arterial_frontage", "no_arterial_frontage"]
    assert out["eligible"].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("bearing", "wind_from", "expected"),
    [
        (180, 0, True),  # north wind blows south: south of the hazard is downwind
        (0, 0, False),  # upwind
        (90, 0, False),  # crosswind
        (136, 0, True),  # 44 deg off the downwind direction
        (134, 0, False),  # 46 deg off: crosswind
        (225, 0, True),  # exactly 45 deg: inside the closed sector
        (270, 90, True),  # east wind blows west
        (10, 200, True),  # wind from 200 deg blows to 20 deg
        (350, 170, True),  # sector across north
        (300, 170, False),
    ],
)
def test_downwind_sector(bearing: float, wind_from: float, expected: bool) -> None:
    assert bool(downwind([bearing], wind_from)[0]) is expected


def test_wind_rule_excludes_downwind_sites_only() -> None:
    # hazard at the origin, sites 300 m away north, south, east; wind from the north
    sites = _sites((0, 300), (0, -300), (300, 0), (0, -1500))
    hz = gpd.GeoDataFrame(
        {"category": ["hazardous_chemicals"]}, geometry=[Point(0, 0)], index=["H1"], crs=CRS
    )
    out = apply_siting_rules(sites, hazards=hz, wind_from_deg=0.0)
    assert out["excluded_by"].tolist() == [
        "",
        "downwind_of_hazard",
        "",
        "",
    ]  # beyond 1 km the wind rule stops
    assert out["downwind_of"].tolist()[1] == "H1"
    assert apply_siting_rules(sites, hazards=hz)["eligible"].all()


def test_degrees_rejected() -> None:
    sites = gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)], crs="EPSG:4326")
    with pytest.raises(InputError, match="projected metric CRS"):
        apply_siting_rules(sites)


def test_generate_candidates_spacing() -> None:
    roads = gpd.GeoDataFrame(
        {"highway": ["secondary", "tertiary"]},
        geometry=[LineString([(0, 0), (2000, 0)]), LineString([(0, 100), (2000, 100)])],
        crs=CRS,
    )
    out = generate_candidates(roads, spacing_m=500)
    assert out.geometry.x.tolist() == [0.0, 500.0, 1000.0, 1500.0, 2000.0]
    assert (out["highway"] == "secondary").all() and out.index[0] == "G0001"
    with pytest.raises(InputError, match="candidate_sites"):
        generate_candidates(roads[roads["highway"] == "tertiary"])
