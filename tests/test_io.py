"""Reading scenario layers from every supported format, with per-layer options."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scenario_factory import small_layers
from shapely import Point

from gis import coords
from gis.errors import CRSError, InputError
from gis.io import LayerSource, read_layer


@pytest.fixture
def hazards():
    return small_layers()["hazards"]


@pytest.mark.filterwarnings("ignore:Column names longer than 10:UserWarning")
@pytest.mark.filterwarnings("ignore:Normalized/laundered field name:RuntimeWarning")
@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".parquet"])
def test_vector_formats_round_trip(tmp_path, hazards, suffix):
    path = tmp_path / f"hazards{suffix}"
    if suffix == ".parquet":
        hazards.to_parquet(path)
    else:
        hazards.to_file(path, engine="pyogrio")
    gdf = read_layer(LayerSource("hazards", path))
    assert list(gdf["id"]) == ["H1", "H2"]
    assert gdf["rectification"].iloc[0] == "rectifying"  # Shapefile's 10-character names restored
    assert gdf.crs.to_epsg() == 4326
    np.testing.assert_allclose(gdf.geometry.x, hazards.geometry.x)


def test_gpkg_layer_choice(tmp_path, hazards):
    path = tmp_path / "many.gpkg"
    hazards.to_file(path, layer="危险源", engine="pyogrio")
    hazards.to_file(path, layer="other", engine="pyogrio")
    with pytest.raises(InputError, match=r"holds layers .* none is called `hazards`"):
        read_layer(LayerSource("hazards", path))
    with pytest.raises(InputError, match="no layer `nope`"):
        read_layer(LayerSource("hazards", path, file_layer="nope"))
    assert len(read_layer(LayerSource("hazards", path, file_layer="危险源"))) == 2


def test_csv_with_chinese_columns_gb18030_and_value_mapping(tmp_path):
    path = tmp_path / "hazards.csv"
    text = "编号,名称,类别,经度,纬度\nH1,化工厂,危化品,112.55,37.85\nH2,煤矿,矿山,112.60,37.90\n"
    path.write_bytes(text.encode("gb18030"))
    src = LayerSource(
        "hazards",
        path,
        rename={"编号": "id", "名称": "name", "类别": "category"},
        values={"category": {"危化品": "hazardous_chemicals", "矿山": "mining"}},
        defaults={"rectification": "none"},
    )
    gdf = read_layer(src)
    assert gdf.crs.to_epsg() == 4326  # implied by the 经度/纬度 column names
    assert list(gdf["category"]) == ["hazardous_chemicals", "mining"]
    assert list(gdf["name"]) == ["化工厂", "煤矿"]
    assert list(gdf["rectification"]) == ["none", "none"]


def test_csv_projected_needs_crs_and_wkt(tmp_path):
    path = tmp_path / "pts.csv"
    pd.DataFrame({"id": ["a"], "name": ["n"], "grade": ["micro"], "x": [500000.0], "y": [4190000.0]}).to_csv(
        path
    )
    assert read_layer(LayerSource("fire_stations", path)).crs is None  # validation reports it
    gdf = read_layer(LayerSource("fire_stations", path, crs="EPSG:32649"))
    assert gdf.crs.to_epsg() == 32649
    wkt = tmp_path / "wkt.csv"
    wkt.write_text('id,name,grade,wkt\nS1,a,grade1,"POINT (112.5 37.8)"\n')
    assert read_layer(LayerSource("fire_stations", wkt, crs="EPSG:4326")).geometry[0].x == 112.5


def test_csv_errors_name_rows_and_fix(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,lon,lat\nA,112.5,37.8\nB,,37.9\nC,abc,37.9\n")
    with pytest.raises(InputError, match=r"rows \[1, 2\].*`lon`/`lat`"):
        read_layer(LayerSource("incidents", path))
    nocoord = tmp_path / "nocoord.csv"
    nocoord.write_text("id,name\nA,b\n")
    with pytest.raises(InputError, match="no coordinate columns found"):
        read_layer(LayerSource("incidents", nocoord))


def test_gcj02_conversion(tmp_path):
    lon, lat = coords.wgs84_to_gcj02(112.55, 37.85)
    path = tmp_path / "amap.csv"
    path.write_text(f"id,name,grade,lng,lat\nS1,a,grade1,{float(lon)!r},{float(lat)!r}\n")
    gdf = read_layer(LayerSource("fire_stations", path, coords="gcj02"))
    assert gdf.geometry[0].x == pytest.approx(112.55, abs=1e-9)
    assert gdf.geometry[0].y == pytest.approx(37.85, abs=1e-9)


def test_bd09_polygons_converted_vertex_by_vertex(tmp_path):
    comm = small_layers()["communities"]
    b = comm.copy()
    b["geometry"] = comm.geometry.map(
        lambda g: type(g)(
            np.column_stack(coords.gcj02_to_bd09(*coords.wgs84_to_gcj02(*np.asarray(g.exterior.coords).T)))
        )
    )
    path = tmp_path / "baidu.geojson"
    b.to_file(path, engine="pyogrio")
    gdf = read_layer(LayerSource("communities", path, coords="bd09"))
    assert gdf.geometry.geom_equals_exact(comm.geometry, tolerance=1e-8).all()


def test_chinese_coordinates_need_degrees(tmp_path, hazards):
    path = tmp_path / "utm.gpkg"
    hazards.to_crs(32649).to_file(path, engine="pyogrio")
    with pytest.raises(CRSError, match="needs longitude/latitude in degrees"):
        read_layer(LayerSource("hazards", path, coords="gcj02"))


def test_crs_override_and_option_errors(tmp_path, hazards):
    path = tmp_path / "h.geojson"
    hazards.to_file(path, engine="pyogrio")
    with pytest.raises(InputError, match=r"`rename` names column\(s\) \['名称'\]"):
        read_layer(LayerSource("hazards", path, rename={"名称": "name"}))
    with pytest.raises(InputError, match="the file does not exist"):
        read_layer(LayerSource("hazards", tmp_path / "missing.gpkg"))
    with pytest.raises(InputError, match="unknown option"):
        LayerSource.from_toml("hazards", {"path": "x.csv", "renames": {}}, base=tmp_path)
    with pytest.raises(InputError, match="`coords = 'mars'` is unknown"):
        LayerSource.from_toml("hazards", {"path": "x.csv", "coords": "mars"}, base=tmp_path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"not a geopackage at all")
    with pytest.raises(InputError, match="cannot open the file"):
        read_layer(LayerSource("hazards", path))


def test_id_option(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"code": ["X9"], "name": ["n"], "grade": ["small"]}, geometry=[Point(112.5, 37.8)], crs=4326
    )
    path = tmp_path / "s.geojson"
    gdf.to_file(path, engine="pyogrio")
    assert read_layer(LayerSource("fire_stations", path, id="code"))["id"].tolist() == ["X9"]


def test_gzipped_geojson(tmp_path, hazards):
    import gzip

    plain = tmp_path / "h.geojson"
    hazards.to_file(plain, engine="pyogrio")
    packed = tmp_path / "h.geojson.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_layer(LayerSource("hazards", packed))["id"].tolist() == ["H1", "H2"]


def test_where_filter(tmp_path, hazards):
    path = tmp_path / "h.gpkg"
    hazards.to_file(path, engine="pyogrio")
    gdf = read_layer(LayerSource("hazards", path, where="category = 'mining'"))
    assert gdf["id"].tolist() == ["H2"]
    with pytest.raises(InputError, match="correct the `where` filter"):
        read_layer(LayerSource("hazards", path, where="nope = 1"))
