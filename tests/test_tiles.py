"""Vector tiles (maps.tiles): the encoder against mapbox-vector-tile, thinning, bad tiles."""

from __future__ import annotations

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely

import maps
from gis import InputError

# mapbox-vector-tile 2.2 calls the deprecated shapely.ops.transform (the reference encoder)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

X0, Y0 = 12_560_000.0, 4_500_000.0  # EPSG:3857 metres, northern China


def _grid(n: int, size: float = 100.0) -> gpd.GeoDataFrame:
    xs, ys = np.meshgrid(np.arange(n) * size + X0, np.arange(n) * size + Y0)
    cells = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + size, ys.ravel() + size)
    score = np.random.default_rng(3).random(n * n) * 100
    levels = np.array(["blue", "yellow", "orange", "red"])[np.digitize(score, [50, 75, 90])]
    frame = gpd.GeoDataFrame(
        {"score": score, "level": levels, "rank": np.argsort(np.argsort(-score)) + 1, "ok": score > 10},
        geometry=cells,
        crs=3857,
        index=[f"c{i}" for i in range(n * n)],
    )
    return frame.to_crs(4326)


def _tile_of(x: float, y: float, z: int) -> tuple[int, int]:
    half = 20037508.342789244
    size = 2 * half / (1 << z)
    return int((x + half) // size), int((half - y) // size)


def _rings(geometry: dict) -> list[tuple]:
    """Rings without their closing point, each rotated to start at its smallest vertex."""
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    out = []
    for polygon in polygons:
        for ring in polygon:
            points = [tuple(p) for p in ring[:-1]]
            i = points.index(min(points))
            out.append(tuple(points[i:] + points[:i]))
    return out


@pytest.mark.parametrize("z", [12, 14, 17])
def test_tiles_decode_to_the_library_encoding(z: int) -> None:
    source = maps.TileSource(_grid(40), name="risk", rank_by="score", max_features=10**6)
    x, y = _tile_of(X0 + 2000, Y0 + 2000, z)
    features = source.features(z, x, y)
    ours = mapbox_vector_tile.decode(source.tile(z, x, y))["risk"]["features"]
    library = mapbox_vector_tile.decode(
        mapbox_vector_tile.encode(
            [{"name": "risk", "features": features}],
            default_options={"quantize_bounds": maps.tile_bounds(z, x, y), "extents": 4096},
        )
    )["risk"]["features"]
    library = [f for f in library if f["geometry"]["coordinates"]]  # the library keeps empty slivers
    assert len(ours) == len(library) > 0
    by_id = {f["properties"]["unit_id"]: f for f in ours}
    for f in library:
        mine = by_id[f["properties"]["unit_id"]]
        assert mine["properties"] == f["properties"]
        assert _rings(mine["geometry"]) == _rings(f["geometry"])


def test_attributes_and_geometry_round_trip() -> None:
    frame = _grid(4)
    source = maps.TileSource(frame, name="risk", columns=["score", "level", "rank", "ok"])
    z = 16
    x, y = _tile_of(X0 + 200, Y0 + 200, z)
    decoded = mapbox_vector_tile.decode(source.tile(z, x, y), default_options={"y_coord_down": True})
    features = decoded["risk"]["features"]
    assert decoded["risk"]["extent"] == 4096 and len(features) == len(source.hits(z, x, y)) > 0
    xmin, ymin, xmax, ymax = maps.tile_bounds(z, x, y)
    cells = frame.to_crs(3857)
    for f in features:
        row = cells.loc[f["properties"]["unit_id"]]
        assert f["properties"]["level"] == row["level"] and f["properties"]["ok"] == bool(row["ok"])
        assert (
            f["properties"]["score"] == pytest.approx(row["score"]) and f["properties"]["rank"] == row["rank"]
        )
        ring = np.array(f["geometry"]["coordinates"][0], dtype=float)
        mx = xmin + ring[:, 0] * (xmax - xmin) / 4096
        my = ymax - ring[:, 1] * (ymax - ymin) / 4096
        polygon = shapely.Polygon(np.column_stack([mx, my]))
        assert polygon.is_valid
        unit = (xmax - xmin) / 4096
        pad = 64 * unit  # the tile's buffer
        clipped = shapely.clip_by_rect(row.geometry, xmin - pad, ymin - pad, xmax + pad, ymax + pad)
        assert shapely.hausdorff_distance(polygon, clipped) < unit  # within one tile unit


def test_a_crowded_tile_is_thinned_to_the_worst_cell_per_square() -> None:
    frame = _grid(100)
    source = maps.TileSource(
        frame,
        name="risk",
        columns=["score", "level"],
        rank_by="score",
        max_features=500,
        thin_bins=16,
        merge_by=None,
    )
    z = 11
    x, y = _tile_of(X0 + 5000, Y0 + 5000, z)
    hits = source.hits(z, x, y)
    assert len(hits) > 500
    features = mapbox_vector_tile.decode(source.tile(z, x, y))["risk"]["features"]
    assert 0 < len(features) <= 18 * 18
    assert sum(f["properties"]["cells"] for f in features) == len(hits)
    red = [f["properties"]["level"] == "red" for f in features]
    assert np.mean(red) > 2 * np.mean(frame["level"].iloc[hits] == "red")  # the worst cell shows
    best = frame["score"].iloc[hits].max()
    assert max(f["properties"]["score"] for f in features) == pytest.approx(best)


@pytest.mark.parametrize("z", [10, 11, 12])
def test_a_crowded_tile_merges_its_squares_by_their_highest_level(z: int) -> None:
    """One feature per level; each level covers exactly the squares whose worst cell has it."""
    frame = _grid(100)
    frame.loc[frame.index[:40], "level"] = "red"  # a red corner, and red scattered
    source = maps.TileSource(
        frame, name="risk", columns=["score", "level"], rank_by="score", max_features=500
    )
    x, y = _tile_of(X0 + 5000, Y0 + 5000, z)
    xmin, ymin, xmax, ymax = maps.tile_bounds(z, x, y)
    hits = source.hits(z, x, y)
    assert len(hits) > 500
    # the expected picture, square by square (the naive way)
    size = (xmax - xmin) / 64
    pad = (xmax - xmin) * 64 / 4096
    rank = {"blue": 0, "yellow": 1, "orange": 2, "red": 3}
    squares: dict[tuple[int, int], str] = {}
    for i in hits:
        cell = source.geometry[i]
        cx, cy = (cell.bounds[0] + cell.bounds[2]) / 2, (cell.bounds[1] + cell.bounds[3]) / 2
        sq = (
            int(np.clip(np.floor((cx - xmin) / size), -1, 64)),
            int(np.clip(np.floor((ymax - cy) / size), -1, 64)),
        )
        level = frame["level"].iloc[i]
        if sq not in squares or rank[level] > rank[squares[sq]]:
            squares[sq] = level
    geoms, levels, cells = source.merged(z, x, y)
    assert sorted(maps.tiles.LEVELS[c] for c in levels) == sorted(set(squares.values()))  # none lost
    assert cells.sum() == len(hits)
    window = shapely.box(xmin - pad, ymin - pad, xmax + pad, ymax + pad)
    for geom, code in zip(geoms, levels, strict=True):
        level = maps.tiles.LEVELS[code]
        wanted = shapely.union_all(
            [
                shapely.box(xmin + c * size, ymax - (r + 1) * size, xmin + (c + 1) * size, ymax - r * size)
                for (c, r), lv in squares.items()
                if lv == level
            ]
        ).intersection(window)
        assert shapely.symmetric_difference(geom, wanted).area < 1e-6 * wanted.area
    # every red cell of the tile lies in the red feature (never hidden by a lower level)
    red = next(g for g, c in zip(geoms, levels, strict=True) if maps.tiles.LEVELS[c] == "red")
    reds = shapely.centroid(source.geometry[hits[frame["level"].iloc[hits].to_numpy() == "red"]])
    reds = reds[shapely.contains(window, reds)]
    assert len(reds) and shapely.contains(shapely.buffer(red, 1e-6), reds).all()
    # the tile carries these features, decoded equal to the library's encoding of them
    decoded = mapbox_vector_tile.decode(source.tile(z, x, y))["risk"]["features"]
    assert [f["properties"] for f in decoded] == [f["properties"] for f in source.features(z, x, y)]
    assert len(decoded) == len(levels) <= 4
    # the hover names the worst cell of the square under the pointer, of the square's level
    for c, r in list(squares)[::50]:
        if 0 <= c < 64 and 0 <= r < 64:
            found = source.feature_at(z, xmin + (c + 0.5) * size, ymax - (r + 0.5) * size)
            assert found is not None and found["level"] == squares[(c, r)]


def test_a_merged_tile_encodes_its_multipolygons_as_the_library() -> None:
    source = maps.TileSource(_grid(100), name="risk", columns=["level"], rank_by=None, max_features=500)
    z = 11
    x, y = _tile_of(X0 + 5000, Y0 + 5000, z)
    ours = mapbox_vector_tile.decode(source.tile(z, x, y))["risk"]["features"]
    library = mapbox_vector_tile.decode(
        mapbox_vector_tile.encode(
            [{"name": "risk", "features": source.features(z, x, y)}],
            default_options={"quantize_bounds": maps.tile_bounds(z, x, y), "extents": 4096},
        )
    )["risk"]["features"]
    assert len(ours) == len(library) > 1
    for a, b in zip(ours, library, strict=True):
        assert a["properties"] == b["properties"]
        assert a["geometry"]["type"] == "MultiPolygon"
        assert shapely.equals(shapely.geometry.shape(a["geometry"]), shapely.geometry.shape(b["geometry"]))


def test_a_big_layer_builds_its_first_view_when_indexed() -> None:
    source = maps.TileSource(_grid(100), name="risk", rank_by="score", max_features=500, prebuild=True)
    assert source.prebuilding is not None
    source.prebuilding.join()
    view = source.first_view()
    assert view and len(view) <= maps.tiles.PREBUILD_MAX_TILES
    assert {z for z, _x, _y in view} == set(range(max(z for z, _x, _y in view) + 1))  # whole zooms
    assert set(source._ready) == set(view)
    fresh = maps.TileSource(_grid(100), name="risk", rank_by="score", max_features=500)
    assert fresh.prebuilding is None  # small layers build on demand
    for z, x, y in view[-5:]:
        assert source.tile(z, x, y) == fresh.tile(z, x, y)


def test_empty_tiles_and_bad_addresses() -> None:
    source = maps.TileSource(_grid(3), name="risk")
    assert source.tile(5, 0, 0) == b""
    for z, x, y in [(3, 8, 0), (3, 0, -1), (25, 0, 0)]:
        with pytest.raises(InputError, match="does not exist"):
            source.tile(z, x, y)
    with pytest.raises(InputError, match="no column"):
        maps.TileSource(_grid(2), name="risk", columns=["nope"])
    with pytest.raises(InputError, match="no CRS"):
        maps.TileSource(gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]), name="risk")


def _signed_areas(data: bytes) -> list[float]:
    """The shoelace area of every ring of a tile, read from its raw commands (y down)."""
    from mapbox_vector_tile.Mapbox import vector_tile_pb2

    tile = vector_tile_pb2.tile()
    tile.ParseFromString(data)
    areas = []
    for feature in tile.layers[0].features:
        g, i, cx, cy = list(feature.geometry), 0, 0, 0
        ring: list[tuple[int, int]] = []
        while i < len(g):
            command, count = g[i] & 7, g[i] >> 3
            i += 1
            if command == 7:
                xs, ys = np.array(ring, dtype=float).T
                areas.append(float(np.sum(xs * np.roll(ys, -1) - np.roll(xs, -1) * ys)) / 2)
                ring = []
                continue
            for _ in range(count):
                dx, dy = (g[i] >> 1) ^ -(g[i] & 1), (g[i + 1] >> 1) ^ -(g[i + 1] & 1)
                cx, cy, i = cx + dx, cy + dy, i + 2
                ring.append((cx, cy))
    return areas


def test_exterior_rings_are_clockwise_and_holes_anticlockwise_on_screen() -> None:
    z = 15
    x, y = _tile_of(X0 + 300, Y0 + 300, z)
    xmin, ymin, xmax, ymax = maps.tile_bounds(z, x, y)
    cx, cy, r = (xmin + xmax) / 2, (ymin + ymax) / 2, (xmax - xmin) / 4
    ring = shapely.box(cx - r, cy - r, cx + r, cy + r)
    donut = ring.difference(shapely.box(cx - r / 2, cy - r / 2, cx + r / 2, cy + r / 2))
    for geometry in (ring, shapely.reverse(ring), donut, shapely.reverse(donut)):
        frame = gpd.GeoDataFrame(geometry=[geometry], crs=3857)
        areas = _signed_areas(maps.TileSource(frame, name="l").tile(z, x, y))
        assert areas[0] > 0 and all(a < 0 for a in areas[1:]), areas


@pytest.mark.parametrize("max_features", [10**6, 40])
def test_postgis_st_asmvt_gives_the_same_features(pg_dsn: str, max_features: int) -> None:
    psycopg = pytest.importorskip("psycopg")
    columns = ["score", "level", "rank"]
    source = maps.TileSource(
        _grid(12), name="risk", columns=columns, rank_by="score", max_features=max_features, thin_bins=8
    )
    z = 14
    x, y = _tile_of(X0 + 600, Y0 + 600, z)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "CREATE TABLE cells (unit_id text, score float8, level text, rank bigint, pos bigint, "
            "geom geometry(Polygon, 3857))"
        )
        with conn.cursor().copy("COPY cells FROM STDIN") as copy:
            for pos, (uid, geom) in enumerate(zip(source.ids, source.geometry, strict=True)):
                row = source.attributes.iloc[pos]
                copy.write_row(
                    (
                        uid,
                        float(row["score"]),
                        row["level"],
                        int(row["rank"]),
                        pos,
                        f"SRID=3857;{shapely.to_wkt(geom, rounding_precision=-1)}",
                    )
                )
        conn.execute("CREATE INDEX ON cells USING gist (geom)")
        sql = maps.postgis_tile_sql(
            "cells",
            columns,
            name="risk",
            rank_by="score",
            max_features=max_features,
            thin_bins=8,
            merge_by=source.merge_by,
        )
        data = bytes(conn.execute(sql, {"z": z, "x": x, "y": y}).fetchone()[0])

    def key(f: dict) -> str:  # a cell by its id, a merged level by its level
        return f["properties"].get("unit_id") or f"level {f['properties']['level']}"

    ours = {key(f): f for f in mapbox_vector_tile.decode(source.tile(z, x, y))["risk"]["features"]}
    theirs = {key(f): f for f in mapbox_vector_tile.decode(data)["risk"]["features"]}
    assert any(k.startswith("level") for k in ours) == (max_features == 40)
    assert len(ours) > 0 and set(ours) == set(theirs)
    for uid, f in theirs.items():
        props = {k: v for k, v in f["properties"].items() if v is not None}
        assert set(props) == set(ours[uid]["properties"])
        for key, value in props.items():
            mine = ours[uid]["properties"][key]
            assert value == (pytest.approx(mine) if isinstance(mine, float) else mine)
        assert shapely.equals(
            shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(ours[uid]["geometry"])
        )


def test_web_mercator_matches_pyproj() -> None:
    frame = _grid(5)
    source = maps.TileSource(frame, name="risk")
    expected = np.asarray(frame.geometry.to_crs(3857).array)
    coords = shapely.get_coordinates(source.geometry)
    assert np.abs(coords - shapely.get_coordinates(expected)).max() < 1e-6  # metres


def test_column_attributes_encode_as_the_per_feature_dicts() -> None:
    from maps._mvt import encode_polygons

    n = 300
    rng = np.random.default_rng(4)
    polygons = shapely.box(np.arange(n) * 10.0, 0, np.arange(n) * 10.0 + 8, 8)
    columns = {
        "unit_id": np.array([f"u{i}" for i in range(n)], dtype=object),
        "score": np.where(rng.random(n) < 0.1, np.nan, rng.random(n).round(2) * 100),
        "rank": rng.integers(-(2**40), 2**40, n),
        "ok": rng.random(n) < 0.5,
        "level": np.array([["red", None, "blue"][i % 3] for i in range(n)], dtype=object),
    }
    plain = [
        {k: (v[i].item() if isinstance(v[i], np.generic) else v[i]) for k, v in columns.items()}
        for i in range(n)
    ]
    dicts = [{k: v for k, v in d.items() if v is not None and not pd.isna(v)} for d in plain]
    bounds = (0.0, -1500.0, 3000.0, 1500.0)
    by_columns = mapbox_vector_tile.decode(encode_polygons(polygons, columns, name="l", bounds=bounds))
    by_dicts = mapbox_vector_tile.decode(encode_polygons(polygons, dicts, name="l", bounds=bounds))
    assert by_columns["l"]["features"] == by_dicts["l"]["features"]
    assert [f["properties"] for f in by_columns["l"]["features"]] == dicts


def _parts(geometry: dict) -> list[list[tuple]]:
    """A line feature's parts, repeated points dropped."""
    parts = geometry["coordinates"] if geometry["type"] == "MultiLineString" else [geometry["coordinates"]]
    out = []
    for part in parts:
        points = [tuple(p) for p in part]
        out.append([p for i, p in enumerate(points) if i == 0 or p != points[i - 1]])
    return out


def test_line_tiles_decode_to_the_library_encoding() -> None:
    rng = np.random.default_rng(6)
    starts = rng.random((400, 2)) * 4000 + [X0, Y0]
    roads = [
        shapely.LineString(
            np.cumsum(np.vstack([s, rng.normal(0, 60, (int(rng.integers(1, 12)), 2))]), axis=0)
        )
        for s in starts
    ]
    frame = gpd.GeoDataFrame(
        {"speed_kph": rng.integers(20, 80, len(roads)), "name": [f"road {i}" for i in range(len(roads))]},
        geometry=roads,
        crs=3857,
        index=[f"e{i}" for i in range(len(roads))],
    )
    source = maps.TileSource(frame, name="roads", max_features=10**6)
    checked = 0
    for z in (12, 15):
        x, y = _tile_of(X0 + 2000, Y0 + 2000, z)
        features = source.features(z, x, y)
        assert {"LineString", "MultiLineString"} <= {f["geometry"].geom_type for f in features} or z == 12
        ours = mapbox_vector_tile.decode(source.tile(z, x, y))["roads"]["features"]
        library = mapbox_vector_tile.decode(
            mapbox_vector_tile.encode(
                [{"name": "roads", "features": features}],
                default_options={"quantize_bounds": maps.tile_bounds(z, x, y), "extents": 4096},
            )
        )["roads"]["features"]
        theirs = {f["properties"]["unit_id"]: f for f in library}
        assert {f["properties"]["unit_id"] for f in ours} <= set(theirs) and len(ours) > 20
        for f in ours:
            other = theirs[f["properties"]["unit_id"]]
            assert f["properties"] == other["properties"]
            wanted = [p for p in _parts(other["geometry"]) if len(p) >= 2]
            assert _parts(f["geometry"]) == wanted
            checked += 1
        missing = set(theirs) - {f["properties"]["unit_id"] for f in ours}
        assert all(len({tuple(p) for p in _parts(theirs[m]["geometry"])[0]}) <= 1 for m in missing)
    assert checked > 100


@pytest.mark.parametrize("max_features", [500, 10**6])
def test_the_feature_at_a_point_is_the_one_the_tile_draws_there(max_features: int) -> None:
    """The page's hover lookup: thinned, the square's worst cell and its count; else the cell."""
    source = maps.TileSource(
        _grid(100),
        name="risk",
        columns=["score", "level"],
        rank_by="score",
        max_features=max_features,
        merge_by=None,
    )
    z = 11
    x, y = _tile_of(X0 + 5000, Y0 + 5000, z)
    xmin, ymin, xmax, ymax = maps.tile_bounds(z, x, y)
    features = mapbox_vector_tile.decode(source.tile(z, x, y), default_options={"y_coord_down": True})
    drawn = features["risk"]["features"]
    checked = 0
    for f in drawn[:: max(1, len(drawn) // 40)]:
        ring = np.array(f["geometry"]["coordinates"][0], dtype=float)
        shape = shapely.Polygon(
            np.column_stack(
                [xmin + ring[:, 0] * (xmax - xmin) / 4096, ymax - ring[:, 1] * (ymax - ymin) / 4096]
            )
        )
        inner = shapely.buffer(shape, -(xmax - xmin) / 4096 * 2)  # away from the quantised edges
        inner = inner.intersection(shapely.box(xmin, ymin, xmax, ymax))  # not in the buffer
        if inner.is_empty:
            continue
        point = inner.representative_point()
        found = source.feature_at(z, point.x, point.y)
        assert found is not None and found["unit_id"] == f["properties"]["unit_id"]
        assert found.get("cells") == f["properties"].get("cells")
        assert found["score"] == pytest.approx(f["properties"]["score"])
        checked += 1
    assert checked >= 10
    assert source.feature_at(z, X0 - 50_000, Y0 - 50_000) is None
