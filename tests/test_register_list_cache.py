"""The register list's page cache: pages are reused while nothing changes, never served stale.

A write through another store handle (another app on the same data directory, as a second
``riskplan serve`` process has) and a write by another process must both show in the next list.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.api import Settings, create_app
from service.api.accounts import create_account
from service.api.register_pages import ListPage, ListPageCache

API = "/api/v1/register"
ADMIN = "register-cache-token-0123456789"
REPO = Path(__file__).resolve().parents[1]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on one data directory: each its own store handle and cache, as two processes."""
    settings = Settings(tmp_path, api_token=ADMIN)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        yield a, b


def _report(client: TestClient, description: str) -> str:
    body = {"category": "gas", "lon": 112.55, "lat": 37.87, "description": description}
    r = client.post(f"{API}/items", json=body, headers=_auth(ADMIN))
    assert r.status_code == 201, r.text
    return str(r.json()["number"])


def _list(client: TestClient, query: str = "", token: str = ADMIN) -> list[dict]:
    r = client.get(f"{API}/items?{query}", headers=_auth(token))
    assert r.status_code == 200, r.text
    return list(r.json())


def _cache(client: TestClient) -> ListPageCache:
    cache: ListPageCache = client.app.state.register_lists  # type: ignore[attr-defined]
    return cache


def test_a_write_by_another_handle_is_seen_by_the_next_list(clients: tuple[TestClient, TestClient]) -> None:
    a, b = clients
    first = _report(a, "gas smell")
    assert [i["number"] for i in _list(a)] == [first]
    assert [i["number"] for i in _list(a)] == [first]
    assert _cache(a).hits >= 1  # the second list came from the cache
    second = _report(b, "blocked lane")  # the other app's store handle
    assert [i["number"] for i in _list(a)] == [second, first]
    r = b.post(f"{API}/items/{first}/moves", json={"action": "verify", "data": {}}, headers=_auth(ADMIN))
    assert r.status_code == 200, r.text
    assert {i["number"]: i["status"] for i in _list(a)} == {second: "reported", first: "verified"}
    assert [i["number"] for i in _list(a, "status=verified")] == [first]


def test_a_write_by_another_process_is_seen_by_the_next_list(
    clients: tuple[TestClient, TestClient], tmp_path: Path
) -> None:
    a, _ = clients
    number = _report(a, "gas smell")
    assert _list(a, "status=verified") == []
    assert _list(a, "status=verified") == []
    script = (
        "import sys; from datetime import datetime; from risk_models.register import transition; "
        "from service.store import SQLiteRegister; reg = SQLiteRegister(sys.argv[1]); "
        "reg.move(sys.argv[2], lambda i: transition(i, 'verify', at=datetime.now().replace(microsecond=0), "
        "actor='other', role='inspector', data={}))"
    )
    db = tmp_path / "riskplan.sqlite3"
    assert db.exists()
    subprocess.run([sys.executable, "-c", script, str(db), number], check=True, cwd=REPO, timeout=60)
    assert [i["number"] for i in _list(a, "status=verified")] == [number]


def test_pages_are_kept_per_role_scope_and_cursor(clients: tuple[TestClient, TestClient]) -> None:
    a, _ = clients
    reg = a.app.state.service.store.register  # type: ignore[attr-defined]
    numbers = [_report(a, f"item {k}") for k in range(3)]
    hand_over = {"territorial_unit": "T", "department_unit": "D1"}
    for n in numbers[:2]:
        for action, data in (("verify", {}), ("hand_over", hand_over)):
            r = a.post(f"{API}/items/{n}/moves", json={"action": action, "data": data}, headers=_auth(ADMIN))
            assert r.status_code == 200, r.text
    _, d1 = create_account(reg, role="department", unit="D1", label="d1")
    _, d2 = create_account(reg, role="department", unit="D2", label="d2")
    admin = _list(a)
    assert len(admin) == 3
    assert [i["number"] for i in _list(a, token=d1)] == numbers[1::-1]
    assert _list(a, token=d2) == []  # not D1's page, though the filters are the same
    # the same items, each with the actions of the requester's role
    assert admin[1]["allowed_actions"] != _list(a, token=d1)[0]["allowed_actions"]
    page = a.get(f"{API}/items?limit=1", headers=_auth(ADMIN))
    again = a.get(f"{API}/items?limit=1", headers=_auth(ADMIN))
    assert page.content == again.content and page.headers["Link"] == again.headers["Link"]
    rest = a.get(f"{API}/items?limit=1&cursor={page.headers['X-Next-Cursor']}", headers=_auth(ADMIN))
    assert rest.json()[0]["number"] == numbers[1]


def test_the_cache_drops_old_versions_and_keeps_its_bound() -> None:
    cache = ListPageCache(max_bytes=40)
    cache.put(1, "a", ListPage(b"x" * 10, None))
    cache.put(2, "b", ListPage(b"x" * 10, None))  # a new version: the old pages go
    assert cache.get(2, "a") is None and cache.get(2, "b") is not None
    cache.put(1, "c", ListPage(b"x", None))  # read before the newer version: not kept
    assert cache.get(2, "c") is None
    for k in range(5):
        cache.put(2, k, ListPage(b"y" * 10, None))
    assert cache.get(2, 0) is None and cache.get(2, 4) is not None  # least recently used first
    cache.put(2, "big", ListPage(b"z" * 11, None))  # over a quarter of the bound: not kept
    assert cache.get(2, "big") is None
