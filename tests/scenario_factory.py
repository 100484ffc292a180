"""A tiny hand-made scenario (a 3 x 3 street grid near Taiyuan) for loader tests."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
from shapely import LineString, Point, box

LON0, LAT0 = 112.55, 37.85
STEP = 0.005  # about 440 m east-west, 555 m north-south


def grid_roads() -> gpd.GeoDataFrame:
    lines, classes = [], []
    for i in range(4):
        lines.append(LineString([(LON0 + i * STEP, LAT0 + j * STEP) for j in range(4)]))
        lines.append(LineString([(LON0 + j * STEP, LAT0 + i * STEP) for j in range(4)]))
        classes += ["primary", "residential"]
    return gpd.GeoDataFrame(
        {"highway": classes, "name": [f"r{i}" for i in range(8)]}, geometry=lines, crs=4326
    )


def small_layers() -> dict[str, gpd.GeoDataFrame]:
    inventory = json.dumps([{"substance": "chlorine", "q_t": 12, "Q_t": 5}])
    return {
        "roads": grid_roads(),
        "hazards": gpd.GeoDataFrame(
            {
                "id": ["H1", "H2"],
                "name": ["Plant", "Mine"],
                "category": ["hazardous_chemicals", "mining"],
                "inventory": [inventory, None],
                "rectification": ["rectifying", None],
            },
            geometry=[Point(LON0 + 0.001, LAT0 + 0.001), Point(LON0 + 0.014, LAT0 + 0.014)],
            crs=4326,
        ),
        "communities": gpd.GeoDataFrame(
            {
                "id": ["C1", "C2"],
                "name": ["North", "South"],
                "population": [1200, 800],
                "share_aged_65plus": [0.2, 0.1],
            },
            geometry=[
                box(LON0, LAT0 + 0.0075, LON0 + 0.015, LAT0 + 0.015),
                box(LON0, LAT0, LON0 + 0.015, LAT0 + 0.0075),
            ],
            crs=4326,
        ),
        "fire_stations": gpd.GeoDataFrame(
            {"id": ["FS1"], "name": ["Station 1"], "grade": ["grade1"]},
            geometry=[Point(LON0 + STEP, LAT0 + STEP)],
            crs=4326,
        ),
    }


def write_gpkg(path: Path, layers: dict[str, gpd.GeoDataFrame] | None = None) -> Path:
    for name, gdf in (layers or small_layers()).items():
        gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return path


def write_toml(base: Path, extra: str = "") -> Path:
    """``base/scenario.toml`` over the small layers in ``base/s.gpkg`` (synthetic), with ``extra`` tables."""
    base.mkdir(parents=True, exist_ok=True)
    write_gpkg(base / "s.gpkg")
    layers = "".join(
        f'[layers.{n}]\npath = "s.gpkg"\nlayer = "{n}"\n'
        for n in ("roads", "hazards", "communities", "fire_stations")
    )
    toml = base / "scenario.toml"
    toml.write_text(
        f'[scenario]\nname = "Tiny (synthetic)"\nsynthetic = true\n\n{layers}\n{extra}', encoding="utf-8"
    )
    return toml
