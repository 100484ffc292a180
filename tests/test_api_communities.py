"""The community safety endpoints: a survey checked at once, the job, its tables, the register, rights."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from api_factory import create_demo
from fastapi.testclient import TestClient

from gis.demo import synthetic_survey
from service.api import Settings, create_app
from service.api.accounts import create_account
from service.communities import assess_communities
from tests.test_community_safety import PASS

API = "/api/v1"
ADMIN = "community-admin-token-0123456789"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("communities-api")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir, api_token=ADMIN, demo_max_nodes=5000))) as c:
        yield c


@pytest.fixture(scope="module")
def sid(client: TestClient) -> str:
    return create_demo(client, ADMIN, seed=5, n_road_nodes=2000)


def _communities(client: TestClient, sid: str) -> Any:
    return client.app.state.service.scenarios.get(sid)["communities"]  # type: ignore[attr-defined]


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _account(client: TestClient, role: str, unit: str | None = None) -> str:
    register = client.app.state.service.store.register  # type: ignore[attr-defined]
    return create_account(register, role=role, unit=unit, label=f"test {role}")[1]


def _post(client: TestClient, sid: str, token: str, data: bytes, name: str = "调查.csv", **form: str) -> Any:
    return client.post(
        f"{API}/scenarios/{sid}/communities/surveys",
        files={"file": (name, data, "text/csv")},
        data=form,
        headers=_auth(token),
    )


def _wait(client: TestClient, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}").json()
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            return dict(job)
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not finish")


def test_a_survey_is_scored_planned_and_served_as_the_library_gives_it(client: TestClient, sid: str) -> None:
    communities = _communities(client, sid)
    survey = synthetic_survey(communities, seed=3, resurvey_share=0.3)
    r = _post(client, sid, ADMIN, _csv(survey), budget_cny="2000000", demonstration="4")
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["synthetic"] and out["surveys"] == len(survey) and out["registered"] is None
    assert r.headers["Location"] == f"/api/v1/jobs/{out['job']['id']}"
    assert out["job"]["params"]["survey"] == {"where": "`调查.csv`", "rows": len(survey)}  # not echoed whole
    job = _wait(client, out["job"]["id"])
    assert job["status"] == "succeeded", job
    url = out["assessment_url"]
    summary = client.get(url).json()
    expected = assess_communities(communities, survey, budget=2_000_000, demonstration=4)
    latest = expected.safety.latest()
    assert (summary["communities"], summary["passed"]) == (len(latest), int(latest["passed"].sum()))
    cut = next(k for k, line in enumerate(expected.lines()) if line.startswith("Upgrade plan"))
    assert summary["survey"] == "`调查.csv`" and summary["budget_cny"] == 2_000_000
    assert summary["synthetic"] and summary["lines"][:cut] == expected.lines()[:cut]  # then timings
    scores = client.get(f"{url}/scores").json()
    by_id = {row["community_id"]: row for row in scores}
    assert len(by_id) == len(latest)
    for cid, row in latest.iterrows():
        assert by_id[str(cid)]["score"] == pytest.approx(float(row["score"]))
        assert by_id[str(cid)]["grade"] == row["grade"] and by_id[str(cid)]["failed"] == (
            row["failed"] or None
        )
    every = client.get(f"{url}/scores", params={"latest": "false"}).json()
    assert len(every) == len(survey)
    geo = client.get(f"{url}/scores", params={"format": "geojson"})
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = geo.json()["features"]
    assert len(features) == len(latest) and {"score", "grade", "failed"} <= set(features[0]["properties"])
    failed = client.get(f"{url}/failed-items").json()
    assert len(failed) == len(expected.safety.failed())
    one = failed[0]
    narrow = client.get(
        f"{url}/failed-items", params={"community_id": one["community_id"], "item": one["item"]}
    )
    assert narrow.json() and all(r["item"] == one["item"] for r in narrow.json())
    districts = client.get(f"{url}/districts").json()
    assert districts[-1]["district"] == "(all)" and districts[-1]["communities"] == len(latest)
    plan = client.get(f"{url}/upgrade-plan").json()
    assert (
        plan["budget_cny"] == 2_000_000
        and plan["summary"].split("; greedy")[0] == expected.plan.summary().split("; greedy")[0]
    )  # type: ignore[union-attr]
    assert sum(m["cost_cny"] for m in plan["chosen"]) <= 2_000_000
    assert len(plan["chosen"]) == len(expected.plan.chosen)  # type: ignore[union-attr]
    demo = client.get(f"{url}/demonstration").json()
    assert [d["community_id"] for d in demo["chosen"]] == [
        str(c)
        for c in expected.demonstration.chosen.index  # type: ignore[union-attr]
    ]
    assert all(d["reasons"] for d in demo["chosen"]) and demo["quotas"]
    changes = client.get(f"{url}/changes").json()
    assert len(changes["communities"]) == len(survey) - len(latest) > 0
    from risk_models.community_safety import CHANGES

    assert {c["change"] for c in changes["items"]} <= set(CHANGES) and changes["districts"]


def test_a_score_only_survey_has_no_plan(client: TestClient, sid: str) -> None:
    survey = synthetic_survey(_communities(client, sid), seed=4)
    out = _post(client, sid, ADMIN, _csv(survey)).json()
    assert _wait(client, out["job"]["id"])["status"] == "succeeded"
    url = out["assessment_url"]
    for tail in ("upgrade-plan", "demonstration"):
        r = client.get(f"{url}/{tail}")
        assert r.status_code == 404 and "Fix:" in r.json()["detail"]
    assert client.get(f"{url}/changes").json()["communities"] == []
    other = create_demo(client, ADMIN, seed=6, n_road_nodes=2000)
    assert (
        client.get(f"{API}/scenarios/{other}/communities/assessments/{out['job']['id']}").status_code == 404
    )


def test_a_bad_survey_is_a_422_naming_rows_and_no_job_is_made(client: TestClient, sid: str) -> None:
    survey = synthetic_survey(_communities(client, sid), seed=5)
    survey.loc[2, "community_id"] = "NOPE-1"
    survey.loc[4, "elevator_age"] = -3
    jobs = len(client.get(f"{API}/jobs", params={"limit": 100}).json())
    r = _post(client, sid, ADMIN, _csv(survey), name="../../坏的 调查.csv")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/invalid-survey") and "nothing was queued or registered" in body["detail"]
    assert "NOPE-1" in body["detail"] and "rows [4]" in body["detail"] and "rows [6]" in body["detail"]
    assert "`坏的 调查.csv`" in body["detail"] and "/tmp" not in body["detail"] and "Fix:" in body["detail"]
    assert len(client.get(f"{API}/jobs", params={"limit": 100}).json()) == jobs
    for form, text in [
        ({"budget_cny": "lots"}, "`budget_cny` 'lots' is not a number"),
        ({"demonstration": "2.5"}, "not a whole number"),
        ({"demonstration": "3"}, "needs a `budget_cny`"),
        ({"register": "maybe"}, "not a boolean"),
        ({"colour": "red"}, "`colour` is not part of a survey upload"),
        ({"safety_standard": "[1]"}, "must be a JSON object"),
        ({"safety_standard": json.dumps({"scoring": {"pass_mark": 180}})}, "pass_mark"),
        ({"upgrade_measures": json.dumps({"measures": {"x": {"cost_cny": -1}}})}, "Upgrade measures"),
    ]:
        r = _post(client, sid, ADMIN, _csv(synthetic_survey(_communities(client, sid), seed=5)), **form)
        assert r.status_code == 422 and text in r.json()["detail"], (form, r.text)
    assert len(client.get(f"{API}/jobs", params={"limit": 100}).json()) == jobs
    missing = client.post(
        f"{API}/scenarios/{sid}/communities/surveys", data={"sheet": "a"}, headers=_auth(ADMIN)
    )
    assert missing.status_code == 422
    unknown = _post(client, "0" * 32, ADMIN, _csv(survey))
    assert unknown.status_code == 404


def test_an_excel_survey_with_chinese_headers(client: TestClient, sid: str) -> None:
    from risk_models.community_safety import load_safety_standard

    survey = synthetic_survey(_communities(client, sid), seed=6)
    labels = load_safety_standard().items["label_zh"].to_dict()
    zh = survey.rename(columns={"community_id": "社区编号", "survey_date": "调查日期", **labels})
    buf = io.BytesIO()
    zh.to_excel(buf, index=False)
    r = _post(client, sid, ADMIN, buf.getvalue(), name="survey.xlsx")
    assert r.status_code == 202, r.text
    assert _wait(client, r.json()["job"]["id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    "case",
    [
        ("reporter", None, {}, 403),
        ("enterprise", "E1", {}, 403),
        ("department", "Fire and Rescue Detachment", {}, 403),
        ("supervisor", None, {"register": "true"}, 403),  # may report inspections, may not verify
        ("supervisor", None, {}, 202),
        ("inspector", None, {}, 202),
    ],
)
def test_who_may_post_a_survey_follows_the_register_workflow(
    client: TestClient, sid: str, case: tuple[str, str | None, dict[str, str], int]
) -> None:
    role, unit, form, status = case
    survey = synthetic_survey(_communities(client, sid), seed=7)
    r = _post(client, sid, _account(client, role, unit), _csv(survey), **form)
    assert r.status_code == status, r.text
    if status == 403:
        assert "Fix: use an account of" in r.json()["detail"]


def test_a_survey_needs_a_token(client: TestClient, sid: str) -> None:
    survey = synthetic_survey(_communities(client, sid), seed=7)
    r = client.post(f"{API}/scenarios/{sid}/communities/surveys", files={"file": ("s.csv", _csv(survey))})
    assert r.status_code == 401
    assert _post(client, sid, "wrong-token-0123456789", _csv(survey)).status_code in (401, 403)


def test_register_adds_failed_items_once_and_a_resurvey_follows_them_up(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(tmp_path, api_token=ADMIN, demo_max_nodes=5000))) as c:
        scenario = create_demo(c, ADMIN, seed=8, n_road_nodes=2000)
        communities = _communities(c, scenario)
        inspector = _account(c, "inspector")
        register = c.app.state.service.store.register  # type: ignore[attr-defined]
        may = synthetic_survey(communities, seed=9)
        r = _post(c, scenario, inspector, _csv(may), register="true")
        assert r.status_code == 202, r.text
        first = r.json()["registered"]
        n_failed = len(assess_communities(communities, may).safety.failed())
        assert first["added"] == n_failed > 0 and first["followed_up"] == [] and first["already"] == 0
        item = c.get(f"{API}/register/items/{first['numbers'][0]}", headers=_auth(inspector)).json()
        assert item["status"] == "verified" and item["source"] == "government_inspection"
        district = may.set_index("community_id").loc[item["community_id"], "district"]
        assert item["district"] == district  # the areas reach the store
        again = _post(c, scenario, inspector, _csv(may), register="true").json()["registered"]
        assert (again["added"], again["already"], again["followed_up"]) == (0, n_failed, [])
        # November: the first failing community mends everything
        failing = assess_communities(communities, may).safety.failed()
        cid = str(failing["community_id"].iloc[0])
        november = may[may["community_id"].astype(str) == cid].copy()
        november["survey_date"] = "2024-11-20"
        for col in failing.loc[failing["community_id"].astype(str) == cid, "item"]:
            november[col] = PASS[col]
        # one of its items is handed over, planned and claimed by its units through the API
        numbers = [n for n in first["numbers"] if register.get(n).item.community_id == cid]
        done = numbers[0]
        street = _account(c, "territorial_government", "East St")
        for token, action, data in [
            (inspector, "hand_over", {"territorial_unit": "East St", "department_unit": "Fire"}),
            (street, "plan", {"plan": "p", "measures": ["m"], "funds_yuan": 1.0,
                              "deadline": str(register.get(done).item.deadline)}),
            (street, "claim", {}),
        ]:  # fmt: skip
            version = register.get(done).item.version
            r = c.post(
                f"{API}/register/items/{done}/moves",
                json={"action": action, "data": data, "expect_version": version},
                headers=_auth(token),
            )
            assert r.status_code == 200, r.text
        later = _post(c, scenario, inspector, _csv(november), register="true").json()["registered"]
        assert later["added"] == 0 and len(later["followed_up"]) == len(numbers)
        outcomes = {
            f["number"]: (f["outcome"], f["actions"], f["status_after"]) for f in later["followed_up"]
        }
        assert outcomes.pop(done) == ("closed", "accept", "closed")  # the re-survey is the re-inspection
        assert set(outcomes.values()) == {("passed", "comment", "verified")}  # not handed over yet
        other = next(iter(outcomes))
        events = c.get(f"{API}/register/items/{other}", headers=_auth(inspector)).json()["events"]
        assert [e["action"] for e in events] == ["report", "verify", "comment"]
        assert "`hand_over` by" in events[-1]["note"]
        assert register.get(done).item.status == "closed"
        assert register.count()[0] == n_failed
        replay = _post(c, scenario, inspector, _csv(november), register="true").json()["registered"]
        assert (replay["added"], replay["followed_up"]) == (0, [])


# -- schemathesis on the new operations ---------------------------------------------------------


@pytest.mark.slow
def test_schemathesis_on_the_community_operations_finds_nothing(tmp_path: Path) -> None:
    import httpx
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
        st += ["--include-path-regex", "/communities/"]
        st += ["--max-examples", "30", "--generation-deterministic", "--workers", "1", "--no-color"]
        st += ["--request-timeout", "120", "--max-response-time", "120"]
        out = subprocess.run(st, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False)
        report = out.stdout + out.stderr
        assert out.returncode == 0, report[-6000:]
        assert "Selected: 8/" in report and "failure" not in report.lower(), report[-3000:]
    finally:
        proc.kill()
        proc.wait()
