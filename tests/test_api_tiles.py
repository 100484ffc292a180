"""The vector tile routes: content type, 204 outside the data, 4xx, caching by layer version."""

from __future__ import annotations

from collections.abc import Iterator

import mapbox_vector_tile
import pytest
from api_factory import API, auth, create_demo, demo_client
from fastapi.testclient import TestClient

import maps
from service.api.routes import tiles as tile_routes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-tiles-token-0123456789abcdef"
AUTH = auth(TOKEN)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with demo_client(tmp_path_factory.mktemp("api"), TOKEN) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sid(client: TestClient) -> str:
    return create_demo(client, TOKEN, seed=11, n_road_nodes=2000)


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_tiles_carry_the_risk_layer_and_empty_ones_are_204(client: TestClient, sid: str) -> None:
    meta = client.get(f"{API}/scenarios/{sid}/tiles/risk.json", params={"units": "grid:500"}, headers=AUTH)
    assert meta.status_code == 200, meta.text
    info = meta.json()
    assert info["features"] > 0 and info["geojson_max_features"] == tile_routes.GEOJSON_MAX_FEATURES
    assert info["tiles"][0].endswith(
        "/tiles/risk/{z}/{x}/{y}.mvt?units=grid:500&standard=cn-gb51080&v=" + info["version"]
    )
    w, s, e, n = info["bounds"]
    z = 12
    x, y = _tile_of((w + e) / 2, (s + n) / 2, z)
    url = f"{API}/scenarios/{sid}/tiles/risk/{z}/{x}/{y}.mvt"
    r = client.get(url, params={"units": "grid:500"}, headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == maps.MVT_MEDIA_TYPE
    assert info["version"] in r.headers["etag"]
    features = mapbox_vector_tile.decode(r.content)["risk"]["features"]
    assert features and {"unit_id", "level", "score", "rank"} <= set(features[0]["properties"])
    geojson = client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:500"}, headers=AUTH).json()
    levels = {str(f["id"]): f["properties"]["level"] for f in geojson["features"]}
    assert all(levels[f["properties"]["unit_id"]] == f["properties"]["level"] for f in features)
    assert "immutable" not in r.headers["cache-control"]  # asked without the version
    again = client.get(url, params={"units": "grid:500", "v": info["version"]}, headers=AUTH)
    assert again.content == r.content
    assert again.headers["cache-control"] == "private, max-age=31536000, immutable"
    stale = client.get(url, params={"units": "grid:500", "v": "0" * 16}, headers=AUTH)
    assert stale.status_code == 200 and "immutable" not in stale.headers["cache-control"]
    unchanged = client.get(
        url, params={"units": "grid:500"}, headers=AUTH | {"If-None-Match": r.headers["etag"]}
    )
    assert unchanged.status_code == 304 and not unchanged.content
    far = client.get(
        f"{API}/scenarios/{sid}/tiles/risk/{z}/0/0.mvt", params={"units": "grid:500"}, headers=AUTH
    )
    assert far.status_code == 204 and not far.content


def test_bad_tiles_and_unknown_layers_are_4xx(client: TestClient, sid: str) -> None:
    base = f"{API}/scenarios/{sid}/tiles"
    assert client.get(f"{base}/risk/3/8/0.mvt", headers=AUTH).status_code == 404  # beyond zoom 3's grid
    assert client.get(f"{base}/risk/25/0/0.mvt", headers=AUTH).status_code == 422
    assert client.get(f"{base}/risk/3/-1/0.mvt", headers=AUTH).status_code == 422
    assert client.get(f"{base}/risk/a/0/0.mvt", headers=AUTH).status_code == 422
    unknown = client.get(f"{base}/bridges/3/0/0.mvt", headers=AUTH)
    assert unknown.status_code == 404 and "risk" in unknown.text and "roads" in unknown.text
    assert client.get(f"{API}/scenarios/{'0' * 32}/tiles/risk/3/0/0.mvt", headers=AUTH).status_code == 404
    assert client.get(f"{base}/risk/3/0/0.mvt", params={"units": "grid:1"}, headers=AUTH).status_code == 422


def test_a_big_layer_is_indexed_when_scored_and_rendered_as_geojson_only_on_request() -> None:
    import geopandas as gpd
    import numpy as np
    import shapely

    from service.api.routes.risk import GEOJSON_MAX_FEATURES, RiskEntry

    def layer(n: int) -> gpd.GeoDataFrame:
        x = np.arange(n) % 200 * 100.0
        y = np.arange(n) // 200 * 100.0
        score = np.linspace(0, 100, n)
        return gpd.GeoDataFrame(
            {"level": np.where(score > 90, "red", "blue"), "score": score, "rank": np.arange(n)[::-1] + 1},
            geometry=shapely.box(x, y, x + 100, y + 100),
            crs=3857,
            index=[f"c{i}" for i in range(n)],
        )

    big = RiskEntry.of(layer(GEOJSON_MAX_FEATURES + 1))
    assert big._tiles and not big.rendered.rendered  # the index now, the GeoJSON never yet
    assert big.tile_source() is big.tile_source() and len(big.tile_source()) == GEOJSON_MAX_FEATURES + 1
    small = RiskEntry.of(layer(50))
    assert not small._tiles and not small.rendered.rendered
    body, total = small.rendered.select(bbox=None)
    assert total == 50 and small.rendered.rendered and body.startswith(b'{"type": "FeatureCollection"')
    assert small.tile_source().columns == ("level", "score", "rank") and small._tiles


def test_tiles_of_a_layer_a_risk_job_stored_are_not_scored_again(
    client: TestClient, sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from service.api.routes import risk as risk_routes

    calls: list[str] = []
    real = risk_routes.score_scenario
    monkeypatch.setattr(
        risk_routes, "score_scenario", lambda *a, **k: calls.append(k["units"]) or real(*a, **k)
    )
    job = client.post(
        f"{API}/scenarios/{sid}/jobs", json={"kind": "risk", "params": {"units": "grid:750"}}, headers=AUTH
    )
    assert job.status_code == 202, job.text
    deadline = time.monotonic() + 120
    while (status := client.get(f"{API}/jobs/{job.json()['id']}", headers=AUTH).json()["status"]) not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "succeeded"
    stored = client.get(f"{API}/jobs/{job.json()['id']}/result/layers/units", headers=AUTH).json()["features"]
    meta = client.get(f"{API}/scenarios/{sid}/tiles/risk.json", params={"units": "grid:0750"}, headers=AUTH)
    assert meta.status_code == 200 and meta.json()["features"] == len(stored)
    w, s, e, n = meta.json()["bounds"]
    x, y = _tile_of((w + e) / 2, (s + n) / 2, 11)
    tile = client.get(
        f"{API}/scenarios/{sid}/tiles/risk/11/{x}/{y}.mvt", params={"units": "grid:750"}, headers=AUTH
    )
    features = mapbox_vector_tile.decode(tile.content)["risk"]["features"]
    levels = {str(f["properties"]["id"]): f["properties"]["level"] for f in stored}
    assert features and all(levels[f["properties"]["unit_id"]] == f["properties"]["level"] for f in features)
    # the risk routes read the same stored layer: top units and GeoJSON, still no scoring
    top = client.get(f"{API}/scenarios/{sid}/risk/top", params={"units": "grid:750", "n": 3}, headers=AUTH)
    assert top.status_code == 200 and [u["rank"] for u in top.json()] == [1, 2, 3]
    assert calls == []  # no re-scoring: the job's units were reused
    # a layer no job stored is scored, once
    client.get(f"{API}/scenarios/{sid}/tiles/risk.json", params={"units": "grid:1000"}, headers=AUTH)
    assert calls == ["grid:1000"]


def test_the_roads_layer_is_tiled_from_the_scenario_road_graph(client: TestClient, sid: str) -> None:
    meta = client.get(f"{API}/scenarios/{sid}/tiles/roads.json", headers=AUTH)
    assert meta.status_code == 200, meta.text
    info = meta.json()
    assert info["features"] > 100
    assert info["tiles"][0].endswith("/tiles/roads/{z}/{x}/{y}.mvt?v=" + info["version"])
    assert {"unit_id", "highway", "name"} <= set(info["vector_layers"][0]["fields"])
    w, s, e, n = info["bounds"]
    service = client.app.state.service  # type: ignore[attr-defined]
    graph = service.graphs.graph(sid, service.scenarios.get(sid))
    source = maps.RoadTileSource(graph)
    for z in (8, 14):
        x, y = _tile_of((w + e) / 2, (s + n) / 2, z)
        r = client.get(f"{API}/scenarios/{sid}/tiles/roads/{z}/{x}/{y}.mvt", headers=AUTH)
        assert r.status_code == 200 and r.content == source.tile(z, x, y)
        classes = {
            f["properties"]["highway"] for f in mapbox_vector_tile.decode(r.content)["roads"]["features"]
        }
        assert classes <= {"motorway", "trunk", "primary"} if z == 8 else "residential" in classes, classes
