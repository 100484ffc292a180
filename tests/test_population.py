"""Population rasters summed into polygons with exact pixel fractions, against hand-computed sums."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from shapely import box

from gis import CRSError, InputError
from gis.population import raster_population, raster_total

# 3 x 3 pixels of 100 m in UTM 49N, origin (500000, 4190000) at the top-left corner
#   row 0:  10  20  30
#   row 1:  40  -1  60     (-1: nodata)
#   row 2:  70  80  90
X0, Y0, PX = 500_000.0, 4_190_000.0, 100.0
VALUES = np.array([[10, 20, 30], [40, -1, 60], [70, 80, 90]], dtype="float32")


def _pixel(col: float, row: float) -> tuple[float, float]:
    return X0 + col * PX, Y0 - row * PX


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    path = tmp_path / "pop.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=3,
        height=3,
        count=1,
        dtype="float32",
        crs="EPSG:32649",
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
        nodata=-1,
    ) as dst:
        dst.write(VALUES, 1)
    return path


def _box(c0: float, r0: float, c1: float, r1: float):  # type: ignore[no-untyped-def]
    (x0, y1), (x1, y0) = _pixel(c0, r0), _pixel(c1, r1)
    return box(x0, y0, x1, y1)


def test_exact_fractions_and_nodata(raster: Path) -> None:
    polys = gpd.GeoDataFrame(
        {"name": ["one pixel", "halves", "around nodata", "quarter", "outside", "all"]},
        index=["a", "b", "c", "d", "e", "f"],
        geometry=[
            _box(0, 0, 1, 1),  # pixel (0,0): 10
            _box(0.5, 0, 1.5, 1),  # half of 10 + half of 20 = 15
            _box(0, 1, 3, 2),  # row 1: 40 + nodata + 60 = 100
            _box(2.5, 2.5, 3, 3),  # a quarter of 90 = 22.5
            _box(5, 5, 6, 6),  # off the raster: 0
            _box(0, 0, 3, 3),  # everything valid: 400
        ],
        crs=32649,
    )
    got = raster_population(polys, raster)
    assert got.name == "population" and got.index.tolist() == ["a", "b", "c", "d", "e", "f"]
    np.testing.assert_allclose(got.to_numpy(), [10.0, 15.0, 100.0, 22.5, 0.0, 400.0], atol=1e-4)
    assert raster_total(raster) == pytest.approx(400.0)


def test_polygons_are_reprojected_to_the_raster_crs(raster: Path) -> None:
    utm = gpd.GeoDataFrame(geometry=[_box(0.5, 0, 1.5, 1), _box(0, 0, 3, 3)], crs=32649)
    got = raster_population(utm.to_crs(4326), raster)
    np.testing.assert_allclose(got.to_numpy(), [15.0, 400.0], rtol=1e-3)


def test_tiling_polygons_preserve_the_total(raster: Path) -> None:
    cuts = [0, 0.7, 1.9, 3]
    pairs = list(itertools.pairwise(cuts))
    tiles = [_box(a, b, c, d) for a, c in pairs for b, d in pairs]
    got = raster_population(gpd.GeoDataFrame(geometry=tiles, crs=32649), raster)
    assert got.sum() == pytest.approx(400.0, abs=1e-3)


def test_errors_name_the_file_and_fix(raster: Path, tmp_path: Path) -> None:
    polys = gpd.GeoDataFrame(geometry=[_box(0, 0, 1, 1)], crs=32649)
    with pytest.raises(InputError, match=r"nowhere\.tif` does not exist. Fix: check the path"):
        raster_population(polys, tmp_path / "nowhere.tif")
    with pytest.raises(CRSError, match="have no CRS"):
        raster_population(polys.set_crs(None, allow_override=True), raster)
    bare = tmp_path / "bare.tif"
    with rasterio.open(
        bare,
        "w",
        driver="GTiff",
        width=1,
        height=1,
        count=1,
        dtype="float32",
        transform=Affine(PX, 0, X0, 0, -PX, Y0),
    ) as dst:
        dst.write(np.ones((1, 1), dtype="float32"), 1)
    with pytest.raises(CRSError, match=r"bare\.tif` has no CRS. Fix"):
        raster_population(polys, bare)
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"not a raster")
    with pytest.raises(InputError, match=r"junk\.tif` cannot be opened .*Fix: give a GeoTIFF"):
        raster_population(polys, junk)
