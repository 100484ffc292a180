"""Roads a flood closes (issue 19): depth along each edge, edges deeper than the threshold closed."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely import LineString

import gis
from gis.errors import InputError
from gis.rasters import line_maxima

rasterio = pytest.importorskip("rasterio", reason="rasterio is not installed")
from rasterio.transform import Affine  # noqa: E402

CRS = 32649


def _tif(path: Path, grid: np.ndarray, px: float = 10.0) -> Path:
    transform = Affine(px, 0, 1000.0, 0, -px, 2000.0 + grid.shape[0] * px)
    with rasterio.open(
        path, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1,
        dtype="float32", crs=f"EPSG:{CRS}", transform=transform, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(grid.astype(np.float32), 1)
    return path


def test_line_maxima_equal_rasterios_samples_at_the_same_points(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    grid = rng.gamma(0.6, 0.4, size=(40, 50))
    grid[rng.random(grid.shape) < 0.1] = -9999.0  # nodata is dry
    tif = _tif(tmp_path / "d.tif", grid)
    ends = rng.uniform([900, 1900], [1600, 2500], size=(60, 2, 2))  # some run off the raster
    lines = gpd.GeoSeries([LineString(e) for e in ends], crs=CRS)
    got = line_maxima(lines, tif)
    import shapely

    want = []
    with rasterio.open(tif) as src:
        for line in lines:
            pts = shapely.get_coordinates(shapely.segmentize(line, 5.0))
            b = src.bounds
            inside = (
                (pts[:, 0] >= b.left) & (pts[:, 0] < b.right) & (pts[:, 1] > b.bottom) & (pts[:, 1] <= b.top)
            )
            vals = [v[0] for v in src.sample(pts[inside])] if inside.any() else []
            vals = [0.0 if v == -9999.0 else float(v) for v in vals]
            want.append(max([*vals, 0.0] if not inside.all() else vals))
    np.testing.assert_array_equal(got, np.array(want))
    # the same lines in WGS84 give the same maxima where no sample falls near a pixel edge
    again = line_maxima(lines.to_crs(4326), tif)
    assert np.mean(np.isclose(again, got)) > 0.9
    assert line_maxima(lines.iloc[:0], tif).shape == (0,)
    with pytest.raises(gis.errors.CRSError, match="no CRS"):
        line_maxima(gpd.GeoSeries(list(lines)), tif)


def test_a_flood_closes_the_roads_under_it_and_never_shortens_a_trip(tmp_path: Path) -> None:
    from gis.demo.natural import write_demo_natural_hazards
    from planning import flood_closed_graph, flooded_edges, travel_times
    from risk_models.natural import read_natural_hazards

    city = gis.demo_city(n_road_nodes=2000)
    graph = gis.graph_from_lines(city["roads"])
    nat, _ = read_natural_hazards(write_demo_natural_hazards(tmp_path))
    closed, depth = flooded_edges(graph, nat.flood_depth[100.0])
    assert closed.any() and not closed.all()
    assert (closed == (depth > 0.3)).all()
    ten, _ = flooded_edges(graph, nat.flood_depth[10.0])
    assert not (ten & ~closed).any()  # what the 10-year flood closes, the 100-year one closes too
    deeper, _ = flooded_edges(graph, nat.flood_depth[100.0], closed_depth_m=1.0)
    assert deeper.sum() < closed.sum()
    flooded, mask = flood_closed_graph(graph, nat.flood_depth[100.0])
    assert flooded.n_edges == graph.n_edges - int(mask.sum())
    sources = graph.nodes[:: graph.n_nodes // 5][:5]
    before = np.asarray(travel_times(graph, sources))
    after = np.asarray(travel_times(flooded, sources))
    assert (after >= before).all() and np.isinf(after).sum() >= np.isinf(before).sum()
    assert (after > before).any()
    dry = _tif(tmp_path / "dry.tif", np.zeros((10, 10)))
    assert not flooded_edges(graph, dry)[0].any()
    with pytest.raises(InputError, match="closed_depth_m"):
        flooded_edges(graph, dry, closed_depth_m=-1.0)


def test_riskplan_what_if_closes_the_roads_of_the_scenarios_flood(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import pyogrio

    from gis.demo.natural import write_demo_natural_hazards
    from service.cli import main

    gpkg = gis.write_demo_scenario(tmp_path / "demo_city.gpkg", n_road_nodes=2000)
    nat = write_demo_natural_hazards(tmp_path)
    block = nat.read_text(encoding="utf-8").split("[natural_hazards]", 1)[1]
    layers = ("roads", "hazards", "communities", "fire_stations")
    text = '[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n'
    text += "".join(f'[layers.{n}]\npath = "{gpkg.name}"\nlayer = "{n}"\n' for n in layers)
    toml = tmp_path / "scenario.toml"
    toml.write_text(text + "\n[natural_hazards]" + block, encoding="utf-8")
    out = tmp_path / "flood.gpkg"
    args = ["-q", "what-if", str(toml), "--flood-return-period", "100", "--out", str(out), "--lang", "en"]
    assert main(args) == 0  # the demo city is Chinese by default: today's English asked for
    printed = capsys.readouterr().out
    assert "100-year flood closes" in printed and "resident-seconds lost" in printed
    communities = pyogrio.read_dataframe(out, layer="what_if_communities")
    assert (communities["seconds_lost"] > 0).any() or communities["cut_off"].any()
    assert len(pyogrio.read_dataframe(out, layer="closed_roads")) > 0
    bad = tmp_path / "bad.gpkg"
    assert main(["-q", "what-if", str(toml), "--flood-return-period", "25", "--out", str(bad)]) == 2
    assert "return periods 10, 50, 100 (years)" in capsys.readouterr().err and not bad.exists()
    assert main(["-q", "what-if", str(toml), "--out", str(bad)]) == 2
    assert "Nothing to change" in capsys.readouterr().err and not bad.exists()
