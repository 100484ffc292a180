"""The ``placement`` and ``depots`` job kinds through the API, on a ~3000-node demo city.

Results are checked against :func:`planning.plan_stations` called directly with the same inputs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_factory import API, auth, create_demo, demo_client
from fastapi.testclient import TestClient

import planning
from gis import scenario_graph
from service.workflow import assess

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-planning-token-0123456789"
AUTH = auth(TOKEN)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with demo_client(tmp_path_factory.mktemp("api"), TOKEN) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sid(client: TestClient) -> str:
    return create_demo(client, TOKEN, seed=5)


def _start(client: TestClient, sid: str, kind: str, params: dict[str, Any]) -> str:
    r = client.post(f"{API}/scenarios/{sid}/jobs", json={"kind": kind, "params": params}, headers=AUTH)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _wait(client: TestClient, job_id: str, timeout_s: float = 60) -> tuple[dict[str, Any], list[float]]:
    seen: list[float] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}").json()
        seen.append(float(job["progress"]))
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            return job, seen
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not finish")


def test_kinds_are_listed(client: TestClient) -> None:
    kinds = {k["name"]: k["description"] for k in client.get(f"{API}/job-kinds").json()}
    assert {"network", "placement", "depots"} <= set(kinds)
    assert "fire stations" in kinds["placement"]


def test_placement_job_end_to_end(client: TestClient, sid: str) -> None:
    job_id = _start(client, sid, "placement", {"n_new": 2, "model": "mclp"})
    job, seen = _wait(client, job_id)
    assert job["status"] == "succeeded", job
    assert seen == sorted(seen) and seen[-1] == 1.0, "progress only moves forward"
    result = client.get(f"{API}/jobs/{job_id}/result").json()
    assert result["kind"] == "placement"
    assert set(result["layers"]) == {"proposed", "candidates", "communities", "tradeoff"}
    data = result["data"]
    assert data["n_new"] == 2 and len(data["proposed"]) == 2 and data["tradeoff"]

    proposed = client.get(f"{API}/jobs/{job_id}/result/layers/proposed").json()
    assert len(proposed["features"]) == 2
    for feature in proposed["features"]:
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert feature["properties"]["reason"]
    candidates = client.get(f"{API}/jobs/{job_id}/result/layers/candidates").json()["features"]
    assert "excluded_by" in candidates[0]["properties"]
    assert sum(bool(f["properties"]["selected"]) for f in candidates) == 2
    communities = client.get(f"{API}/jobs/{job_id}/result/layers/communities").json()["features"]
    assert all(
        p["response_after_s"] <= p["response_before_s"] + 1e-6
        for p in (f["properties"] for f in communities)
        if p["response_before_s"] is not None and p["response_after_s"] is not None
    )

    # the same plan as the library called directly
    scenario = client.app.state.service.scenarios.get(sid)  # type: ignore[attr-defined]
    graph = scenario_graph(scenario, cache=True)
    _, risk = assess(scenario, graph=graph)
    plan = planning.plan_stations(scenario, graph, n_new=2, model="mclp", risk=risk)
    assert sorted(f["id"] for f in proposed["features"]) == sorted(map(str, plan.proposed.index))


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"model": "greedy"}, "model"),
        ({"n_new": 0}, "n_new"),
        ({"n_new": 51}, "n_new"),
        ({"n_new": "3"}, "n_new"),
        ({"distance": "crow"}, "distance"),
        ({"standard": "nope"}, "standard"),
        ({"radius": 5}, "radius"),
    ],
)
def test_bad_placement_params_name_the_parameter(
    client: TestClient, sid: str, params: dict[str, Any], name: str
) -> None:
    r = client.post(f"{API}/scenarios/{sid}/jobs", json={"kind": "placement", "params": params}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert name in r.json()["detail"]


def test_bad_depots_params(client: TestClient, sid: str) -> None:
    r = client.post(
        f"{API}/scenarios/{sid}/jobs", json={"kind": "depots", "params": {"days": 0}}, headers=AUTH
    )
    assert r.status_code == 422 and "`days`" in r.json()["detail"]


def test_depots_job(client: TestClient, sid: str) -> None:
    job_id = _start(client, sid, "depots", {"days": 3, "distance": "euclidean"})
    job, _ = _wait(client, job_id)
    assert job["status"] == "succeeded", job
    result = client.get(f"{API}/jobs/{job_id}/result").json()
    assert set(result["layers"]) == {"communities", "depots", "stock"}
    assert result["data"]["days"] == 3 and result["data"]["table"]
    depots = client.get(f"{API}/jobs/{job_id}/result/layers/depots").json()["features"]
    stock = client.get(f"{API}/jobs/{job_id}/result/layers/stock").json()["features"]
    assert {f["properties"]["depot"] for f in stock} <= {f["properties"]["id"] for f in depots}
    communities = client.get(f"{API}/jobs/{job_id}/result/layers/communities").json()["features"]
    scenario = client.app.state.service.scenarios.get(sid)  # type: ignore[attr-defined]
    assert len(communities) == len(scenario["communities"])


def test_cancel_a_placement_job(client: TestClient, sid: str) -> None:
    job_id = _start(client, sid, "placement", {"n_new": 3, "distance": "euclidean"})
    r = client.post(f"{API}/jobs/{job_id}/cancel", headers=AUTH)
    assert r.status_code == 200, r.text
    job, _ = _wait(client, job_id)
    assert job["status"] == "cancelled", job
    assert client.get(f"{API}/jobs/{job_id}/result").status_code == 409


def test_writes_need_the_token(client: TestClient, sid: str, tmp_path: Path) -> None:
    body = {"kind": "placement", "params": {}}
    assert client.post(f"{API}/scenarios/{sid}/jobs", json=body).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert client.post(f"{API}/scenarios/{sid}/jobs", json=body, headers=wrong).status_code == 403
    assert client.post(f"{API}/scenarios/{'0' * 32}/jobs", json=body, headers=AUTH).status_code == 404
    assert client.get(f"{API}/jobs/{'0' * 32}").status_code == 404
