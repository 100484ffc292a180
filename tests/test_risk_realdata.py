"""Real data: Taiyuan roads' extent as study area, Global Energy Monitor sites as hazards."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from risk_models import score_scenario

pytestmark = pytest.mark.realdata


def _gem_hazards(folder: Path, area: shapely.Polygon) -> gpd.GeoDataFrame:
    specs = [
        ("gem_coal_mines.geojson", "mining", "id", "project", "capacity", (1.0, 5.0)),
        ("gem_coal_power_units.geojson", "other", None, "plant", "capacity", (300.0, 600.0)),
        (
            "gem_steel_units.geojson",
            "metallurgy",
            "gem-unit-id",
            "plant-name-(english)",
            "current-capacity-(ttpa)",
            (500.0, 2000.0),
        ),
    ]
    frames = []
    for name, category, id_col, name_col, cap_col, (lo, hi) in specs:
        gdf = gpd.read_file(folder / name)
        gdf = gdf[gdf.intersects(area.buffer(0.05))]
        cap = pd.to_numeric(gdf[cap_col], errors="coerce")
        size = np.where(cap >= hi, "large", np.where(cap >= lo, "medium", "small"))
        ids = (
            gdf[id_col].astype(str)
            if id_col
            else pd.Series([f"P{i}" for i in range(len(gdf))], index=gdf.index)
        )
        frames.append(
            gpd.GeoDataFrame(
                {
                    "id": (category[:3] + "-" + ids).to_numpy(),
                    "name": gdf[name_col].astype(str).to_numpy(),
                    "category": category,
                    "size_class": size,
                    "rectification": "none",
                },
                geometry=gdf.geometry.to_numpy(),
                crs=gdf.crs,
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.drop_duplicates("id")


def test_taiyuan_with_gem_hazards(shared_data_dir: Path) -> None:
    roads = shared_data_dir / "taiyuan" / "roads_osm.geojson.gz"
    gem = shared_data_dir / "shanxi"
    if not roads.exists() or not gem.is_dir():
        pytest.skip("Taiyuan roads or the GEM files are absent from ../shared/data")
    bounds = gpd.read_file(f"/vsigzip/{roads}", columns=["highway"]).total_bounds
    area = shapely.box(*bounds)
    hazards = _gem_hazards(gem, area)
    assert len(hazards) > 0
    # no census data for Taiyuan: one synthetic community layer of uniform density and shares
    communities = gpd.GeoDataFrame(
        {
            "id": ["T1"],
            "name": ["Taiyuan (synthetic census)"],
            "population": [2.5e6],
            "share_aged_65plus": [0.14],
            "share_built_pre2000": [0.4],
            "share_highrise_no_elevator": [0.1],
            "share_gas_supply": [0.9],
        },
        geometry=[area],
        crs=4326,
    )
    study = gpd.GeoDataFrame(geometry=[area], crs=4326)
    res = score_scenario(
        {"communities": communities, "hazards": hazards, "study_area": study}, units="h3:8", learn=False
    )
    u = res.units
    assert res.units.crs.to_epsg() == 32649
    assert len(u) > 500 and (u["score"] > 0).any()
    top = u.sort_values("score", ascending=False).iloc[0]
    assert top["share_metallurgy"] + top["share_mining"] + top["share_other"] == pytest.approx(1.0)
    # uniform census: the red units are those next to the GEM sites (within the largest bandwidth)
    red = u[u["level"] == "red"].geometry.representative_point()
    assert len(red) > 0
    assert (red.distance(hazards.to_crs(u.crs).union_all()) < 1500).all()
