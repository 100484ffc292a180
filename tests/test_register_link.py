"""Linking items to the hazard source, enterprise and community they lie in or near.

Checked on a hand-made layout (distances worked out by hand) and against a brute-force
reference on the synthetic register of the demo city.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely import Point, box

from gis import demo_city
from risk_models.register import (
    LINK_DISTANCE_M,
    RegisterError,
    import_rows,
    link_items,
    synthetic_register,
)

CRS = "EPSG:32650"
X0, Y0 = 400_000.0, 3_400_000.0  # in Hubei: a layout in China, as an import checks


def _p(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture(scope="module")
def layout() -> dict[str, gpd.GeoDataFrame]:
    """Two sources 1 km apart (H1 a point, H2 a 100 m square yard) in two communities."""
    hazards = gpd.GeoDataFrame(
        {"name": ["Plant one", "Depot two"], "enterprise": ["E-ONE", None], "category": ["other"] * 2},
        geometry=[_p(0, 0), _box(950, -50, 1050, 50)],
        crs=CRS,
        index=pd.Index(["H1", "H2"]),
    )
    communities = gpd.GeoDataFrame(
        {"population": [10, 20]},
        geometry=[_box(-500, -500, 500, 500), _box(500, -500, 1500, 500)],
        crs=CRS,
        index=pd.Index(["C1", "C2"]),
    )
    return {"hazards": hazards, "communities": communities}


def test_nearest_source_within_the_distance_then_the_community(layout) -> None:
    pts = gpd.GeoSeries(
        [
            _p(60, 0),  # 60 m from H1
            _p(1000, 0),  # inside H2's yard: distance 0
            _p(880, 0),  # 70 m from H2's yard edge, 880 m from H1
            _p(300, 300),  # 424 m from H1, 650 m from H2: no source
            _p(1600, 0),  # 550 m from H2, outside every community but 100 m from C2
            _p(5000, 0),  # far from everything
        ],
        crs=CRS,
    )
    links = link_items(pts, hazards=layout["hazards"], communities=layout["communities"])
    assert links["hazard_id"].tolist() == ["H1", "H2", "H2", None, None, None]
    # the enterprise: the `enterprise` column where given, else the source's name
    assert links["enterprise_id"].tolist() == ["E-ONE", "Depot two", "Depot two", None, None, None]
    assert links["hazard_distance_m"].iloc[:3].tolist() == [60.0, 0.0, 70.0]
    assert links["community_id"].tolist() == ["C1", "C2", "C2", "C1", "C2", None]
    assert LINK_DISTANCE_M == 100.0
    wider = link_items(pts, hazards=layout["hazards"], max_distance_m=500)
    assert wider["hazard_id"].tolist() == ["H1", "H2", "H2", "H1", None, None]


def test_ids_given_are_kept_and_bad_input_is_named(layout) -> None:
    items = gpd.GeoDataFrame(
        {"hazard_id": ["H2", None], "community_id": [None, "C9"]},
        geometry=[_p(10, 0), _p(10, 0)],
        crs=CRS,
    )
    links = link_items(items, hazards=layout["hazards"], communities=layout["communities"])
    assert links["hazard_id"].tolist() == ["H2", "H1"]  # a row naming its source keeps it
    assert links["enterprise_id"].tolist() == ["Depot two", "E-ONE"]  # ... and takes its enterprise
    assert links["community_id"].tolist() == ["C1", "C9"]
    with pytest.raises(RegisterError, match="max_distance_m"):
        link_items(items, hazards=layout["hazards"], max_distance_m=-1)
    with pytest.raises(RegisterError, match="no CRS"):
        link_items(gpd.GeoSeries([_p(0, 0)]), hazards=layout["hazards"])


def test_import_links_rows_to_the_scenario_layers(layout) -> None:
    wgs = gpd.GeoSeries([_p(40, 0), _p(1000, 10), _p(300, 300)], crs=CRS).to_crs(4326)
    rows = pd.DataFrame(
        {
            "隐患类别": ["燃气", "电气线路", "消防通道堵塞"],
            "隐患描述": ["a", "b", "c"],
            "经度": [f"{p.x:.7f}" for p in wgs],
            "纬度": [f"{p.y:.7f}" for p in wgs],
            "发现时间": ["2026-03-02"] * 3,
            "检查人": ["Wang"] * 3,
            "危险源编号": ["", "", "H1"],  # the third names its source
        }
    )
    out = import_rows(rows, first_counter={}, actor="insp-1", **layout)
    got = [(i.hazard_id, i.enterprise_id, i.community_id) for i in out.items.values()]
    assert got == [("H1", "E-ONE", "C1"), ("H2", "Depot two", "C2"), ("H1", "E-ONE", "C1")]
    unlinked = import_rows(rows, first_counter={}, actor="insp-1")
    assert [i.hazard_id for i in unlinked.items.values()] == [None, None, "H1"]


def test_the_synthetic_register_links_as_an_import_does() -> None:
    city = demo_city(n_road_nodes=2000)
    reg = synthetic_register(city, seed=3, n_items=300)
    hazards = city["hazards"].set_index("id")
    items = reg.items.to_crs(hazards.crs)
    # brute force: every item's distance to every source
    d = shapely.distance(items.geometry.to_numpy()[:, None], hazards.geometry.to_numpy()[None, :])
    d = pd.DataFrame(d, index=items.index, columns=hazards.index)
    linked = items["hazard_id"].notna()
    assert linked.any() and (~linked).any()
    # an item is linked to a source within 100 m (its own, where it was found at one) ...
    own = [d.loc[n, h] for n, h in items.loc[linked, "hazard_id"].items()]
    assert max(own) <= LINK_DISTANCE_M
    # ... and an item left unlinked has no source within 100 m
    assert (d.loc[~linked].min(axis=1) > LINK_DISTANCE_M).all()
    assert (
        items.loc[linked, "enterprise_id"] == hazards.loc[items.loc[linked, "hazard_id"], "name"].to_numpy()
    ).all()
    # the community containing each item
    comm = city["communities"].set_index("id")
    inside = gpd.sjoin(items[["geometry"]], comm[["geometry"]], predicate="within")
    inside = inside[~inside.index.duplicated()]
    assert (items.loc[inside.index, "community_id"] == inside[inside.columns[-1]]).all()
