"""The web API through FastAPI's TestClient: every endpoint, bad input and tokens (the schema fuzz is
in ``test_api_schema.py``)."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scenario_factory import small_layers, write_gpkg

from service.api import Settings, create_app
from service.api.uploads import UploadLimits

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"
UNKNOWN = "0" * 32


def _settings(data_dir: Path, **kwargs: Any) -> Settings:
    base: dict[str, Any] = {
        "api_token": TOKEN,
        "demo_max_nodes": 2000,
        "job_plugins": ("test_jobs:register_test_jobs",),
    }
    return Settings(data_dir, **(base | kwargs))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path_factory.mktemp("api")))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def gpkg_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_gpkg(tmp_path_factory.mktemp("src") / "small.gpkg").read_bytes()


@pytest.fixture(scope="module")
def scenario(client: TestClient, gpkg_bytes: bytes) -> dict[str, Any]:
    r = client.post(
        f"{API}/scenarios", files={"file": ("city.gpkg", gpkg_bytes)}, data={"name": "Small"}, headers=AUTH
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = dict(r.json())
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _wait(client: TestClient, job_id: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}").json()
        if job["status"] in statuses:
            return dict(job)
        time.sleep(0.05)
    pytest.fail(f"job never reached {statuses}")


# -- service ----------------------------------------------------------------------------------


def test_health_version_and_openapi(client: TestClient) -> None:
    assert client.get(f"{API}/health").json()["status"] == "ok"
    assert client.get(f"{API}/version").json()["api"] == "v1"
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        f"{API}/scenarios",
        f"{API}/jobs/{{job_id}}/cancel",
        f"{API}/scenarios/{{scenario_id}}/layers/{{layer}}",
    } <= set(paths)
    assert "multipart/form-data" in paths[f"{API}/scenarios"]["post"]["requestBody"]["content"]
    _problem(client.get(f"{API}/no-such-endpoint"), 404)


# -- scenarios --------------------------------------------------------------------------------


def test_upload_list_get_and_layers(client: TestClient, scenario: dict[str, Any]) -> None:
    sid = scenario["id"]
    assert scenario["name"] == "Small" and scenario["layers"]["hazards"] == 2
    assert sid in [s["id"] for s in client.get(f"{API}/scenarios").json()]
    detail = client.get(f"{API}/scenarios/{sid}").json()
    hazards = next(d for d in detail["layer_details"] if d["name"] == "hazards")
    assert hazards["geometry_types"] == ["Point"] and "category" in hazards["columns"]
    r = client.get(f"{API}/scenarios/{sid}/layers/hazards")
    assert r.headers["content-type"] == "application/geo+json"
    features = r.json()["features"]
    assert sorted(f["id"] for f in features) == ["H1", "H2"]
    lon, lat = features[0]["geometry"]["coordinates"]
    assert 112 < lon < 113 and 37 < lat < 38
    near_h1 = client.get(
        f"{API}/scenarios/{sid}/layers/hazards", params={"bbox": "112.55,37.85,112.552,37.852"}
    )
    assert [f["id"] for f in near_h1.json()["features"]] == ["H1"]
    limited = client.get(f"{API}/scenarios/{sid}/layers/roads", params={"limit": 3})
    assert len(limited.json()["features"]) == 3 and limited.headers["x-total-count"] == "8"


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "181,0,1,1", "0,-95,1,1", "nan,0,1,1", "1e3,0,1,1"])
def test_bad_bbox(client: TestClient, scenario: dict[str, Any], bbox: str) -> None:
    _problem(client.get(f"{API}/scenarios/{scenario['id']}/layers/hazards", params={"bbox": bbox}), 422)


def test_bbox_across_the_antimeridian_and_latitudes_in_either_order(
    client: TestClient, scenario: dict[str, Any]
) -> None:
    url = f"{API}/scenarios/{scenario['id']}/layers/hazards"
    around = client.get(url, params={"bbox": "112.5,37.9,112.6,37.8"}).json()["features"]  # north first
    assert sorted(f["id"] for f in around) == ["H1", "H2"]
    west = client.get(url, params={"bbox": "112.56,37.8,112.0,37.9"}).json()["features"]  # 112.56 east to 112
    assert [f["id"] for f in west] == ["H2"]  # everything but the strip 112..112.56, which holds H1


def test_upload_per_layer_fields(client: TestClient) -> None:
    layers = small_layers()
    files = {name: (f"{name}.geojson", gdf.to_json().encode()) for name, gdf in layers.items()}
    r = client.post(f"{API}/scenarios", files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["origin"] == "upload:layers" and r.headers["location"].endswith(r.json()["id"])


def test_invalid_upload_is_a_422_listing_layer_rows_and_column(client: TestClient) -> None:
    layers = small_layers()
    layers["hazards"].loc[1, "category"] = "volcano"
    files = {name: (f"{name}.geojson", gdf.to_json().encode()) for name, gdf in layers.items()}
    body = _problem(client.post(f"{API}/scenarios", files=files, headers=AUTH), 422)
    error = next(e for e in body["errors"] if e["layer"] == "hazards")
    assert error["rows"] == ["H2"] and error["column"] == "category" and error["fix"]
    assert "/tmp" not in r_text(body) and "in_0" not in r_text(body)


def r_text(body: dict[str, Any]) -> str:
    return str(body)


@pytest.mark.parametrize(
    ("files", "data"),
    [
        ({"file": ("bad.gpkg", b"SQLite format 3\x00garbage")}, None),
        ({"file": ("x.zip", b"PK\x03\x04garbage")}, None),
        ({"hazard": ("h.csv", b"id\n1\n")}, None),
        ({"file": ("a.gpkg", b"x"), "hazards": ("h.csv", b"x")}, None),
        ({"hazards": ("h.csv", b"id,name,category,lon,lat\nH1,a,mining,1,2\n")}, {"options": "{"}),
        ({"hazards": ("h.csv", b"id\n")}, {"roads": "not a file"}),
        (None, {"name": "nothing uploaded"}),
    ],
)
def test_bad_uploads(client: TestClient, files: Any, data: Any) -> None:
    _problem(client.post(f"{API}/scenarios", files=files, data=data, headers=AUTH), 422)


def test_upload_must_be_multipart(client: TestClient) -> None:
    _problem(client.post(f"{API}/scenarios", json={"file": "x"}, headers=AUTH), 422)


def test_zip_slip_and_bomb_uploads(client: TestClient) -> None:
    for name, data in (("../../evil.csv", b"x"), ("hazards.csv", b"0" * (8 * 1024**2))):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
        body = _problem(
            client.post(f"{API}/scenarios", files={"file": ("a.zip", buf.getvalue())}, headers=AUTH), 422
        )
        assert body["errors"][0]["message"]


def test_oversize_upload_is_413_declared_or_streamed(tmp_path: Path) -> None:
    app = create_app(
        _settings(tmp_path, max_upload_bytes=10_000, upload_limits=UploadLimits(max_bytes=10_000))
    )
    with TestClient(app) as small:
        big = b"x" * 20_000
        _problem(small.post(f"{API}/scenarios", files={"hazards": ("h.csv", big)}, headers=AUTH), 413)

        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                yield b"y" * 1000

        headers = AUTH | {"content-type": "multipart/form-data; boundary=zzz"}
        _problem(small.post(f"{API}/scenarios", content=chunks(), headers=headers), 413)


def test_demo_scenario(client: TestClient) -> None:
    r = client.post(f"{API}/scenarios/demo", json={"seed": 7}, headers=AUTH)
    assert r.status_code == 201, r.text
    assert r.json()["synthetic"] and "synthetic" in r.json()["label"]
    _problem(client.post(f"{API}/scenarios/demo", json={"n_road_nodes": 5000}, headers=AUTH), 422)
    _problem(client.post(f"{API}/scenarios/demo", json={"seed": -1}, headers=AUTH), 422)
    _problem(client.post(f"{API}/scenarios/demo", json={"extra": 1}, headers=AUTH), 422)


def test_delete_scenario(client: TestClient, gpkg_bytes: bytes) -> None:
    sid = client.post(f"{API}/scenarios", files={"file": ("c.gpkg", gpkg_bytes)}, headers=AUTH).json()["id"]
    job = client.post(
        f"{API}/scenarios/{sid}/jobs", json={"kind": "sleep", "params": {"steps": 500}}, headers=AUTH
    )
    assert client.delete(f"{API}/scenarios/{sid}", headers=AUTH).status_code == 204
    _problem(client.get(f"{API}/scenarios/{sid}"), 404)
    _problem(client.get(f"{API}/jobs/{job.json()['id']}"), 404)
    _problem(client.delete(f"{API}/scenarios/{sid}", headers=AUTH), 404)


@pytest.mark.parametrize(
    "path", [f"/scenarios/{UNKNOWN}", f"/scenarios/{UNKNOWN}/layers/roads", "/scenarios/..%2F..%2Fetc"]
)
def test_unknown_scenario_ids(client: TestClient, path: str) -> None:
    _problem(client.get(API + path), 404)


def test_unknown_layer(client: TestClient, scenario: dict[str, Any]) -> None:
    _problem(client.get(f"{API}/scenarios/{scenario['id']}/layers/depots"), 404)


# -- tokens and CORS --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/scenarios/demo"),
        ("post", "/scenarios"),
        ("delete", f"/scenarios/{UNKNOWN}"),
        ("post", f"/scenarios/{UNKNOWN}/jobs"),
        ("post", f"/jobs/{UNKNOWN}/cancel"),
    ],
)
def test_write_endpoints_need_the_token(client: TestClient, method: str, path: str) -> None:
    body = {"json": {"kind": "network"}} if method == "post" else {}
    r = getattr(client, method)(API + path, **body)
    _problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    wrong = getattr(client, method)(API + path, headers={"Authorization": "Bearer wrong-token"}, **body)
    assert TOKEN not in wrong.text and "wrong-token" not in wrong.text
    _problem(wrong, 403)
    _problem(getattr(client, method)(API + path, headers={"Authorization": TOKEN}, **body), 401)


def test_protect_reads_and_cors(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path / "a", protect_reads=True))
    with TestClient(app) as protected:
        _problem(protected.get(f"{API}/scenarios"), 401)
        assert protected.get(f"{API}/scenarios", headers=AUTH).json() == []
        origin = {"Origin": "http://example.test"}
        assert (
            "access-control-allow-origin"
            not in protected.get(f"{API}/version", headers=AUTH | origin).headers
        )
    app = create_app(_settings(tmp_path / "b", cors_origins=("http://example.test",)))
    with TestClient(app) as open_client:
        r = open_client.get(f"{API}/version", headers={"Origin": "http://example.test"})
        assert r.headers["access-control-allow-origin"] == "http://example.test"


def test_token_file_is_created_when_not_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RISKPLAN_API_TOKEN", raising=False)
    app = create_app(Settings(tmp_path))
    token_file = tmp_path / "api_token"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    token = token_file.read_text().strip()
    with TestClient(app) as c:
        r = c.post(
            f"{API}/scenarios/demo", json={"n_road_nodes": 1}, headers={"Authorization": f"Bearer {token}"}
        )
        _problem(r, 422)  # authorised, then the body is checked


# -- jobs -------------------------------------------------------------------------------------


def test_network_job_end_to_end(client: TestClient, scenario: dict[str, Any]) -> None:
    sid = scenario["id"]
    assert "network" in [k["name"] for k in client.get(f"{API}/job-kinds").json()]
    r = client.post(
        f"{API}/scenarios/{sid}/jobs", json={"kind": "network", "params": {"max_snap_m": 500}}, headers=AUTH
    )
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    result = client.get(f"{API}/jobs/{job['id']}/result").json()
    assert result["data"]["nodes"] > 0 and result["layers"] == ["snapping"]
    layer = client.get(f"{API}/jobs/{job['id']}/result/layers/snapping").json()
    assert {f["properties"]["layer"] for f in layer["features"]} >= {"hazards", "fire_stations"}
    assert job["id"] in [j["id"] for j in client.get(f"{API}/jobs", params={"scenario_id": sid}).json()]
    _problem(client.post(f"{API}/jobs/{job['id']}/cancel", headers=AUTH), 409)
    _problem(client.get(f"{API}/jobs/{job['id']}/result/layers/nope"), 404)


def test_cancel_a_running_job(client: TestClient, scenario: dict[str, Any]) -> None:
    body = {"kind": "sleep", "params": {"steps": 500, "step_s": 0.01}}
    job = client.post(f"{API}/scenarios/{scenario['id']}/jobs", json=body, headers=AUTH).json()
    _wait(client, job["id"], ("running",))
    _problem(client.get(f"{API}/jobs/{job['id']}/result"), 409)
    assert client.post(f"{API}/jobs/{job['id']}/cancel", headers=AUTH).status_code == 200
    assert _wait(client, job["id"], ("cancelled",))["cancel_requested"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "nope"}, 422),
        ({"kind": "network", "params": {"max_snap_m": "far"}}, 422),
        ({"kind": "network", "params": {"road_speeds": "/etc/passwd"}}, 422),
        ({"params": {}}, 422),
        ({"kind": "network", "extra": 1}, 422),
    ],
)
def test_bad_job_requests(
    client: TestClient, scenario: dict[str, Any], body: dict[str, Any], status: int
) -> None:
    _problem(client.post(f"{API}/scenarios/{scenario['id']}/jobs", json=body, headers=AUTH), status)


def test_unknown_jobs(client: TestClient) -> None:
    for path in (f"/jobs/{UNKNOWN}", f"/jobs/{UNKNOWN}/result", f"/jobs/{UNKNOWN}/result/layers/x"):
        _problem(client.get(API + path), 404)
    _problem(client.post(f"{API}/jobs/{UNKNOWN}/cancel", headers=AUTH), 404)
    _problem(client.post(f"{API}/scenarios/{UNKNOWN}/jobs", json={"kind": "network"}, headers=AUTH), 404)
    _problem(client.get(f"{API}/jobs", params={"status": "lost"}), 422)
