"""``GET /scenarios`` and ``GET /jobs`` a page at a time: ``limit``, ``cursor`` and ``Link`` (issue 12)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

from service.api import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-lists-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(
        tmp_path_factory.mktemp("api"), api_token=TOKEN, job_plugins=("test_jobs:register_test_jobs",)
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sids(client: TestClient, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    data = write_gpkg(tmp_path_factory.mktemp("src") / "s.gpkg").read_bytes()
    out = []
    for _ in range(5):
        r = client.post(f"{API}/scenarios", files={"file": ("s.gpkg", data)}, headers=AUTH)
        assert r.status_code == 201, r.text
        out.append(r.json()["id"])
    return out


def _all_pages(client: TestClient, path: str, **params: Any) -> tuple[list[list[str]], list[Any]]:
    pages, answers = [], []
    url: str | None = path
    query: dict[str, Any] | None = params
    while url is not None:
        r = client.get(url, params=query)
        assert r.status_code == 200, r.text
        answers.append(r)
        pages.append([item["id"] for item in r.json()])
        link = r.headers.get("link")
        if link is None:
            assert "x-next-cursor" not in r.headers
            url = None
        else:
            assert link.endswith('>; rel="next"') and r.headers["x-next-cursor"] in link
            url, query = link[1 : link.index(">")], None
    return pages, answers


def test_scenarios_come_a_page_at_a_time(client: TestClient, sids: list[str]) -> None:
    pages, _ = _all_pages(client, f"{API}/scenarios", limit=2)
    assert [len(p) for p in pages] == [2, 2, 1]
    every = [sid for p in pages for sid in p]
    assert every == list(reversed(sids))  # newest first, each once
    assert [s["id"] for s in client.get(f"{API}/scenarios").json()] == every  # default limit: all 5


def test_jobs_come_a_page_at_a_time(client: TestClient, sids: list[str]) -> None:
    ids = []
    for sid in sids[:3]:
        r = client.post(
            f"{API}/scenarios/{sid}/jobs",
            json={"kind": "sleep", "params": {"steps": 1, "step_s": 0}},
            headers=AUTH,
        )
        ids.append(r.json()["id"])
        time.sleep(0.002)  # distinct creation times
    pages, _ = _all_pages(client, f"{API}/jobs", limit=1)
    assert [j for p in pages for j in p] == list(reversed(ids)) and len(pages) == 3
    one, _ = _all_pages(client, f"{API}/jobs", limit=5, scenario_id=sids[0])
    assert one == [[ids[0]]]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"cursor": "not a cursor!"}, {"cursor": "2025.abc"}]
)
def test_bad_paging_parameters_are_a_422(client: TestClient, sids: list[str], params: dict[str, Any]) -> None:
    for path in ("/scenarios", "/jobs"):
        r = client.get(API + path, params=params)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")


def test_the_store_pages_by_creation_time_and_id(tmp_path: Path) -> None:
    from gis import load_scenario
    from service.store import SQLiteStore

    store = SQLiteStore(tmp_path / "data")
    scenario = load_scenario(write_gpkg(tmp_path / "s.gpkg"))
    made = [store.create_scenario(scenario, origin="test").id for _ in range(4)]
    first = store.list_scenarios(limit=3)
    rest = store.list_scenarios(limit=3, after=(first[-1].created_at, first[-1].id))
    assert [r.id for r in first + rest] == [r.id for r in store.list_scenarios()] and len(rest) == 1
    assert sorted(made) == sorted(r.id for r in first + rest)
