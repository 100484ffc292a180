"""The register list's shortcut before routing answers exactly as the route does.

:class:`service.api.register_pages.RegisterListShortcut` answers the list's plain queries
before FastAPI checks them; every other request goes on to the route. Each query here is sent
to an app with the shortcut and to one without it (the same data directory): status, body and
headers must be equal, for good queries, queries the route refuses (422) and bad tokens.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.api import Settings, create_app
from service.api.accounts import create_account
from service.api.register_pages import ListParams, RegisterListShortcut, parse_list_query

API = "/api/v1/register"
ADMIN = "register-shortcut-token-0123456789"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient, str]]:
    """An app with the shortcut, one without it, on one register of 6 items; a department token."""
    data = tmp_path_factory.mktemp("shortcut")
    with_it = create_app(Settings(data, api_token=ADMIN))
    without = create_app(Settings(data, api_token=ADMIN))
    without.user_middleware = [m for m in without.user_middleware if m.cls is not RegisterListShortcut]
    with TestClient(with_it) as a, TestClient(without) as b:
        for k, category in enumerate(["gas", "elevator", "gas", "electrical", "gas", "fire_lane_blocked"]):
            body = {"category": category, "lon": 112.5 + k / 100, "lat": 37.8, "description": f"item {k}"}
            r = a.post(f"{API}/items", json=body, headers=_auth(ADMIN))
            assert r.status_code == 201, r.text
        number = r.json()["number"]
        hand_over = {"department_unit": "D1", "territorial_unit": "T1"}
        for action, data_ in [("verify", {}), ("hand_over", hand_over)]:
            move = {"action": action, "data": data_}
            r = a.post(f"{API}/items/{number}/moves", json=move, headers=_auth(ADMIN))
            assert r.status_code == 200, r.text
        register = a.app.state.service.store.register  # type: ignore[attr-defined]
        _, dept = create_account(register, role="department", unit="D1")
        yield a, b, dept


def _same(apps: tuple[TestClient, TestClient, str], query: str, headers: dict[str, str]) -> int:
    a, b, _ = apps
    ra = a.get(f"{API}/items?{query}", headers=headers)
    rb = b.get(f"{API}/items?{query}", headers=headers)
    assert ra.status_code == rb.status_code, (query, ra.text, rb.text)
    if ra.status_code == 200:
        assert ra.content == rb.content, query
    else:  # problems name the request: compare them without their instance
        pa, pb = ra.json(), rb.json()
        pa.pop("instance", None), pb.pop("instance", None)
        assert pa == pb, query
    drop = {"date", "x-request-id"}
    assert {k: v for k, v in ra.headers.items() if k not in drop} == {
        k: v for k, v in rb.headers.items() if k not in drop
    }, query
    return ra.status_code


QUERIES = [
    "",
    "limit=2",
    "limit=2&cursor=5",
    "category=gas&grade=general",
    "status=reported&limit=1",
    "overdue=true",
    "overdue=0",
    "month=2026-12",
    "bbox=112.4,37.7,112.53,37.9",
    "department=D1",
    "district=a+b",
    "enterprise=e%20one",
    # refused by the route, or spelled so that only the route decides
    "limit=0",
    "limit=1001",
    "limit=05",
    "overdue=yes",
    "overdue=maybe",
    "month=2026-13",
    "bbox=200,1,2,3",
    "cursor=-1",
    "status=",
    "status=a&status=b",
    "st%61tus=closed",
    "unknown=1",
    "grade=" + "x" * 17,
    "category=%E7%87%83%E6%B0%94",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_shortcut_answers_as_the_route(apps: tuple[TestClient, TestClient, str], query: str) -> None:
    _same(apps, query, _auth(ADMIN))


def test_tokens_and_scopes_answer_as_the_route(apps: tuple[TestClient, TestClient, str]) -> None:
    dept = apps[2]
    assert _same(apps, "limit=3", _auth(dept)) == 200
    assert len(apps[0].get(f"{API}/items", headers=_auth(dept)).json()) == 1  # its handed-over item
    assert _same(apps, "limit=3", {}) == 401
    assert _same(apps, "limit=3", _auth("rg_nosuchaccount_" + "x" * 30)) == 403
    assert _same(apps, "limit=3", {"Authorization": "Basic abc"}) == 401


def test_the_shortcut_takes_plain_queries_only() -> None:
    assert parse_list_query(b"") == ListParams()
    assert parse_list_query(b"limit=7&overdue=1&month=2026-01") == ListParams(
        limit=7, overdue=True, month="2026-01"
    )
    refused = [b"status=%90", b"limit=1001", b"limit=05", b"overdue=on", b"status=", b"a=1", b"limit"]
    for query in [*refused, b"status=\xe7"]:
        assert parse_list_query(query) is None, query


_VALUES = st.one_of(
    st.sampled_from(["true", "false", "1", "0", "2026-03", "112.4,37.7,112.6,37.9", "5", "1000", "gas"]),
    st.text(alphabet="abc019-.,%+ ", max_size=8),
)
_NAMES = st.sampled_from(["status", "category", "grade", "overdue", "month", "bbox", "limit", "cursor"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=3))
def test_any_query_answers_as_the_route(
    apps: tuple[TestClient, TestClient, str], pairs: list[tuple[str, str]]
) -> None:
    _same(apps, "&".join(f"{k}={v}" for k, v in pairs), _auth(ADMIN))
