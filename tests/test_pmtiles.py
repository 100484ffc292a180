"""PMTiles export: every tile read back with the ``pmtiles`` reader equals the tile served."""

from __future__ import annotations

import gzip
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely

import maps
from gis import InputError
from service.cli import main

pmtiles = pytest.importorskip("pmtiles")
from pmtiles.reader import MmapSource, Reader, all_tiles  # noqa: E402
from pmtiles.tile import Compression, TileType  # noqa: E402


def _cells(n: int = 30, size: float = 200.0) -> gpd.GeoDataFrame:
    x0, y0 = 11_570_000.0, 3_580_000.0  # about Chengdu, EPSG:3857
    xs, ys = np.meshgrid(np.arange(n) * size + x0, np.arange(n) * size + y0)
    score = np.linspace(0, 100, n * n)
    return gpd.GeoDataFrame(
        {
            "level": np.array(["blue", "yellow", "orange", "red"])[np.digitize(score, [50, 75, 90])],
            "score": score,
            "rank": np.arange(n * n)[::-1] + 1,
        },
        geometry=shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + size, ys.ravel() + size),
        crs=3857,
        index=[f"g{i}" for i in range(n * n)],
    ).to_crs(4326)


def test_every_tile_reads_back_as_the_tile_served(tmp_path: Path) -> None:
    source = maps.TileSource(_cells(), name="risk", columns=["level", "score", "rank"], rank_by="score")
    out = tmp_path / "risk.pmtiles"
    done = maps.write_pmtiles(source, out, min_zoom=8, max_zoom=14)
    assert done["max_zoom"] == 14 and done["tiles"] > 10
    with out.open("rb") as handle:
        get = MmapSource(handle)
        reader = Reader(get)
        header = reader.header()
        assert header["tile_type"] == TileType.MVT and header["tile_compression"] == Compression.GZIP
        assert (header["min_zoom"], header["max_zoom"]) == (8, 14) and header["clustered"]
        assert reader.metadata()["vector_layers"][0]["id"] == "risk"
        stored = {(z, x, y): data for (z, x, y), data in all_tiles(get)}
        assert len(stored) == done["tiles"]
        for (z, x, y), data in stored.items():
            assert gzip.decompress(data) == source.tile(z, x, y)
        z, x, y = next(iter(stored))
        assert gzip.decompress(reader.get(z, x, y)) == source.tile(z, x, y)
    at_14 = [k for k in stored if k[0] == 14]
    ids = {
        f["properties"]["unit_id"]
        for k in at_14
        for f in mapbox_vector_tile.decode(gzip.decompress(stored[k]))["risk"]["features"]
    }
    assert ids == set(source.ids)  # every cell is in the deepest zoom
    assert maps.default_max_zoom(source) == 14  # 200 m cells: about 16 px wide at zoom 14


def test_the_cli_exports_a_run_and_refuses_bad_zooms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gis.atomic import storable, write_gpkg

    run = tmp_path / "run"
    run.mkdir()
    write_gpkg(run / "risk.gpkg", {"risk_units": storable(_cells(12))})
    out = tmp_path / "out.pmtiles"
    assert main(["tiles", str(run), "--layer", "risk", "--out", str(out), "--min-zoom", "10"]) == 0
    assert "个单元已切成11个瓦片" in capsys.readouterr().out  # cells in China: Chinese by their place
    args = ["tiles", str(run), "--layer", "risk", "--out", str(out), "--min-zoom", "10", "--lang", "en"]
    assert main(args) == 0
    assert "tiles (zooms 10..14) of 144 units" in capsys.readouterr().out
    with out.open("rb") as handle:
        tiles = list(all_tiles(MmapSource(handle)))
    features = mapbox_vector_tile.decode(gzip.decompress(tiles[-1][1]))["risk"]["features"]
    assert {"unit_id", "level", "score", "rank"} <= set(features[0]["properties"])
    assert (
        main(
            ["tiles", str(run), "--out", str(tmp_path / "bad.pmtiles"), "--min-zoom", "9", "--max-zoom", "3"]
        )
        == 2
    )
    assert "Fix:" in capsys.readouterr().err and not (tmp_path / "bad.pmtiles").exists()
    with pytest.raises(InputError, match="over the limit"):
        maps.write_pmtiles(maps.TileSource(_cells(3), name="risk"), tmp_path / "x.pmtiles", max_tiles=10)
