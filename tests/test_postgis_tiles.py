"""Vector tiles from PostGIS when the store is PostgreSQL: ``ST_AsMVT`` on a layer version's table.

A demo city's risk layer served on the PostgreSQL store is a GiST-indexed PostGIS table of the
scenario's schema (EPSG:3857), its tiles come from ``ST_AsMVT`` there, and each equals the
Python tile of :class:`maps.TileSource` feature by feature (the same features and attributes;
the geometry the same inside the drawn tile up to one tile unit: PostGIS rounds a vertex cut
at the buffer's edge after cutting, the Python tiles before).
Skips without a PostgreSQL server.
"""

from __future__ import annotations

import math
from pathlib import Path

import mapbox_vector_tile
import pytest
import shapely
from api_factory import API, auth, create_demo

from service.store import PostgresStore

pytest.importorskip("fastapi")
pytest.importorskip("psycopg")
from fastapi.testclient import TestClient

from service.api import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "p" * 32
UNITS = {"units": "grid:500"}


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_tiles_come_from_st_asmvt_equal_to_the_python_tiles(tmp_path: Path, pg_dsn: str) -> None:
    settings = Settings(tmp_path, api_token=TOKEN, demo_max_nodes=5000, store_url=pg_dsn)
    with TestClient(create_app(settings)) as client:
        sid = create_demo(client, TOKEN, seed=18, n_road_nodes=2000)
        info = client.get(f"{API}/scenarios/{sid}/tiles/risk.json", params=UNITS, headers=auth(TOKEN)).json()
        w, s, e, n = info["bounds"]
        store = client.app.state.service.store  # type: ignore[attr-defined]
        assert isinstance(store, PostgresStore)
        # the layer version is a GiST-indexed EPSG:3857 table of the scenario's schema
        tables = store._all(
            "SELECT f_table_name AS t, srid FROM geometry_columns WHERE f_table_schema = %s",
            (f"scenario_{sid}",),
        )
        tiled = [r for r in tables if r["t"].startswith("tiles_risk_")]
        assert len(tiled) == 1 and tiled[0]["srid"] == 3857
        indexes = store._all(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
            (f"scenario_{sid}", tiled[0]["t"]),
        )
        assert any("gist" in r["indexdef"].lower() for r in indexes)
        (source,) = [t.source for t in client.app.state.tile_sources._items.values()]  # type: ignore[attr-defined]
        compared = exact = 0
        for z in (11, 13):
            x, y = _tile_of((w + e) / 2, (s + n) / 2, z)
            r = client.get(
                f"{API}/scenarios/{sid}/tiles/risk/{z}/{x}/{y}.mvt", params=UNITS, headers=auth(TOKEN)
            )
            assert r.status_code == 200, r.text
            theirs = {
                f["properties"]["unit_id"]: f
                for f in mapbox_vector_tile.decode(r.content)["risk"]["features"]
            }
            ours = {
                f["properties"]["unit_id"]: f
                for f in mapbox_vector_tile.decode(source.tile(z, x, y))["risk"]["features"]
            }
            assert set(theirs) == set(ours) and ours
            for uid, f in theirs.items():
                props = {k: v for k, v in f["properties"].items() if v is not None}
                assert set(props) == set(ours[uid]["properties"]), uid
                for key, value in props.items():
                    mine = ours[uid]["properties"][key]
                    assert value == (pytest.approx(mine) if isinstance(mine, float) else mine), (uid, key)
                # inside the drawn tile equal up to a vertex's rounding (a cut at the buffer's edge
                # moves along a steep edge: PostGIS rounds after cutting, the Python tiles before)
                a, b = (shapely.geometry.shape(g["geometry"]) for g in (f, ours[uid]))
                a_in, b_in = (shapely.clip_by_rect(g, 0, 0, 4096, 4096) for g in (a, b))
                assert a_in.is_empty == b_in.is_empty, uid
                assert a_in.is_empty or shapely.hausdorff_distance(a_in, b_in) <= 1.5, uid
                exact += shapely.equals(a, b)
            compared += len(theirs)
        assert compared > 20 and exact > 0.8 * compared  # most are identical
        far = client.get(f"{API}/scenarios/{sid}/tiles/risk/11/0/0.mvt", params=UNITS, headers=auth(TOKEN))
        assert far.status_code == 204
        # a version is a hex digest, which may begin with a digit (a layer name may not)
        digits = "0123456789abcdef"
        store.put_tile_layer(sid, "tiles_risk_digits", digits, source)
        assert store.tile_layer_stored(sid, "tiles_risk_digits", digits)
        x, y = _tile_of((w + e) / 2, (s + n) / 2, 13)
        again = store.vector_tile(sid, "tiles_risk_digits", digits, source, z=13, x=x, y=y)
        assert mapbox_vector_tile.decode(again)["risk"]["features"]


def test_the_tile_table_is_written_by_one_binary_copy_with_its_values_intact(pg_dsn: str) -> None:
    """Missing numbers as NULL, any text (tabs, quotes, Chinese) as it is, geometry in EPSG:3857."""
    import geopandas as gpd
    import numpy as np
    import psycopg

    import maps
    from service.store._postgres_tiles import write_tile_table

    names = ["a\tb", "c'd\\e", "社区\n一", None]
    frame = gpd.GeoDataFrame(
        {
            "name": names,
            "score": [1.5, np.nan, np.inf, -2.0],
            "rank": [4, 3, 2, 1],
            "ok": [True, False, True, False],
        },
        geometry=[shapely.box(i * 100.0, 0, i * 100.0 + 100, 100) for i in range(4)],
        crs=3857,
        index=["u0", "u1", "u2", "u3"],
    )
    source = maps.TileSource(frame, name="risk", columns=["name", "score", "rank", "ok"], rank_by="score")
    with psycopg.connect(pg_dsn) as conn, conn.cursor() as cur:
        cur.execute("CREATE SCHEMA s")
        write_tile_table(cur, "s", "t", source, comment="test")
        cur.execute(
            "SELECT unit_id, name, score, rank, ok, pos, ST_SRID(geom), ST_AsBinary(geom) "
            "FROM s.t ORDER BY pos"
        )
        rows = cur.fetchall()
        cur.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 's' AND tablename = 't'")
        indexes = " ".join(r[0] for r in cur.fetchall()).lower()
    assert [r[0] for r in rows] == ["u0", "u1", "u2", "u3"] and [r[1] for r in rows] == names
    assert [r[2] for r in rows] == [1.5, None, None, -2.0] and [r[3] for r in rows] == [4, 3, 2, 1]
    assert [r[4] for r in rows] == [True, False, True, False] and [r[5] for r in rows] == [0, 1, 2, 3]
    assert {r[6] for r in rows} == {3857}
    assert all(
        shapely.equals(shapely.from_wkb(bytes(r[7])), g) for r, g in zip(rows, frame.geometry, strict=True)
    )
    assert "gist" in indexes and "pkey" in indexes
