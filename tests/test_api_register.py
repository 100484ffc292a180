"""The register endpoints: reports (anonymous, limited, photos), scopes, moves, disclosure, tokens."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from risk_models.register import replay_many
from service.api import Settings, create_app
from service.api.accounts import create_account
from service.api.register_access import RegisterLimits

API = "/api/v1/register"
ADMIN = "register-admin-token-0123456789"
SECRET = "SECRET-private-text"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    limits = RegisterLimits(
        anonymous_reports=3, window_s=600, max_report_bytes=2_000_000, max_photo_bytes=1_500_000
    )
    settings = Settings(tmp_path, api_token=ADMIN, register_limits=limits)
    with TestClient(create_app(settings)) as c:
        yield c


def _account(client: TestClient, role: str, unit: str | None = None) -> str:
    register = client.app.state.service.store.register  # type: ignore[attr-defined]
    return create_account(register, role=role, unit=unit, label=f"test {role}")[1]


def _gps_jpeg() -> bytes:
    img = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SECRET camera maker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (37.0, 52.0, 12.0), 3: "E", 4: (112.0, 33.0, 1.0)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    assert Image.open(io.BytesIO(buf.getvalue())).getexif().get_ifd(0x8825)  # the fixture has GPS
    return buf.getvalue()


def _report(client: TestClient, token: str | None = None, **kw: Any) -> Any:
    body = {"category": "mining", "lon": 112.55, "lat": 37.87, "description": f"gas over the limit {SECRET}"}
    body.update(kw)
    return client.post(f"{API}/items", json=body, headers=_auth(token) if token else {})


def _move(client: TestClient, token: str, number: str, action: str, **kw: Any) -> Any:
    return client.post(f"{API}/items/{number}/moves", json={"action": action, **kw}, headers=_auth(token))


def test_anonymous_report_with_photo_is_stripped_and_followed(client: TestClient) -> None:
    files = [("photo", ("p.jpg", _gps_jpeg(), "image/jpeg"))]
    form = {"category": "ebike_indoor_charging", "lon": "112.55", "lat": "37.87", "description": "charging"}
    r = client.post(f"{API}/items", data=form, files=files)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["number"].startswith(f"YH-{datetime.now().year}-") and out["photos"] == 1
    assert out["follow_url"] == f"/report/#{out['number']}.{out['follow_key']}"
    detail = client.get(f"{API}/items/{out['number']}", headers=_auth(ADMIN)).json()
    assert detail["source"] == "public_report" and detail["reporter"] is None
    (ref,) = detail["events"][0]["attachments"]
    photo = client.get(f"{API}/items/{out['number']}/attachments/{ref}", headers=_auth(ADMIN))
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(photo.content))
    assert img.format == "JPEG" and not img.getexif() and b"SECRET" not in photo.content
    assert "exif" not in img.info and "icc_profile" not in img.info
    follow = client.get(f"{API}/follow/{out['number']}", headers={"X-Follow-Key": out["follow_key"]})
    assert follow.status_code == 200 and follow.json()["status"] == "reported"
    wrong = client.get(f"{API}/follow/{out['number']}", headers={"X-Follow-Key": "guess"})
    assert wrong.status_code == 404
    assert client.get(f"{API}/items/{out['number']}").status_code == 401  # the public sees no item


def test_non_images_and_large_reports_are_refused(client: TestClient) -> None:
    form = {"category": "gas", "lon": "112.5", "lat": "37.8", "description": "x"}
    r = client.post(
        f"{API}/items", data=form, files=[("photo", ("a.jpg", b"%PDF-1.4 not an image", "image/jpeg"))]
    )
    assert r.status_code == 422 and "not a photo" in r.json()["detail"]
    big = client.post(
        f"{API}/items", data=form, files=[("photo", ("b.jpg", b"\0" * 2_100_000, "image/jpeg"))]
    )
    assert big.status_code == 413
    text = client.post(f"{API}/items", data=form, files=[("photo", (None, b"{}"))])  # text, not a file
    assert text.status_code == 422 and "not a file" in text.json()["detail"]
    assert client.app.state.service.store.register.count() == (0, 0)  # type: ignore[attr-defined]


def test_anonymous_reports_are_rate_limited_per_address(client: TestClient) -> None:
    for _ in range(3):
        assert _report(client).status_code == 201
    r = _report(client)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert _report(client, ADMIN).status_code == 201  # accounts are not limited


def test_departments_see_and_move_only_their_items(client: TestClient) -> None:
    inspector = _account(client, "inspector")
    dept_a = _account(client, "department", "应急管理局")
    dept_b = _account(client, "department", "住房和城乡建设局")
    number = _report(client, inspector, source="government_inspection", reporter=f"Wang {SECRET}").json()[
        "number"
    ]
    v = _move(client, inspector, number, "verify", data={"criteria": ["CM-02"], "public_summary": "瓦斯超限"})
    assert v.status_code == 200, v.text
    assert v.json()["grade"] == "major"
    # a department may not verify (the workflow says who may)
    assert _move(client, dept_a, number, "comment", note="x").status_code == 404  # not handed to it yet
    h = _move(
        client,
        inspector,
        number,
        "hand_over",
        data={"territorial_unit": "小店区", "department_unit": "应急管理局"},
    )
    assert h.status_code == 200, h.text
    assert [i["number"] for i in client.get(f"{API}/items", headers=_auth(dept_a)).json()] == [number]
    assert client.get(f"{API}/items", headers=_auth(dept_b)).json() == []
    assert client.get(f"{API}/items/{number}", headers=_auth(dept_b)).status_code == 404
    assert _move(client, dept_b, number, "comment", note="mine?").status_code == 404
    deadline = v.json()["deadline"]
    plan = {"plan": f"plan {SECRET}", "measures": ["ventilation"], "funds_yuan": 5000, "deadline": deadline}
    p = _move(client, dept_a, number, "plan", data=plan, note=f"note {SECRET}")
    assert p.status_code == 200 and p.json()["status"] == "rectifying"
    assert "claim" in p.json()["allowed_actions"]
    assert _move(client, dept_a, number, "accept").status_code == 409  # not from rectifying
    assert (
        _move(client, dept_a, number, "supervise", data={"authority": "x", "deadline": deadline}).status_code
        == 403
    )
    stale = _move(client, dept_a, number, "claim", expect_version=1)
    assert stale.status_code == 409
    assert _move(client, dept_a, number, "claim", expect_version=4).status_code == 200
    # the admin API token acts as admin and sees everything
    listed = client.get(
        f"{API}/items", params={"status": "rectified", "grade": "major"}, headers=_auth(ADMIN)
    )
    assert [i["number"] for i in listed.json()] == [number]
    store = client.app.state.service.store.register  # type: ignore[attr-defined]
    assert replay_many(store.iter_events())[number] == store.get(number).item


def test_disclosure_is_public_and_leaks_nothing_private(client: TestClient) -> None:
    inspector = _account(client, "inspector")
    number = _report(
        client, inspector, source="government_inspection", reporter=f"Wang {SECRET}", district="小店区"
    ).json()["number"]
    _move(client, inspector, number, "verify", data={"criteria": ["CM-02"]}, note=f"n {SECRET}")
    month = datetime.now().strftime("%Y-%m")
    for fmt in ("html", "csv", "geojson", "gpkg"):
        r = client.get(f"{API}/disclosure/{month}", params={"format": fmt})
        assert r.status_code == 200, r.text
        assert SECRET.encode() not in r.content and b"Wang" not in r.content
        if fmt != "gpkg":
            assert number.encode() in r.content
    assert client.get(f"{API}/disclosure/1999-01").status_code == 404
    assert client.get(f"{API}/assessment/{month}").status_code == 401
    a = client.get(f"{API}/assessment/{month}", params={"by": "district"}, headers=_auth(inspector))
    assert a.status_code == 200, a.text
    assert a.json()["city"][-1]["found"] == 1 and a.json()["table"][0]["district"] == "小店区"
    _move(
        client,
        inspector,
        number,
        "hand_over",
        data={"territorial_unit": "小店区", "department_unit": "应急管理局"},
    )
    b = client.get(f"{API}/assessment/{month}", params={"by": "department_unit"}, headers=_auth(inspector))
    assert b.status_code == 200, b.text
    assert b.json()["table"][0]["department_unit"] == "应急管理局"


def test_paging_and_filters(client: TestClient) -> None:
    numbers = [
        _report(client, ADMIN, category=c, source="government_inspection", reporter="r").json()["number"]
        for c in ("gas", "gas", "elevator", "gas")
    ]
    first = client.get(f"{API}/items", params={"limit": 2, "category": "gas"}, headers=_auth(ADMIN))
    assert [i["number"] for i in first.json()] == [numbers[3], numbers[1]]
    params = {"limit": 2, "category": "gas", "cursor": first.headers["X-Next-Cursor"]}
    nxt = client.get(f"{API}/items", params=params, headers=_auth(ADMIN))
    assert [i["number"] for i in nxt.json()] == [numbers[0]] and "X-Next-Cursor" not in nxt.headers
    box = client.get(f"{API}/items", params={"bbox": "112,37,113,38"}, headers=_auth(ADMIN)).json()
    assert len(box) == 4
    assert client.get(f"{API}/items", params={"bbox": "0,0,1,1"}, headers=_auth(ADMIN)).json() == []
    assert client.get(f"{API}/items", params={"overdue": True}, headers=_auth(ADMIN)).json() == []


def test_tokens_are_never_logged_or_echoed(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = _account(client, "inspector")
    answers = [
        _report(client, token, source="government_inspection", reporter="r"),
        client.get(f"{API}/items", headers=_auth(token)),
        client.get(f"{API}/items", headers=_auth(token + "x")),
        client.get(f"{API}/items", headers=_auth("rpr_" + "0" * 32 + "_" + "y" * 30)),
    ]
    assert [a.status_code for a in answers] == [201, 200, 403, 403]
    secret = token.rsplit("_", 1)[1]
    assert secret not in caplog.text and all(secret not in a.text for a in answers)
    store = client.app.state.service.store.register  # type: ignore[attr-defined]
    conn = __import__("sqlite3").connect(store.db_path)
    try:
        dump = "\n".join(conn.iterdump())
    finally:
        conn.close()
    assert secret not in dump  # stored only as a salted hash
