"""The job registry and runner, and a server killed mid-job then restarted.

This module also holds the test-only job kinds (``register_test_jobs``), loaded by the
server through ``RISKPLAN_JOB_PLUGINS=test_jobs:register_test_jobs``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from scenario_factory import write_gpkg

from gis import InputError, Scenario, load_scenario
from service.jobs import (
    INTERRUPTED,
    SHUT_DOWN,
    BusyError,
    JobRegistry,
    JobRunner,
    JobStateError,
    default_registry,
    load_plugins,
)
from service.store import SQLiteStore
from service.store.base import job_note

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"


# -- test-only job kinds ----------------------------------------------------------------------


def _sleep(scenario: Scenario, params: Mapping[str, Any], progress: Any, cancel: threading.Event) -> dict:
    steps = int(params.get("steps", 10))
    for i in range(steps):
        progress(i / steps, f"step {i + 1} of {steps}")
        time.sleep(float(params.get("step_s", 0.05)))
    return {"steps": steps, "stations": len(scenario["fire_stations"])}


def _boom(scenario: Scenario, params: Mapping[str, Any], progress: Any, cancel: threading.Event) -> dict:
    raise RuntimeError("secret internals")


def _bad_input(scenario: Scenario, params: Mapping[str, Any], progress: Any, cancel: threading.Event) -> dict:
    raise InputError("`radius_m` must be positive. Fix: pass a positive number.")


def _tally(scenario: Scenario, params: Mapping[str, Any], progress: Any, cancel: threading.Event) -> dict:
    """Append this process's id to the file ``params["file"]``: who ran the job, how many times."""
    with Path(params["file"]).open("a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return {"pid": os.getpid()}


def register_test_jobs(registry: JobRegistry) -> None:
    """Job kinds for tests: ``sleep`` (slow, cancellable), ``boom`` (crashes), ``bad_input``, ``tally``."""
    registry.register("sleep", _sleep, description="Sleep in steps (tests only).")
    registry.register("tally", _tally, description="Note which process ran it (tests only).")
    registry.register("boom", _boom, description="Crash (tests only).")
    registry.register("bad_input", _bad_input, description="Fail on input (tests only).")


# -- runner -----------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "data")


@pytest.fixture
def scenario_id(store: SQLiteStore, tmp_path: Path) -> str:
    return store.create_scenario(load_scenario(write_gpkg(tmp_path / "small.gpkg")), origin="test").id


def _runner(store: SQLiteStore, **kwargs: Any) -> JobRunner:
    registry = default_registry()
    register_test_jobs(registry)
    return JobRunner(store, registry, store.load_scenario, **kwargs)


def _wait(store: SQLiteStore, job_id: str, statuses: tuple[str, ...], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = store.get_job(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.02)
    pytest.fail(f"job {job_id} never reached {statuses}; it is {store.get_job(job_id)}")


def test_job_succeeds_with_progress_and_result(store: SQLiteStore, scenario_id: str) -> None:
    runner = _runner(store)
    job = runner.submit(scenario_id, "sleep", {"steps": 3, "step_s": 0.01})
    assert job.status == "queued"
    done = _wait(store, job.id, ("succeeded",))
    assert done.progress == 1.0 and done.has_result and done.finished_at
    assert store.get_job_result(job.id) == {"steps": 3, "stations": 1}
    runner.shutdown(wait=True)


def test_network_job_stores_summary_and_snapping(store: SQLiteStore, scenario_id: str) -> None:
    runner = _runner(store)
    job = runner.submit(scenario_id, "network", {"max_snap_m": 300})
    _wait(store, job.id, ("succeeded",))
    data = store.get_job_result(job.id)
    assert data["nodes"] > 0 and data["snapping"]["fire_stations"]["points"] == 1
    snapping = store.read_job_result_layer(job.id, "snapping")
    assert set(snapping["layer"]) >= {"fire_stations", "hazards"} and snapping.crs is not None
    runner.shutdown(wait=True)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("nope", {}),
        ("network", {"max_snap_m": -1}),
        ("network", {"road_speeds": "/etc/passwd"}),
        ("network", {"x": 1}),
    ],
)
def test_submit_rejects_bad_kind_or_params(
    store: SQLiteStore, scenario_id: str, kind: str, params: dict
) -> None:
    runner = _runner(store)
    with pytest.raises(InputError):
        runner.submit(scenario_id, kind, params)
    assert store.list_jobs() == []
    runner.shutdown()


def test_failures_are_recorded_without_internals(store: SQLiteStore, scenario_id: str) -> None:
    runner = _runner(store)
    crash = runner.submit(scenario_id, "boom", {})
    bad = runner.submit(scenario_id, "bad_input", {})
    crashed = _wait(store, crash.id, ("failed",))
    assert "internal error (RuntimeError)" in crashed.message and "secret" not in crashed.message
    assert "radius_m" in _wait(store, bad.id, ("failed",)).message
    with pytest.raises(JobStateError):
        runner.cancel(crash.id)
    runner.shutdown(wait=True)


def test_cancel_running_and_queued_jobs_with_one_worker(store: SQLiteStore, scenario_id: str) -> None:
    runner = _runner(store, max_workers=1)
    first = runner.submit(scenario_id, "sleep", {"steps": 400, "step_s": 0.01})
    second = runner.submit(scenario_id, "sleep", {"steps": 1})
    _wait(store, first.id, ("running",))
    assert store.get_job(second.id).status == "queued"  # bounded: one at a time
    assert runner.cancel(second.id).status == "cancelled"
    runner.cancel(first.id)
    cancelled = _wait(store, first.id, ("cancelled",))
    assert cancelled.cancel_requested and not cancelled.has_result
    runner.shutdown(wait=True)


def test_queue_is_bounded(store: SQLiteStore, scenario_id: str) -> None:
    runner = _runner(store, max_workers=1, max_queued=2)
    jobs = [runner.submit(scenario_id, "sleep", {"steps": 200, "step_s": 0.01}) for _ in range(2)]
    with pytest.raises(BusyError):
        runner.submit(scenario_id, "sleep", {})
    for job in jobs:
        runner.cancel(job.id)
    runner.shutdown(wait=True)


def test_new_leader_fails_the_dead_leaders_running_jobs_and_runs_its_queue(
    store: SQLiteStore, scenario_id: str
) -> None:
    queued = store.create_job(scenario_id, "sleep", {"steps": 1, "step_s": 0})
    running = store.create_job(scenario_id, "sleep", {})
    store.update_job(running.id, status="running", progress=0.4)
    runner = _runner(store)
    job = store.get_job(running.id)
    assert (job.status, job.message) == ("failed", INTERRUPTED)
    # a worker that outlived its process can no longer change the verdict
    assert not store.update_job(running.id, status="succeeded", expect=["running"])
    assert _wait(store, queued.id, ("succeeded",)).has_result  # the queue is picked up
    runner.shutdown(wait=True)


def test_registry_is_per_instance_and_rejects_duplicates() -> None:
    registry = default_registry()
    builtin = ["communities", "depots", "network", "placement", "reliability", "risk"]
    assert [k.name for k in registry.kinds()] == builtin
    with pytest.raises(ValueError, match="twice"):
        registry.register("network", _sleep, description="again")
    load_plugins(registry, ["test_jobs:register_test_jobs"])
    assert "sleep" in [k.name for k in registry.kinds()]
    assert [k.name for k in default_registry().kinds()] == builtin
    with pytest.raises(InputError, match="cannot be loaded"):
        load_plugins(registry, ["no_such_module_xyz:register"])


def test_shutdown_marks_running_jobs_failed_at_once(store: SQLiteStore, scenario_id: str) -> None:
    """A job that is not reporting progress when the server stops is failed then, not later."""
    registry = default_registry()
    release, started = threading.Event(), threading.Event()

    def solving(
        scenario: Scenario, params: Mapping[str, Any], progress: Any, cancel: threading.Event
    ) -> dict:
        started.set()
        release.wait(30)  # a long solver call: no progress, no look at `cancel`
        return {"done": True}

    registry.register("solve", solving, description="a long call (tests only)")
    runner = JobRunner(store, registry, store.load_scenario, max_workers=1)
    running = runner.submit(scenario_id, "solve", {})
    queued = runner.submit(scenario_id, "solve", {})
    assert started.wait(30)
    runner.shutdown()
    after = store.get_job(running.id)
    assert (after.status, after.message) == ("failed", SHUT_DOWN)
    assert store.get_job(queued.id).status == "queued"  # for the next leader
    release.set()
    time.sleep(0.2)
    assert store.get_job(running.id).status == "failed" and not store.get_job(running.id).has_result


def test_finished_jobs_are_purged_after_the_retention_period(store: SQLiteStore, scenario_id: str) -> None:
    runner = _runner(store)
    old = runner.submit(scenario_id, "sleep", {"steps": 1, "step_s": 0})
    _wait(store, old.id, ("succeeded",))
    assert store.get_job_result(old.id)
    result_files = list((store.scenarios_dir / scenario_id / "jobs").glob(f"{old.id}.*"))
    assert result_files
    runner.shutdown()
    time.sleep(0.05)
    later = _runner(store, retention_s=0.01)  # a server that keeps finished jobs 10 ms
    assert [j.id for j in store.list_jobs()] == []
    assert not any(p.exists() for p in result_files)
    kept = _runner(store, retention_s=3600)
    job = kept.submit(scenario_id, "sleep", {"steps": 1, "step_s": 0})
    _wait(store, job.id, ("succeeded",))
    assert [j.id for j in store.list_jobs()] == [job.id]
    later.shutdown()
    kept.shutdown()


# -- a real server, killed mid-job ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "RISKPLAN_API_TOKEN": TOKEN,
        "RISKPLAN_JOB_PLUGINS": "test_jobs:register_test_jobs",
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }

    def start(data_dir: Path) -> tuple[str, subprocess.Popen[bytes]]:
        port = _free_port()
        cmd = [sys.executable, "-m", "service.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        log = (tmp_path / f"server-{len(procs)}.log").open("wb")
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / f"server-{len(procs) - 1}.log").read_text()
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    return url, proc
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail("the server did not start")

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_server_killed_mid_job_loses_nothing(serve: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url, server = serve(data_dir)
    with (tmp_path / "small.gpkg").open("wb") as fh:
        fh.write(write_gpkg(tmp_path / "src.gpkg").read_bytes())
    with (tmp_path / "small.gpkg").open("rb") as fh:
        created = httpx.post(
            f"{url}/api/v1/scenarios", files={"file": ("a.gpkg", fh)}, headers=auth, timeout=60
        )
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    quick = httpx.post(f"{url}/api/v1/scenarios/{sid}/jobs", json={"kind": "network"}, headers=auth).json()
    slow = httpx.post(
        f"{url}/api/v1/scenarios/{sid}/jobs",
        json={"kind": "sleep", "params": {"steps": 2000, "step_s": 0.05}},
        headers=auth,
    ).json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {j["id"]: j for j in httpx.get(f"{url}/api/v1/jobs").json()}
        if states[quick["id"]]["status"] == "succeeded" and states[slow["id"]]["progress"] > 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"jobs did not progress: {states}")
    before = httpx.get(f"{url}/api/v1/jobs/{quick['id']}/result").json()
    server.send_signal(signal.SIGKILL)  # no shutdown hook runs
    server.wait()

    url, _ = serve(data_dir)
    detail = httpx.get(f"{url}/api/v1/scenarios/{sid}").json()
    assert detail["layers"] == created.json()["layers"]
    layer = httpx.get(f"{url}/api/v1/scenarios/{sid}/layers/fire_stations").json()
    assert [f["id"] for f in layer["features"]] == ["FS1"]
    assert httpx.get(f"{url}/api/v1/jobs/{quick['id']}/result").json() == before
    job = httpx.get(f"{url}/api/v1/jobs/{slow['id']}").json()
    assert job["lang"] == "zh"  # the scenario lies in China and the request named no language
    assert job["status"] == "failed" and job["message"] == job_note("job_interrupted", "zh")
    assert 0 < job["progress"] < 1
    assert not list((data_dir / "scenarios").glob(".tmp-*"))


@pytest.mark.slow
def test_sigterm_fails_running_jobs_as_interrupted_by_a_shutdown(serve: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url, server = serve(data_dir)
    gpkg = write_gpkg(tmp_path / "src.gpkg").read_bytes()
    sid = httpx.post(
        f"{url}/api/v1/scenarios", files={"file": ("a.gpkg", gpkg)}, headers=auth, timeout=60
    ).json()["id"]
    # progress only every 5 s: the process is gone before the job would notice the shutdown
    body = {"kind": "sleep", "params": {"steps": 100, "step_s": 5}}
    job = httpx.post(f"{url}/api/v1/scenarios/{sid}/jobs", json=body, headers=auth).json()
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/api/v1/jobs/{job['id']}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    after = SQLiteStore(data_dir).get_job(job["id"])  # read before any restart could touch it
    assert (after.lang, after.status, after.message) == ("zh", "failed", job_note("job_shut_down", "zh"))
