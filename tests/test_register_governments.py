"""Territorial governments see their own area only: DATA_DIR/governments.csv, handovers, 404s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gis import InputError
from service.api import Settings, create_app
from service.api.accounts import create_account
from service.api.register_areas import GovernmentAreas, GovernmentTable, read_governments

API = "/api/v1/register"
ADMIN = "register-admin-token-0123456789"
TABLE = (
    "district,street,unit\n小店区,,小店区人民政府\n小店区,坞城街道,坞城街道办事处\n迎泽区,,迎泽区人民政府\n"
)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "governments.csv").write_text(TABLE, encoding="utf-8")
    with TestClient(create_app(Settings(tmp_path, api_token=ADMIN))) as c:
        yield c


def _account(client: TestClient, role: str, unit: str | None = None) -> str:
    register = client.app.state.service.store.register  # type: ignore[attr-defined]
    return create_account(register, role=role, unit=unit, label=f"test {role}")[1]


def _report(client: TestClient, token: str, **kw: Any) -> str:
    body = {"category": "gas", "lon": 112.55, "lat": 37.87, "description": "hose perished",
            "source": "government_inspection", "reporter": "Wang"} | kw  # fmt: skip
    r = client.post(f"{API}/items", json=body, headers=_auth(token))
    assert r.status_code == 201, r.text
    return str(r.json()["number"])


def _move(client: TestClient, token: str, number: str, action: str, **kw: Any) -> Any:
    return client.post(f"{API}/items/{number}/moves", json={"action": action, **kw}, headers=_auth(token))


def _listed(client: TestClient, token: str) -> set[str]:
    r = client.get(f"{API}/items", headers=_auth(token))
    assert r.status_code == 200, r.text
    return {i["number"] for i in r.json()}


def test_a_government_sees_and_moves_only_its_area(client: TestClient) -> None:
    inspector = _account(client, "inspector")
    xiaodian = _account(client, "territorial_government", "小店区人民政府")
    wucheng = _account(client, "territorial_government", "坞城街道办事处")
    yingze = _account(client, "territorial_government", "迎泽区人民政府")
    dept = _account(client, "department", "应急管理局")
    a = _report(client, inspector, district="小店区", street="亲贤街道")
    b = _report(client, inspector, district="小店区", street="坞城街道")
    c = _report(client, inspector, district="迎泽区")
    d = _report(client, inspector)  # no area: no government's before the handover
    # before any handover: each government its own area; a street row beats its district's
    assert _listed(client, xiaodian) == {a}
    assert _listed(client, wucheng) == {b}
    assert _listed(client, yingze) == {c}
    assert _listed(client, inspector) == {a, b, c, d}
    assert _listed(client, dept) == set()
    assert client.get(f"{API}/items/{a}", headers=_auth(xiaodian)).status_code == 200
    for other in (b, c, d):
        assert client.get(f"{API}/items/{other}", headers=_auth(xiaodian)).status_code == 404
        assert _move(client, xiaodian, other, "comment", note="mine?").status_code == 404
    # a government verifies its own item; it may not verify another area's
    assert _move(client, xiaodian, a, "verify").status_code == 200
    assert _move(client, xiaodian, c, "verify").status_code == 404
    # a handover naming no government gets the area's; the government keeps seeing it
    h = _move(client, inspector, a, "hand_over", data={"department_unit": "应急管理局"})
    assert h.status_code == 200, h.text
    assert h.json()["territorial_unit"] == "小店区人民政府"
    assert _listed(client, xiaodian) == {a} and _listed(client, dept) == {a}
    assert _move(client, xiaodian, a, "comment", note="urged").status_code == 200
    # a handover naming another government moves the item to it, whatever its area
    assert _move(client, inspector, c, "verify").status_code == 200
    h = _move(
        client, inspector, c, "hand_over",
        data={"territorial_unit": "小店区人民政府", "department_unit": "住房和城乡建设局"},
    )  # fmt: skip
    assert h.status_code == 200, h.text
    assert _listed(client, xiaodian) == {a, c} and _listed(client, yingze) == set()
    assert client.get(f"{API}/items/{c}", headers=_auth(yingze)).status_code == 404
    # the department scoping stays: 应急管理局 sees only what was handed to it
    assert _listed(client, dept) == {a}
    assert client.get(f"{API}/items/{c}", headers=_auth(dept)).status_code == 404


def test_without_a_table_each_district_is_its_own_government(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(tmp_path, api_token=ADMIN))) as client:
        inspector = _account(client, "inspector")
        gov = _account(client, "territorial_government", "小店区")
        mine = _report(client, inspector, district="小店区")
        _report(client, inspector, district="迎泽区")
        assert _listed(client, gov) == {mine}


def test_the_table_is_checked_and_reread(tmp_path: Path) -> None:
    path = tmp_path / "governments.csv"
    path.write_text("district,unit\n小店区,A\n小店区,B\n,C\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3: 小店区 is already held by `A`.*row 4"):
        read_governments(path)
    path.write_text("district,owner\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no columns \['unit'\]"):
        GovernmentAreas(path)
    path.write_text("\ufeffdistrict, street ,unit\n小店区,,A\n", encoding="utf-8")  # Excel's BOM, spaces
    areas = GovernmentAreas(path)
    assert areas.table().unit_of("小店区", None) == "A"
    path.write_text("district,street,unit\n小店区,,A\n小店区,坞城街道,B\n", encoding="utf-8")
    assert areas.table().unit_of("小店区", "坞城街道") == "B"  # re-read on change
    path.write_text("broken", encoding="utf-8")
    assert areas.table().unit_of("小店区", "坞城街道") == "B"  # a bad change keeps the last good one
    identity = GovernmentTable({}, {}, identity=True)
    assert identity.unit_of("迎泽区", "柳巷") == "迎泽区" and identity.rule("迎泽区").contains("迎泽区", None)
