"""The web service on the PostgreSQL store: the same answers as on SQLite, end to end.

A demo city created through the API on both stores gives the same layers, the same coverage
answer and the same network job result; on PostgreSQL the job's result layer is a PostGIS
table in the scenario's schema. ``riskplan serve --store`` refuses what is not a PostgreSQL
URL, and an unreachable database, with exit code 2 and the fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from api_factory import API, auth, create_demo

from service.cli import main
from service.store import PostgresStore

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from service.api import Settings, create_app

TOKEN = "t" * 32


@contextmanager
def _client(data_dir: Path, url: str | None) -> Iterator[TestClient]:
    settings = Settings(data_dir, api_token=TOKEN, demo_max_nodes=5000, store_url=url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _wait(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"{API}/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.05)
    pytest.fail("the job never finished")


def _answers(client: TestClient) -> dict[str, Any]:
    """A demo city through the API: its layer, coverage and a network job, then deleted."""
    sid = create_demo(client, TOKEN, seed=18, n_road_nodes=2000)
    scenarios = client.get(f"{API}/scenarios").json()
    assert [s["id"] for s in scenarios] == [sid]
    hazards = client.get(f"{API}/scenarios/{sid}/layers/hazards").json()
    coverage = client.get(f"{API}/scenarios/{sid}/coverage").json()
    r = client.post(
        f"{API}/scenarios/{sid}/jobs",
        json={"kind": "network", "params": {"max_snap_m": 500}},
        headers=auth(TOKEN),
    )
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["id"])
    assert job["status"] == "succeeded", job
    result = client.get(f"{API}/jobs/{job['id']}/result").json()
    snapping = client.get(f"{API}/jobs/{job['id']}/result/layers/snapping").json()
    store = client.app.state.service.store  # type: ignore[attr-defined]
    if isinstance(store, PostgresStore):  # the job's layer is a PostGIS table of the scenario's schema
        tables = store._all(
            "SELECT f_table_name AS t FROM geometry_columns WHERE f_table_schema = %s", (f"scenario_{sid}",)
        )
        assert f"job_{job['id']}__snapping" in {r["t"] for r in tables}
    assert client.delete(f"{API}/scenarios/{sid}", headers=auth(TOKEN)).status_code == 204
    assert client.get(f"{API}/scenarios/{sid}").status_code == 404
    assert client.get(f"{API}/jobs/{job['id']}").status_code == 404
    return {
        "hazards": [(f["properties"]["id"], f["geometry"]["coordinates"]) for f in hazards["features"]],
        "coverage": {k: v for k, v in coverage.items() if k not in {"scenario_id", "scenario", "timings_s"}},
        "result": {k: v for k, v in result["data"].items() if k != "report"},  # says how long it took
        "snapping": sorted(json.dumps(f, sort_keys=True) for f in snapping["features"]),
    }


def test_the_api_answers_alike_on_both_stores(tmp_path: Path, pg_dsn: str) -> None:
    with _client(tmp_path / "sqlite", None) as client:
        sqlite = _answers(client)
    with _client(tmp_path / "postgres", pg_dsn) as client:
        postgres = _answers(client)
    for key in sqlite:
        assert postgres[key] == sqlite[key], key


def test_serve_refuses_a_store_that_is_not_postgres(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["serve", "--data-dir", str(tmp_path / "d"), "--store", "mysql://root@db/riskplan"])
    assert code == 2
    assert "not a PostgreSQL URL" in capsys.readouterr().err


def test_serve_says_when_the_database_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://nobody:secret@/none?host={tmp_path}&connect_timeout=1"
    code = main(["serve", "--data-dir", str(tmp_path / "d"), "--store", url])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot" in err and "Fix:" in err
    assert "secret" not in err  # the password is never printed
