"""The register and the risk grades in the risk model: documented factors on severity."""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
import register_factory as rf
from shapely import box

from gis.errors import InputError
from risk_models import hazard_severity, load_weights, score_scenario
from risk_models.register import grade_assessments, hazard_risk_grades, synthetic_register


@pytest.fixture(scope="module")
def hm() -> rf.HandMade:
    return rf.build()


@pytest.fixture(scope="module")
def communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [5000]},
        geometry=[box(rf.X0 - 1000, rf.Y0 - 5000, rf.X0 + 20_000, rf.Y0 + 5000)],
        crs=rf.CRS,
        index=pd.Index(["C1"]),
    )


def test_open_and_overdue_majors_raise_their_sources_severity(hm, communities) -> None:
    hazards = hm.hazards.assign(rectification=["rectifying", "none", "discovered"])
    w = load_weights()["severity"]["register"]
    march = hazard_severity(hazards, communities, register=hm.frame, register_at=date(2026, 3, 31))
    assert march["open_major"].to_dict() == {"H1": 0, "H2": 1, "H3": 0}  # H3's open item is general
    assert march["register_factor"].to_dict() == {"H1": 1.0, "H2": w["open_major"], "H3": 1.0}
    may = hazard_severity(hazards, communities, register=hm.frame, register_at=date(2026, 5, 1))
    assert may.loc["H2", ["overdue_major", "register_factor"]].tolist() == [1, w["overdue_major"]]
    assert may["severity"].tolist() == pytest.approx((may["base_severity"] * may["register_factor"]).tolist())
    assert set(may["status_basis"]) == {"register"}
    # without a register the static column applies, as it always did
    static = hazard_severity(hazards, communities)
    assert static["severity"].tolist() == pytest.approx(
        (static["base_severity"] * static["rectification_factor"]).tolist()
    )
    assert static.loc["H1", "rectification_factor"] == 1.25 and set(static["status_basis"]) == {
        "rectification column"
    }


def test_the_register_factor_rule_with_more_items_and_the_cap(hm, communities) -> None:
    f = {"open_major": 1.5, "overdue_major": 2.0, "per_additional_item": 0.5, "max_factor": 2.6}
    reg = pd.DataFrame(
        {
            "hazard_id": ["H1"] * 3 + ["H2"] * 2,
            "grade": ["major"] * 5,
            "status": ["rectifying", "verified", "reopened", "rectifying", "closed"],
            "deadline": pd.to_datetime(
                ["2026-05-01", "2026-01-01", "2026-05-01", "2026-05-01", "2026-01-01"]
            ),
        }
    )
    from risk_models.register import register_factors

    out = register_factors(reg, ["H1", "H2", "H3"], factors=f, at=date(2026, 3, 1))
    # H1: worst overdue 2.0 + 2 x 0.5 = 3.0, capped at 2.6; H2: 1.5 (its closed item does not count)
    assert out["register_factor"].tolist() == [2.6, 1.5, 1.0]
    with pytest.raises(InputError, match=r"lacks columns \['deadline'\]"):
        register_factors(reg.drop(columns="deadline"), ["H1"], factors=f)


def test_risk_grades_multiply_severity_next_to_gb18218(hm, communities) -> None:
    rows = pd.DataFrame(
        {
            "hazard_id": ["H1", "H2"],
            "method": ["lec", "matrix"],
            "L": [6, None],
            "E": [6, None],
            "C": [15, None],
            "likelihood": [None, 3],
            "severity": [None, 5],
        }
    )
    grades = hazard_risk_grades(grade_assessments(rows))
    sev = hazard_severity(hm.hazards, communities, risk_grades=grades)
    w = load_weights()["severity"]["risk_grade"]
    assert sev["risk_grade"].tolist()[:2] == ["major", "high"] and pd.isna(sev.loc["H3", "risk_grade"])
    assert sev["risk_grade_factor"].tolist() == [w["major"], w["high"], 1.0]
    assert sev["severity"].tolist() == pytest.approx(
        (sev["base_severity"] * sev["risk_grade_factor"]).tolist()
    )
    with pytest.raises(InputError, match=r"severity.risk_grade.major"):
        load_weights({"severity": {"risk_grade": {"major": 0}}})


def test_score_scenario_reads_the_live_register() -> None:
    import gis

    city = gis.demo_city(n_road_nodes=2000)
    reg = synthetic_register(city, seed=0)
    # the register replaces the static column: compare with a city whose column says nothing
    city["hazards"] = city["hazards"].drop(columns="rectification", errors="ignore")
    plain = score_scenario(city, units="grid:1000", learn=False)
    live = score_scenario(city, units="grid:1000", learn=False, register=reg.items)
    raised = live.hazards.index[live.hazards["register_factor"] > 1]
    assert len(raised) > 0 and (live.hazards.loc[raised, "overdue_major"] > 0).any()
    ratio = live.hazards["severity"] / plain.hazards["severity"]
    assert ratio.loc[raised].tolist() == pytest.approx(live.hazards.loc[raised, "register_factor"].tolist())
    assert (ratio.drop(raised) == 1.0).all()
    assert any(n.startswith("Hidden-danger register") for n in live.notes)
    assert (live.units["score"] >= plain.units["score"] - 1e-9).all()
    assert (live.units["score"] > plain.units["score"] + 1e-9).any()
