"""The register's import, traceability and grading endpoints: rights, bad input, round trips."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_factory import create_demo
from fastapi.testclient import TestClient
from openpyxl import Workbook

from service.api import Settings, create_app
from service.api.accounts import create_account
from service.api.routes import register_intake

API = "/api/v1/register"
ADMIN = "register-admin-token-0123456789"
HEADER = "隐患类别,隐患描述,经度,纬度,发现时间,检查人,区县\n"
ROWS = (
    "燃气,软管老化,112.5500,37.8700,2026-03-02 10:00,王,Xiaodian\n"
    "消防通道堵塞,车辆占用,112.5600,37.8710,2026/03/03 09:30,李,Yingze\n"
    "电梯,困人,112.6000,37.9000,2026-03-04,张,\n"
)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(tmp_path, api_token=ADMIN, demo_max_nodes=5000))) as c:
        yield c


def _account(client: TestClient, role: str, unit: str | None = None) -> str:
    register = client.app.state.service.store.register  # type: ignore[attr-defined]
    return create_account(register, role=role, unit=unit, label=f"test {role}")[1]


def _count(client: TestClient) -> tuple[int, int]:
    return client.app.state.service.store.register.count()  # type: ignore[attr-defined,no-any-return]


def _import(client: TestClient, token: str, data: bytes, name: str = "检查.csv", **form: str) -> Any:
    return client.post(
        f"{API}/imports", files={"file": (name, data, "text/csv")}, data=form, headers=_auth(token)
    )


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# -- import -------------------------------------------------------------------------------------


def test_a_gb18030_csv_and_an_excel_sheet_are_imported_and_listed(client: TestClient) -> None:
    inspector = _account(client, "inspector")
    r = _import(client, inspector, (HEADER + ROWS).encode("gb18030"), verify="true", coords="gcj02")
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["count"] == 3 and out["numbers"] == ["YH-2026-000001", "YH-2026-000002", "YH-2026-000003"]
    item = client.get(f"{API}/items/{out['first']}", headers=_auth(inspector)).json()
    assert (item["status"], item["category"], item["district"], item["grade"]) == (
        "verified", "gas", "Xiaodian", "general",
    )  # fmt: skip
    assert 112.543 < item["lon"] < 112.545  # GCJ-02 shifted back to WGS84 (about 600 m west)
    assert [e["action"] for e in item["events"]] == ["report", "verify"]
    sheet = _xlsx(
        [
            ["隐患类别", "隐患描述", "经度", "纬度", "发现时间", "检查人"],
            ["燃气", "阀门", 112.55, 37.87, "2026-03-05", "王"],
        ]
    )
    r = _import(client, ADMIN, sheet, name="inspections.xlsx")  # the service's token acts as admin
    assert r.status_code == 201, r.text
    assert r.json()["numbers"] == ["YH-2026-000004"]
    assert _count(client) == (4, 7)


def test_a_bad_sheet_is_refused_naming_rows_and_fixes_and_nothing_is_imported(client: TestClient) -> None:
    inspector = _account(client, "inspector")
    assert _import(client, inspector, (HEADER + ROWS).encode()).status_code == 201
    before = _count(client)
    bad = HEADER + ROWS + "火星,x,112.5,37.8,2026-03-02,王,\n" + "燃气,x,east,37.8,2026-03-02,王,\n" * 12
    r = _import(client, inspector, bad.encode("utf-8"), name="../../检查 3月.csv")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (
        body["type"].endswith("/invalid-import") and "nothing was imported; 13 row problems" in body["detail"]
    )
    category, lonlat = body["errors"]
    assert category["rows"] == [5] and "category '火星' is unknown" in category["message"] and category["fix"]
    assert lonlat["rows"] == list(range(6, 18)) and "decimal degrees" in lonlat["fix"]
    assert category["file"] == "`检查 3月.csv`"  # the client's name, without its folders
    assert _count(client) == before
    no_columns = _import(client, inspector, b"a,b\n1,2\n")
    assert no_columns.status_code == 422 and "no column for" in no_columns.json()["detail"]
    assert _count(client) == before


@pytest.mark.parametrize(
    ("role", "unit", "form", "status"),
    [
        ("reporter", None, {}, 403),
        ("enterprise", "E1", {}, 403),
        ("department", "Fire and Rescue Detachment", {}, 403),  # it acts on items handed to it only
        ("supervisor", None, {"verify": "true"}, 403),  # may report, may not verify
        ("inspector", None, {"source": "public_report"}, 403),
        ("territorial_government", "Xiaodian", {"verify": "true"}, 201),
        ("supervisor", None, {}, 201),
    ],
)
def test_who_may_import_follows_the_workflow(
    client: TestClient, role: str, unit: str | None, form: dict[str, str], status: int
) -> None:
    token = _account(client, role, unit)
    r = _import(client, token, (HEADER + ROWS).encode(), **form)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["type"].endswith("/token") and "Fix: use an account of" in r.json()["detail"]
        assert _count(client) == (0, 0)


def test_rights_follow_the_deployments_workflow_not_the_shipped_one(tmp_path: Path) -> None:
    """A deployment where only supervisors and admins record inspections: inspectors may not import."""
    override = tmp_path / "workflow.toml"
    text = '[sources.government_inspection]\nroles = ["supervisor", "admin"]\n'
    override.write_text(text, encoding="utf-8")
    settings = Settings(tmp_path / "data", api_token=ADMIN, register_workflow=str(override))
    with TestClient(create_app(settings)) as deployment:
        inspector, supervisor = _account(deployment, "inspector"), _account(deployment, "supervisor")
        refused = _import(deployment, inspector, (HEADER + ROWS).encode())
        assert refused.status_code == 403 and "Fix: use an account of" in refused.json()["detail"]
        assert _import(deployment, supervisor, (HEADER + ROWS).encode()).status_code == 201


def test_import_requests_are_checked(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.post(f"{API}/imports", files={"file": ("a.csv", b"x", "text/csv")}).status_code == 401
    for form, text in [
        ({"coords": "utm"}, "`coords` 'utm' is unknown"),
        ({"verify": "maybe"}, "not a boolean"),
        ({"source": "rumour"}, "`source` 'rumour' is unknown"),
        ({"colour": "red"}, "`colour` is not part of an import"),
    ]:
        r = _import(client, ADMIN, (HEADER + ROWS).encode(), **form)
        assert r.status_code == 422 and text in r.json()["detail"], r.text
    r = client.post(f"{API}/imports", data={"coords": "wgs84"}, headers=_auth(ADMIN))
    assert r.status_code == 422
    r = client.post(f"{API}/imports", json={"file": "x"}, headers=_auth(ADMIN))
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]
    assert _import(client, ADMIN, b"PK\x03\x04 not a workbook", name="x.csv").status_code == 422
    assert client.post(f"{API}/imports", files={"file": ("a.csv", (HEADER + ROWS).encode(), "text/csv")},
                       data={"scenario": "nope"}, headers=_auth(ADMIN)).status_code == 404  # fmt: skip
    monkeypatch.setattr(register_intake, "MAX_IMPORT_BYTES", 100)
    r = _import(client, ADMIN, (HEADER + ROWS * 5).encode())
    assert r.status_code == 413 and r.json()["type"].endswith("/too-large")
    monkeypatch.setattr(register_intake, "MAX_IMPORT_BYTES", 10**6)
    monkeypatch.setattr(register_intake, "MAX_IMPORT_ROWS", 2)
    r = _import(client, ADMIN, (HEADER + ROWS).encode())
    assert r.status_code == 422 and "split the sheet" in r.json()["detail"]
    assert _count(client) == (0, 0)


# -- traceability -------------------------------------------------------------------------------


def _move(client: TestClient, token: str, number: str, action: str, **kw: Any) -> None:
    r = client.post(f"{API}/items/{number}/moves", json={"action": action, **kw}, headers=_auth(token))
    assert r.status_code == 200, r.text


def test_traceability_finds_the_items_behind_an_incident(client: TestClient) -> None:
    numbers = _import(client, ADMIN, (HEADER + ROWS).encode(), verify="true").json()["numbers"]
    _move(client, ADMIN, numbers[0], "hand_over",
          data={"territorial_unit": "Xiaodian gov", "department_unit": "Housing"})  # fmt: skip
    params = {
        "incident": ["112.5501,37.8701,2026-05-10T08:00", "112.6,37.9,2026-03-01T08:00"],
        "radius_m": 1000,
    }
    r = client.get(f"{API}/traceability", params=params, headers=_auth(ADMIN))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["incidents"] == 2 and out["unchecked"] == []
    found = [(f["incident_id"], f["number"], f["finding"]) for f in out["findings"]]
    # on May 10 both nearby items were past their 30-day limit; item 3 was not yet reported on Mar 1
    assert found == [("incident-1", numbers[0], "overdue"), ("incident-1", numbers[1], "overdue")]
    assert out["findings"][0]["deadline"] == "2026-04-01" and out["findings"][0]["days_overdue"] == 39
    march = client.get(f"{API}/traceability", params={**params, "month": "2026-03"}, headers=_auth(ADMIN))
    assert march.json()["incidents"] == 1 and march.json()["findings"] == []

    # a territorial government sees the items handed over to it and, before the handover, those
    # of its area (no governments.csv: each district is its own government), as the list does
    def seen(unit: str) -> list[str]:
        gov = _account(client, "territorial_government", unit)
        return [
            f["number"]
            for f in client.get(f"{API}/traceability", params=params, headers=_auth(gov)).json()["findings"]
        ]

    assert seen("Yingze") == [numbers[1]]  # in its district, not yet handed over
    assert seen("Xiaodian gov") == [numbers[0]]  # handed over to it
    assert seen("Xiaodian") == []  # its district's item went to another government
    assert seen("Taiyuan gov") == []  # no area, nothing handed over


def test_traceability_rights_and_bad_incidents(client: TestClient) -> None:
    for role, unit in (
        ("inspector", None),
        ("department", "Housing"),
        ("enterprise", "E1"),
        ("reporter", None),
    ):
        r = client.get(f"{API}/traceability", params={"incident": "112.5,37.8,2026-03-01"},
                       headers=_auth(_account(client, role, unit)))  # fmt: skip
        assert r.status_code == 403, (role, r.text)
    assert client.get(f"{API}/traceability", params={"incident": "112.5,37.8,2026-03-01"}).status_code == 401
    for bad in ("112.5,37.8", "east,37.8,2026-03-01", "112.5,37.8,someday", "500,37.8,2026-03-01"):
        r = client.get(f"{API}/traceability", params={"incident": bad}, headers=_auth(ADMIN))
        assert r.status_code == 422 and "incident" in r.text, bad
    r = client.get(f"{API}/traceability", headers=_auth(ADMIN))
    assert r.status_code == 422 and "No incidents" in r.json()["detail"]


@pytest.mark.slow
def test_traceability_of_a_scenario_lists_its_unchecked_sources(client: TestClient) -> None:
    scenario = create_demo(client, ADMIN, seed=1, n_road_nodes=2000)
    hazards = client.app.state.service.scenarios.get(scenario).layers["hazards"]  # type: ignore[attr-defined]
    near = hazards.to_crs(4326).geometry.iloc[0]
    sheet = HEADER + f"燃气,阀门,{near.x:.6f},{near.y:.6f},2026-03-02,王,\n"
    imported = _import(client, ADMIN, sheet.encode(), scenario=scenario, source="enterprise_self_check")
    assert imported.status_code == 201, imported.text
    item = client.get(f"{API}/items/{imported.json()['first']}", headers=_auth(ADMIN)).json()
    assert item["hazard_id"] == str(hazards.index[0])  # linked to the source it lies at
    params = {"incident": f"{near.x},{near.y},2026-03-20T10:00", "scenario": scenario, "month": "2026-03"}
    out = client.get(f"{API}/traceability", params=params, headers=_auth(ADMIN)).json()
    assert out["findings"][0]["same_source"] is False and out["findings"][0]["finding"] == "unverified"
    unchecked = {u["hazard_id"] for u in out["unchecked"]}
    assert str(hazards.index[0]) not in unchecked and len(unchecked) == len(hazards) - 1
    layer = client.get(f"{API}/traceability", params={"scenario": scenario}, headers=_auth(ADMIN))
    assert layer.status_code == 200 and layer.json()["incidents"] > 0  # the demo's incidents layer


# -- risk grades --------------------------------------------------------------------------------


def _grades(client: TestClient, token: str, *rows: dict[str, Any]) -> Any:
    return client.post(f"{API}/grades", json={"assessments": list(rows)}, headers=_auth(token))


def test_grades_round_trip_with_history_and_the_four_colour_map(client: TestClient) -> None:
    inspector = _account(client, "inspector")
    r = _grades(
        client, inspector,
        {"hazard_id": "H0001", "part": "tank farm", "method": "lec", "L": 6, "E": 6, "C": 15, "lon": 112.5,
         "lat": 37.8},
        {"hazard_id": "H0001", "part": "office", "method": "lec", "L": 1, "E": 3, "C": 1},
        {"hazard_id": "H0007", "method": "matrix", "likelihood": 5, "severity": 3, "control_measures": "own"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    first, office, matrix = r.json()
    assert (first["score"], first["grade"], first["colour"], first["control_level"]) == (
        540.0, "major", "red", "enterprise",
    )  # fmt: skip
    assert first["basis"] == "LEC D = 6 x 6 x 15 = 540" and first["factors"] == {"L": 6, "E": 6, "C": 15}
    assert office["grade"] == "low" and office["colour"] == "blue" and matrix["control_measures"] == "own"
    # measures taken: the tank farm re-graded; the latest counts, the history stays
    regrade = {"hazard_id": "H0001", "part": "tank farm", "method": "lec", "L": 1, "E": 6, "C": 15}
    again = _grades(client, ADMIN, regrade)
    assert again.json()[0]["grade"] in ("moderate", "low")
    reader = _account(client, "reporter")
    latest = client.get(f"{API}/grades", params={"hazard_id": "H0001"}, headers=_auth(reader)).json()
    assert [(g["part"], g["grade"]) for g in latest] == [
        ("office", "low"),
        ("tank farm", again.json()[0]["grade"]),
    ]
    history = client.get(f"{API}/grades", params={"history": "true"}, headers=_auth(reader)).json()
    assert len(history) == 4 and history[0]["grade"] == "major"
    assert client.get(f"{API}/grades", params={"grade": "major"}, headers=_auth(reader)).json() == []
    geo = client.get(f"{API}/grades", params={"format": "geojson"}, headers=_auth(reader))
    assert geo.status_code == 200 and geo.headers["content-type"] == "application/geo+json"
    features = {f["id"]: f for f in geo.json()["features"]}
    assert features["H0001"]["geometry"] == {"type": "Point", "coordinates": [112.5, 37.8]}
    assert features["H0007"]["geometry"] is None and features["H0007"]["properties"]["colour"] == "orange"
    assert client.get(f"{API}/grades").status_code == 401


def test_grading_rights_and_off_scale_factors(client: TestClient) -> None:
    row = {"hazard_id": "H1", "method": "lec", "L": 6, "E": 6, "C": 15}
    for role, unit in (("enterprise", "E1"), ("department", "Housing"), ("reporter", None)):
        assert _grades(client, _account(client, role, unit), row).status_code == 403
    r = _grades(client, ADMIN, row, {**row, "L": 7})
    assert r.status_code == 422 and "rows [1], column `L`" in r.json()["detail"]
    assert "not on the scale" in r.json()["detail"]
    r = _grades(client, ADMIN, {**row, "method": "fmea"})
    assert r.status_code == 422 and "fmea" in r.json()["detail"]
    assert _grades(client, ADMIN).status_code == 422  # no assessments
    assert client.get(f"{API}/grades", headers=_auth(ADMIN)).json() == []


# -- schemathesis on the new operations ---------------------------------------------------------


@pytest.mark.slow
def test_schemathesis_on_the_intake_operations_finds_nothing(tmp_path: Path) -> None:
    from test_api_schema import REPO, TOKEN, _free_port

    port = _free_port()
    env = {**os.environ, "RISKPLAN_API_TOKEN": TOKEN}
    cmd = [
        sys.executable,
        "-m",
        "service.cli",
        "serve",
        "--data-dir",
        str(tmp_path / "d"),
        "--port",
        str(port),
    ]
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        import time

        import httpx

        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        st = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(REPO / "tests" / "schemathesis.toml"),
        ]
        st += ["run", f"{url}/openapi.json", "--checks", "all", "-H", f"Authorization: Bearer {TOKEN}"]
        st += ["--include-path-regex", "/register/(imports|traceability|grades)"]
        st += ["--max-examples", "30", "--generation-deterministic", "--workers", "1", "--no-color"]
        st += ["--request-timeout", "120", "--max-response-time", "120"]
        out = subprocess.run(st, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False)
        report = out.stdout + out.stderr
        assert out.returncode == 0, report[-6000:]
        assert "Selected: 4/" in report and "failure" not in report.lower(), report[-3000:]
    finally:
        proc.kill()
        proc.wait()
