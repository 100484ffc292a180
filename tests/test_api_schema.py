"""The OpenAPI schema and the server agree (issue 12): schemathesis with every check finds nothing.

The quick tests pin the audit's findings: ``n_road_nodes`` bounded by the server's own limit,
``{"seed": false}`` refused, ``Allow`` listing every method of a path, and the demo city's
default size being the command line's. The slow test runs the schemathesis command line, with
``--checks all`` over every operation and every phase (bounded examples, fixed seed), against
``riskplan serve`` on loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from gis.demo import load_demo_params
from service.api import Settings, create_app
from service.api.models import DEMO_ROAD_NODES
from service.api.routes import scenarios as scenario_routes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
TOKEN = "api-schema-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(tmp_path, api_token=TOKEN, demo_max_nodes=5000))) as test_client:
        yield test_client


def test_the_schema_gives_this_servers_demo_limit(client: TestClient) -> None:
    field = client.get("/openapi.json").json()["components"]["schemas"]["DemoRequest"]["properties"][
        "n_road_nodes"
    ]
    integer = next(option for option in field["anyOf"] if option.get("type") == "integer")
    assert integer["maximum"] == 5000 and integer["minimum"] == 2000
    assert "default 5,000" in field["description"]  # the CLI's 30,000, capped by this server
    ok = client.post(f"{API}/scenarios/demo", json={"n_road_nodes": 2000.0, "seed": 3.0}, headers=AUTH)
    assert ok.status_code == 201, ok.text  # JSON integers, as the schema reads them
    assert client.post(f"{API}/scenarios/demo", json={"n_road_nodes": 5001}, headers=AUTH).status_code == 422


@pytest.mark.parametrize(
    "body", [{"seed": False}, {"seed": True}, {"seed": "7"}, {"seed": 1.5}, {"n_road_nodes": True}]
)
def test_only_integers_are_seeds_and_sizes(client: TestClient, body: dict[str, Any]) -> None:
    r = client.post(f"{API}/scenarios/demo", json={"n_road_nodes": 2000} | body, headers=AUTH)
    assert r.status_code == 422, r.text


def test_the_demo_city_defaults_to_the_command_lines_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int | None] = []
    real = scenario_routes.write_demo_scenario

    def small(path: Path, *, seed: int, n_road_nodes: int | None) -> Path:
        asked.append(n_road_nodes)
        return real(path, seed=seed, n_road_nodes=2000)  # keep the test fast

    monkeypatch.setattr(scenario_routes, "write_demo_scenario", small)
    with TestClient(create_app(Settings(tmp_path, api_token=TOKEN))) as c:  # the default limit: 200,000
        assert c.post(f"{API}/scenarios/demo", json={}, headers=AUTH).status_code == 201
    cli_default = load_demo_params()["roads"]["n_road_nodes"]  # what `riskplan demo` makes without --nodes
    assert asked == [cli_default] == [DEMO_ROAD_NODES] == [30_000]


def test_the_job_request_schema_lists_each_kind_with_its_parameters(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["JobRequest"]
    kinds = {
        branch["properties"]["kind"]["const"]: branch["properties"]["params"] for branch in schema["oneOf"]
    }
    assert set(kinds) == {"communities", "depots", "network", "placement", "reliability", "risk"}
    assert kinds["placement"]["properties"]["n_new"]["maximum"] == 50
    assert kinds["placement"]["additionalProperties"] is False
    assert "cn-gb51080" in kinds["risk"]["properties"]["standard"]["enum"]


def test_public_reads_declare_the_token_optional(client: TestClient, tmp_path: Path) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {} in paths[f"{API}/scenarios"]["get"]["security"]
    assert {} not in paths[f"{API}/scenarios"]["post"]["security"]
    with TestClient(create_app(Settings(tmp_path / "p", api_token=TOKEN, protect_reads=True))) as protected:
        assert {} not in protected.get("/openapi.json").json()["paths"][f"{API}/scenarios"]["get"]["security"]


# -- schemathesis, every check, every operation -------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """``riskplan serve`` on loopback with small demo cities, one job worker and the test job kinds."""
    port = _free_port()
    env = {
        **os.environ,
        "RISKPLAN_API_TOKEN": TOKEN,
        "RISKPLAN_JOB_PLUGINS": "test_jobs:register_test_jobs",
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "service.cli",
        "serve",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        str(port),
    ]
    cmd += ["--demo-max-nodes", "2000", "--workers", "1"]
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_schemathesis_with_every_check_finds_nothing(served: str, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(REPO / "tests" / "schemathesis.toml"),
    ]
    cmd += ["run", f"{served}/openapi.json", "--checks", "all", "-H", f"Authorization: Bearer {TOKEN}"]
    cmd += ["--max-examples", "1", "--generation-deterministic", "--workers", "1", "--no-color"]
    cmd += ["--request-timeout", "300"]  # token holders compute without limits; a busy machine is slow
    # and no wall-clock check (ST112): on a shared machine it fails for load, not for the server;
    # the service's own time bounds are tested in test_api_limits.py
    cmd += ["--max-response-time", "300"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-6000:]
    schema = httpx.get(f"{served}/openapi.json", timeout=30).json()
    verbs = {"get", "put", "post", "delete", "patch", "head", "options"}
    n = sum(len(verbs & set(ops)) for ops in schema["paths"].values())  # every operation, none left out
    assert f"Selected: {n}/{n}" in report and " passed" in report and "failure" not in report.lower(), report[
        -3000:
    ]
