"""The ``roads`` vector tiles of a road graph: classes dropped by zoom, lines simplified per zoom.

A low-zoom tile carries only the major classes (motorway, trunk, primary), a deep one every
class; each tile decodes to what ``mapbox_vector_tile`` encodes from the same lines (the tile's
simplified and clipped lines), and each road is one feature (a two-way street's two edges on
one line). The PMTiles export writes the same tiles.
"""

from __future__ import annotations

import math

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

import gis
import maps
from maps.road_tiles import ROAD_DEFAULT_MIN_ZOOM, ROAD_MIN_ZOOM, RoadTileSource
from maps.tiles import BUFFER, EXTENT, tile_bounds

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mapbox_vector_tile

_HALF = 20037508.342789244


@pytest.fixture(scope="module")
def roads() -> RoadTileSource:
    layers = gis.demo_city(seed=4, n_road_nodes=2000)
    return RoadTileSource(gis.graph_from_lines(layers["roads"]))


def _centre_tile(source: RoadTileSource, z: int) -> tuple[int, int]:
    assert source.bounds is not None
    xmin, ymin, xmax, ymax = source.bounds
    size = 2 * _HALF / (1 << z)
    return int(((xmin + xmax) / 2 + _HALF) // size), int((_HALF - (ymin + ymax) / 2) // size)


def _expected(source: RoadTileSource, z: int, x: int, y: int) -> set[str]:
    """The roads a tile should draw, found without the source's trees: class and intersection."""
    xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
    pad = (xmax - xmin) * BUFFER / EXTENT
    box = shapely.box(xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    classes = source._arrays["highway"]
    shown = np.array([ROAD_MIN_ZOOM.get(h, ROAD_DEFAULT_MIN_ZOOM) <= z for h in classes])
    return set(source.ids[shown & shapely.intersects(source.geometry, box)])


def _library_tile(source: RoadTileSource, z: int, x: int, y: int) -> bytes:
    hits, lines = source.lines(z, x, y)
    features = [
        {
            "geometry": line,
            "properties": {"unit_id": source.ids[i]}
            | {
                k: (v[i].item() if hasattr(v[i], "item") else v[i])
                for k, v in source._arrays.items()
                if not (v[i] is None or (isinstance(v[i], float) and math.isnan(v[i])))
            },
        }
        for i, line in zip(hits, lines, strict=True)
    ]
    data: bytes = mapbox_vector_tile.encode(
        [{"name": "roads", "features": features}],
        default_options={"quantize_bounds": tile_bounds(z, x, y), "extents": EXTENT},
    )
    return data


def _by_id(data: bytes) -> dict[str, dict[str, object]]:
    return {f["properties"]["unit_id"]: f for f in mapbox_vector_tile.decode(data)["roads"]["features"]}


@pytest.mark.parametrize("z", [8, 14])
def test_road_tiles_drop_minor_classes_at_low_zooms_and_equal_the_library(
    roads: RoadTileSource, z: int
) -> None:
    x, y = _centre_tile(roads, z)
    ours = _by_id(roads.tile(z, x, y))
    classes = {str(f["properties"]["highway"]) for f in ours.values()}
    if z == 8:  # the province view: motorways and primary roads only
        assert classes and classes <= {"motorway", "trunk", "primary"}, classes
    else:  # a district: every class, streets included
        assert {"residential", "tertiary", "secondary"} <= classes, classes
    # every road of a shown class meeting the tile is there (a line too short to draw aside)
    expected = _expected(roads, z, x, y)
    assert set(ours) <= expected and len(ours) >= 0.9 * len(expected)
    theirs = _by_id(_library_tile(roads, z, x, y))
    assert set(ours) == set(theirs)
    for uid, feature in ours.items():
        assert feature["properties"] == theirs[uid]["properties"], uid
        assert feature["geometry"] == theirs[uid]["geometry"], uid


def test_road_lines_are_simplified_by_the_pixel_and_two_way_streets_are_one_feature(
    roads: RoadTileSource,
) -> None:
    z = 9
    x, y = _centre_tile(roads, z)
    hits, lines = roads.lines(z, x, y)
    raw = shapely.get_num_coordinates(roads.geometry[hits]).sum()
    assert shapely.get_num_coordinates(lines).sum() < raw  # fewer vertices at a province's zoom
    pixel = 2 * _HALF / (1 << z) / 256
    xmin, ymin, xmax, ymax = tile_bounds(z, x, y)
    pad = (xmax - xmin) * BUFFER / EXTENT
    clipped = shapely.clip_by_rect(roads.geometry[hits], xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    assert shapely.hausdorff_distance(lines, clipped).max() <= 2 * pixel  # within a pixel or two
    # each edge pair a -> b, b -> a of one street is one line
    ends = {tuple(sorted((g.coords[0], g.coords[-1]))) for g in roads.geometry}
    assert len(ends) >= 0.95 * len(roads)


def test_roads_as_pmtiles_hold_the_same_tiles(roads: RoadTileSource, tmp_path: object) -> None:
    pytest.importorskip("pmtiles")
    import gzip
    from pathlib import Path

    from pmtiles.reader import MmapSource, Reader

    out = Path(str(tmp_path)) / "roads.pmtiles"
    done = maps.write_pmtiles(roads, out, min_zoom=8, max_zoom=12)
    assert done["tiles"] > 0 and done["max_zoom"] == 12
    with out.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        for z in (8, 12):
            x, y = _centre_tile(roads, z)
            assert gzip.decompress(reader.get(z, x, y)) == roads.tile(z, x, y)
        assert reader.metadata()["vector_layers"][0]["id"] == "roads"


def test_the_cli_writes_a_scenario_roads_as_pmtiles(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pmtiles")
    from pathlib import Path

    from pmtiles.reader import MmapSource, Reader

    from gis import write_demo_scenario
    from service.cli import main

    work = Path(str(tmp_path))
    gpkg = write_demo_scenario(work / "demo.gpkg", seed=4, n_road_nodes=2000)
    out = work / "roads.pmtiles"
    args = ["tiles", str(gpkg), "--layer", "roads", "--out", str(out), "--min-zoom", "9", "--max-zoom", "11"]
    assert main([*args, "--lang", "en"]) == 0
    assert "roads of" in capsys.readouterr().out
    with out.open("rb") as handle:
        reader = Reader(MmapSource(handle))
        assert reader.metadata()["vector_layers"][0]["id"] == "roads"
        assert reader.header()["max_zoom"] == 11
    assert main(["tiles", str(work), "--layer", "roads", "--out", str(work / "x.pmtiles")]) == 2
    assert not (work / "x.pmtiles").exists()
