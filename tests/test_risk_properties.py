"""Property tests of the risk index: monotone in hazards, CRS-free, scale-equivariant in weights."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point, box

from gis.schema import HAZARD_CATEGORIES
from risk_models import load_weights, score_scenario

CRS = 32649
X0, Y0 = 500_000.0, 4_200_000.0


def _communities() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    cells = [(i, j) for i in range(4) for j in range(4)]
    return gpd.GeoDataFrame(
        {
            "id": [f"C{k:02d}" for k in range(16)],
            "name": [f"c{k}" for k in range(16)],
            "population": rng.integers(0, 8000, 16).astype(float),
            "share_aged_65plus": rng.uniform(0, 0.3, 16),
            "share_built_pre2000": rng.uniform(0, 1, 16),
            "share_highrise_no_elevator": rng.uniform(0, 0.5, 16),
            "share_gas_supply": rng.uniform(0, 1, 16),
        },
        geometry=[
            box(X0 + 1000 * i, Y0 + 1000 * j, X0 + 1000 * (i + 1), Y0 + 1000 * (j + 1)) for i, j in cells
        ],
        crs=CRS,
    )


hazard_rows = st.lists(
    st.tuples(
        st.floats(0, 4000),
        st.floats(0, 4000),
        st.sampled_from(HAZARD_CATEGORIES),
        st.sampled_from(["small", "medium", "large"]),
        st.sampled_from(["none", "discovered", "closed"]),
    ),
    min_size=1,
    max_size=8,
)


def _hazards(rows: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": [f"H{k}" for k in range(len(rows))],
            "name": [f"h{k}" for k in range(len(rows))],
            "category": [r[2] for r in rows],
            "size_class": [r[3] for r in rows],
            "rectification": [r[4] for r in rows],
        },
        geometry=[Point(X0 + r[0], Y0 + r[1]) for r in rows],
        crs=CRS,
    )


COMM = _communities()


@settings(max_examples=12, deadline=None)
@given(rows=hazard_rows, extra=hazard_rows)
def test_adding_a_hazard_never_lowers_any_hazard_score(rows: list, extra: list) -> None:
    before = score_scenario({"communities": COMM, "hazards": _hazards(rows)}, learn=False).units
    after = score_scenario({"communities": COMM, "hazards": _hazards(rows + extra[:1])}, learn=False).units
    assert (after["hazard"] >= before["hazard"] - 1e-12).all()
    assert (after["score"] >= before["score"] - 1e-12).all()


@pytest.mark.parametrize("crs", [4326, 4547, 3857])
def test_scores_do_not_depend_on_input_crs(crs: int) -> None:
    rows = [
        (500, 700, "mining", "large", "none"),
        (3100, 2500, "hazardous_chemicals", "medium", "discovered"),
        (1800, 3900, "construction", "small", "none"),
    ]
    hz = _hazards(rows)
    ref = score_scenario({"communities": COMM, "hazards": hz}, learn=False).units
    moved = score_scenario({"communities": COMM.to_crs(crs), "hazards": hz.to_crs(crs)}, learn=False).units
    np.testing.assert_allclose(moved["score"].to_numpy(), ref["score"].to_numpy(), rtol=1e-6, atol=1e-9)
    assert (moved["level"] == ref["level"]).all()


@settings(max_examples=15, deadline=None)
@given(rows=hazard_rows, units=st.sampled_from(["communities", "grid:700"]))
def test_doubling_every_weight_rescales_and_keeps_the_ranking(rows: list, units: str) -> None:
    w = load_weights()
    doubled = {
        "categories": {c: {"weight": 2 * float(v["weight"])} for c, v in w["categories"].items()},
        "vulnerability": {
            "indicators": {
                k: {"weight": 2 * float(v["weight"])} for k, v in w["vulnerability"]["indicators"].items()
            }
        },
    }
    sc = {"communities": COMM, "hazards": _hazards(rows)}
    a = score_scenario(sc, units=units, learn=False).units
    b = score_scenario(sc, units=units, risk_weights=doubled, learn=False).units
    np.testing.assert_allclose(b["score"].to_numpy(), 2 * a["score"].to_numpy(), rtol=1e-9, atol=1e-12)
    assert (a["rank"] == b["rank"]).all()
    assert (a["level"] == b["level"]).all()
