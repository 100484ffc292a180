"""``GET /scenarios/{id}/map`` and ``/report``: HTML built from assess() and the latest placement job."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from api_factory import API, auth, create_demo, demo_client
from fastapi.testclient import TestClient

import maps
from service.api import Settings, create_app
from service.api.routes import maps as map_routes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-maps-token-0123456789abcdef"
AUTH = auth(TOKEN)
UNKNOWN = "0" * 32


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with demo_client(tmp_path_factory.mktemp("api"), TOKEN) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sid(client: TestClient) -> str:
    return create_demo(client, TOKEN, seed=7)


@pytest.fixture(scope="module")
def placement(client: TestClient, sid: str) -> tuple[str, list[dict[str, Any]]]:
    """A succeeded placement job on the scenario: ``(job id, proposed features)``."""
    body = {"kind": "placement", "params": {"n_new": 2, "distance": "euclidean"}}
    job_id = client.post(f"{API}/scenarios/{sid}/jobs", json=body, headers=AUTH).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"{API}/jobs/{job_id}").json()["status"] not in {"succeeded", "failed", "cancelled"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    features = client.get(f"{API}/jobs/{job_id}/result/layers/proposed").json()["features"]
    return job_id, features


def test_map_is_built_once_and_follows_the_latest_placement(
    client: TestClient, sid: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    calls: list[int] = []
    real = map_routes.assess

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(map_routes, "assess", counting)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: client.get(f"{API}/scenarios/{sid}/map"), range(4)))
    assert all(r.status_code == 200 for r in answers), answers[0].text
    assert len({r.content for r in answers}) == 1 and len(calls) == 1
    html = answers[0].text
    assert answers[0].headers["content-type"].startswith("text/html")
    names = maps.layer_names("zh")  # no Accept-Language: by the scenario's place (Shanxi), Chinese
    for key in ("units", "communities", "stations", "isochrones"):
        assert names[key] in html
    assert names["proposed"] not in html
    assert 'src="http' not in html, "assets are inlined"

    job_id, proposed = request.getfixturevalue("placement")
    r = client.get(f"{API}/scenarios/{sid}/map")
    assert r.status_code == 200 and r.headers["x-riskplan-placement-job"] == job_id
    assert names["proposed"] in r.text
    assert all(str(f["properties"]["name"]) in r.text for f in proposed)
    assert len(calls) == 1, "the assessment is reused"
    assert any(name.startswith("map_") for name in client.app.state.service.store.list_results(sid))  # type: ignore[attr-defined]


def test_report_has_its_sections(client: TestClient, sid: str, placement: Any) -> None:
    r = client.get(f"{API}/scenarios/{sid}/report")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    # no Accept-Language: by the scenario's place (Shanxi), Chinese
    for section in ("主要指标", "交互式地图", "风险最高的15个单元", "规划新建消防站"):
        assert f"<h2>{section}" in r.text, section
    assert 'src="http' not in r.text


@pytest.mark.parametrize("page", ["map", "report"])
def test_unknown_scenario_and_standard(client: TestClient, sid: str, page: str) -> None:
    r = client.get(f"{API}/scenarios/{UNKNOWN}/{page}")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = client.get(f"{API}/scenarios/{sid}/{page}", params={"standard": "nope"})
    assert r.status_code == 422 and "cn-gb51080" in r.json()["detail"]


def test_reads_need_the_token_when_protected(tmp_path: Any) -> None:
    settings = Settings(tmp_path, api_token=TOKEN, protect_reads=True)
    with TestClient(create_app(settings)) as protected:
        assert protected.get(f"{API}/scenarios/{UNKNOWN}/map").status_code == 401
        assert protected.get(f"{API}/scenarios/{UNKNOWN}/report", headers=AUTH).status_code == 404


def test_openapi_lists_the_pages(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert f"{API}/scenarios/{{scenario_id}}/map" in paths
    assert f"{API}/scenarios/{{scenario_id}}/report" in paths
