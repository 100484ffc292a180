"""A scenario deleted while it is being read is a 404: never a 500, never a server path (issue 12)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

from service.api import Settings, create_app
from service.store import SQLiteStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-races-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


@pytest.fixture(scope="module")
def gpkg_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_gpkg(tmp_path_factory.mktemp("src") / "small.gpkg").read_bytes()


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(tmp_path / "data", api_token=TOKEN))) as client:
        yield client


def _upload(client: TestClient, gpkg_bytes: bytes) -> str:
    r = client.post(f"{API}/scenarios", files={"file": ("s.gpkg", gpkg_bytes)}, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _store(client: TestClient) -> SQLiteStore:
    store = client.app.state.service.store  # type: ignore[attr-defined]
    assert isinstance(store, SQLiteStore)
    return store


def _assert_gone(r: Any, data_dir: Path) -> None:
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert str(data_dir) not in r.text and "/scenarios/" not in r.json()["detail"]


def _deleting_first(client: TestClient, sid: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, called after the scenario was deleted from the store (files and row)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _store(client).delete_scenario(sid)
        return real(*args, **kwargs)

    return wrapped


def _deleting_after(client: TestClient, sid: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, then the scenario is deleted (the store checked it exists, then it vanished)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        _store(client).delete_scenario(sid)
        return out

    return wrapped


def test_deleted_between_its_row_and_its_file(
    app_client: TestClient, gpkg_bytes: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sid = _upload(app_client, gpkg_bytes)
    store = _store(app_client)
    # the store found the row, then the scenario vanished before its GeoPackage was read
    monkeypatch.setattr(store, "_scenario_dir", _deleting_after(app_client, sid, store._scenario_dir))
    for path in (f"/scenarios/{sid}/layers/roads", f"/scenarios/{sid}"):
        _assert_gone(app_client.get(API + path), tmp_path)


def test_deleted_while_coverage_is_computed(
    app_client: TestClient, gpkg_bytes: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sid = _upload(app_client, gpkg_bytes)
    store = _store(app_client)
    app_client.get(f"{API}/scenarios/{sid}", headers=AUTH)  # loaded: the computation needs no file
    # the store checked the scenario, then it vanished before the result was written
    monkeypatch.setattr(store, "_scenario_dir", _deleting_after(app_client, sid, store._scenario_dir))
    _assert_gone(app_client.get(f"{API}/scenarios/{sid}/coverage", headers=AUTH), tmp_path)
    assert not (tmp_path / "data" / "scenarios" / sid).exists()  # no orphan folder left by a late write


def test_deleted_while_a_stored_result_is_read(
    app_client: TestClient, gpkg_bytes: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sid = _upload(app_client, gpkg_bytes)
    assert app_client.get(f"{API}/scenarios/{sid}/coverage", headers=AUTH).status_code == 200
    fresh = create_app(Settings(tmp_path / "data", api_token=TOKEN))  # nothing in memory: reads the store
    with TestClient(fresh) as client:
        store = _store(client)
        monkeypatch.setattr(store, "_result_row", _deleting_after(client, sid, store._result_row))
        _assert_gone(client.get(f"{API}/scenarios/{sid}/coverage/communities", headers=AUTH), tmp_path)


def test_readers_and_a_deleter_at_once(app_client: TestClient, gpkg_bytes: bytes, tmp_path: Path) -> None:
    """4 readers and 1 deleter, as the issue's audit ran them: every answer is a 200 or a 404."""
    sids = [_upload(app_client, gpkg_bytes) for _ in range(6)]
    paths = ["", "/layers/roads", "/layers/hazards", "/coverage/communities", "/isochrones", "/districts"]
    stop = threading.Event()
    answers: list[tuple[int, str]] = []

    def reader(seed: int) -> None:
        i = seed
        while not stop.is_set():
            sid, path = sids[i % len(sids)], paths[i % len(paths)]
            r = app_client.get(f"{API}/scenarios/{sid}{path}", headers=AUTH)
            answers.append((r.status_code, r.text))
            i += 1

    with ThreadPoolExecutor(4) as pool:
        readers = [pool.submit(reader, k) for k in range(4)]
        for sid in sids:
            assert app_client.get(f"{API}/scenarios/{sid}/coverage", headers=AUTH).status_code in (200, 404)
            assert app_client.delete(f"{API}/scenarios/{sid}", headers=AUTH).status_code == 204
        stop.set()
        for f in readers:
            f.result(timeout=120)
    statuses = {status for status, _ in answers}
    assert statuses <= {200, 404}, [t[:300] for s, t in answers if s not in (200, 404)][:3]
    assert not [t for _, t in answers if str(tmp_path) in t]


def test_deleting_a_scenario_evicts_its_analyses_and_pages(tmp_path: Path) -> None:
    from census_factory import census_layers

    data = write_gpkg(tmp_path / "census.gpkg", census_layers()).read_bytes()
    with TestClient(create_app(Settings(tmp_path / "data", api_token=TOKEN))) as client:
        keep, doomed = _upload(client, data), _upload(client, data)
        for sid in (keep, doomed):
            for path in (
                "/coverage",
                "/risk",
                "/layers/roads",
                "/map",
                "/response-times?lon=112.555&lat=37.855",
            ):
                assert client.get(f"{API}/scenarios/{sid}{path}", headers=AUTH).status_code == 200, path
        caches = client.app.state.analysis  # type: ignore[attr-defined]
        every = (caches.queries, caches.coverage, caches.layers, caches.assessments, caches.pages)

        def keys(sid: str) -> list[Any]:
            return [k for cache in every for k in list(cache._items) if sid in k]

        assert len(keys(doomed)) >= 6 and len(keys(keep)) == len(keys(doomed))
        assert client.delete(f"{API}/scenarios/{doomed}", headers=AUTH).status_code == 204
        assert keys(doomed) == [] and len(keys(keep)) >= 6
        for path in ("/coverage", "/risk", "/map"):
            _assert_gone(client.get(f"{API}/scenarios/{doomed}{path}", headers=AUTH), tmp_path)
