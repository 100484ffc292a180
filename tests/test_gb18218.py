"""GB 18218-2018 indices against hand-computed examples."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
from shapely import Point, box

from gis import InputError
from risk_models import (
    alpha_for,
    beta_of,
    grade_of,
    grading_value_r,
    hazard_index_s,
    major_hazards,
    people_within,
)

CRS = 32649


def _community(people_in_disc: float) -> gpd.GeoDataFrame:
    """A 10 x 10 km community of uniform density holding ``people_in_disc`` within 500 m of (0, 0)."""
    pop = people_in_disc * 1e8 / (math.pi * 500.0**2)
    return gpd.GeoDataFrame({"population": [pop]}, geometry=[box(-5000, -5000, 5000, 5000)], crs=CRS)


def test_chlorine_ammonia_plant_by_hand() -> None:
    # S = 10/5 + 5/10 = 2.5; sum(beta q/Q) = 4*2 + 2*0.5 = 9; 60 people -> alpha 1.5; R = 13.5 -> III
    inv = [{"substance": "chlorine", "q_t": 10, "Q_t": 5}, {"substance": "ammonia", "q_t": 5, "Q_t": 10}]
    hz = gpd.GeoDataFrame({"inventory": [json.dumps(inv)]}, geometry=[Point(0, 0)], index=["H1"], crs=CRS)
    gb = major_hazards(hz, _community(60.0))
    row = gb.loc["H1"]
    assert row["S"] == pytest.approx(2.5)
    assert row["people_500m"] == pytest.approx(60.0, rel=2e-3)
    assert row["alpha"] == 1.5
    assert row["R"] == pytest.approx(13.5)
    assert row["grade"] == "III"
    assert bool(row["major"])


def test_phosgene_nobody_around_and_grade_one() -> None:
    # phosgene beta 20, q/Q = 1/0.3; nobody within 500 m -> alpha 0.5: R = 0.5 * 20 / 0.3 = 33.3 (III)
    phosgene = [{"substance": "phosgene", "q_t": 1.0, "Q_t": 0.3}]
    assert hazard_index_s(phosgene) == pytest.approx(10 / 3)
    assert grading_value_r(phosgene, alpha=alpha_for(0)) == pytest.approx(100 / 3)
    # 100 t chlorine (Q 5 t), beta 4, >= 100 people: R = 2 * 4 * 20 = 160 -> grade I
    r = grading_value_r([{"substance": "Cl2", "q_t": 100, "Q_t": 5}], alpha=alpha_for(150))
    assert r == pytest.approx(160.0)
    assert grade_of(r) == "I"


def test_not_major_below_one_and_beta_override() -> None:
    inv = [{"substance": "methanol", "q_t": 100, "Q_t": 500, "beta": 3.0}]
    assert hazard_index_s(inv) == pytest.approx(0.2)
    assert grading_value_r(inv, alpha=1.0) == pytest.approx(0.6)
    assert grade_of(0.6) == "IV"


@pytest.mark.parametrize(
    ("people", "alpha"),
    [(0, 0.5), (1, 1.0), (29, 1.0), (30, 1.2), (49, 1.2), (50, 1.5), (99, 1.5), (100, 2.0)],
)
def test_alpha_bands(people: float, alpha: float) -> None:
    assert alpha_for(people) == alpha


@pytest.mark.parametrize(
    ("substance", "beta"),
    [
        ("CO", 2.0),
        ("hydrogen chloride", 3.0),
        ("氯气", 4.0),
        ("HF", 5.0),
        ("hydrogen cyanide", 10.0),
        ("methyl isocyanate", 20.0),
        ("natural gas", 1.5),
        ("fireworks", 2.0),
        ("toluene", 1.0),
    ],
)
def test_beta_table(substance: str, beta: float) -> None:
    assert beta_of(substance) == beta


def test_polygon_plant_counts_people_within_500m_of_its_boundary() -> None:
    plant = gpd.GeoDataFrame(geometry=[box(0, 0, 1000, 1000)], crs=CRS)
    comm = gpd.GeoDataFrame({"population": [1e6]}, geometry=[box(-5000, -5000, 5000, 5000)], crs=CRS)
    ring_area = 1000**2 + 4 * 1000 * 500 + math.pi * 500**2  # plant + sides + corners
    expected = 1e6 * ring_area / 1e8
    assert people_within(plant, comm).iloc[0] == pytest.approx(expected, rel=1e-3)


def test_malformed_inventory_names_the_row() -> None:
    hz = gpd.GeoDataFrame({"inventory": ["not json"]}, geometry=[Point(0, 0)], index=["H9"], crs=CRS)
    with pytest.raises(InputError, match="row `H9`"):
        major_hazards(hz, _community(10))
