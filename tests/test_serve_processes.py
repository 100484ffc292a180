"""Several server processes on one data directory: one job leader, shared queue, cancel flags, budgets.

The fast tests run two stores and two runners (or two apps) in one process: each
:class:`~service.store.coordination.FileLeaderLock` opens the lock file itself, so they
conflict as two processes would. The slow ones start real ``riskplan serve`` processes and
kill the leader.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg
from test_jobs import REPO, TOKEN, _free_port, register_test_jobs

from gis import load_scenario
from service.api import Settings, create_app
from service.api.budget import AnonymousLimitError
from service.api.register_access import RegisterLimits, ReportLimiter
from service.jobs import SHUT_DOWN, JobRunner, default_registry
from service.store import SQLiteStore
from service.store.base import job_note
from service.store.coordination import FileLeaderLock, LocalLeaderLock

POLL_S = 0.05


def _until(check: Callable[[], Any], timeout_s: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what or check}")


def _runner(store: SQLiteStore, **kwargs: Any) -> JobRunner:
    registry = default_registry()
    register_test_jobs(registry)
    return JobRunner(store, registry, store.load_scenario, poll_s=POLL_S, **kwargs)


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore, str]]:
    first, second = SQLiteStore(tmp_path / "data"), SQLiteStore(tmp_path / "data")
    sid = first.create_scenario(load_scenario(write_gpkg(tmp_path / "small.gpkg")), origin="test").id
    yield first, second, sid
    first.close()
    second.close()


def test_leader_locks_exclude_each_other_until_released(tmp_path: Path) -> None:
    path = tmp_path / "jobs.leader"
    a, b = FileLeaderLock(path), FileLeaderLock(path)
    assert a.try_acquire() and not b.try_acquire()
    assert path.read_text().strip() == str(os.getpid())
    a.release()
    assert not a.held and b.try_acquire() and b.held
    b.release()
    local = LocalLeaderLock()  # the interface's default, for stores of one process
    assert local.try_acquire() and local.held


def test_one_runner_leads_and_a_follower_submits_cancels_and_takes_over(
    two_stores: tuple[SQLiteStore, SQLiteStore, str], tmp_path: Path
) -> None:
    store_a, store_b, sid = two_stores
    leader, follower = _runner(store_a, max_workers=1), _runner(store_b, max_workers=1)
    try:
        assert leader.is_leader and not follower.is_leader
        # a job submitted through the follower runs once, in the leader, and both see it
        tally = tmp_path / "tally.txt"
        job = follower.submit(sid, "tally", {"file": str(tally)})
        done = _until(lambda: store_b.get_job(job.id).status == "succeeded" and store_b.get_job(job.id))
        assert done.has_result and store_a.get_job_result(job.id) == store_b.get_job_result(job.id)
        # the follower's cancel is a flag that the leader reads
        slow = follower.submit(sid, "sleep", {"steps": 2000, "step_s": 0.01})
        _until(lambda: store_b.get_job(slow.id).progress > 0, what="progress seen by the follower")
        follower.cancel(slow.id)
        cancelled = _until(
            lambda: store_b.get_job(slow.id).status == "cancelled" and store_b.get_job(slow.id)
        )
        assert cancelled.cancel_requested and not cancelled.has_result
        # the leader goes (shutdown: running jobs failed, queued ones stay for the next leader)
        busy = follower.submit(sid, "sleep", {"steps": 2000, "step_s": 0.01})
        _until(lambda: store_b.get_job(busy.id).status == "running")
        waiting = follower.submit(sid, "tally", {"file": str(tally)})
        leader.shutdown(wait=True)
        assert store_b.get_job(busy.id).status == "failed"
        _until(lambda: follower.is_leader, what="the follower to take the lead")
        _until(lambda: store_b.get_job(waiting.id).status == "succeeded", what="the queued job to run")
        assert tally.read_text().split() == [str(os.getpid())] * 2  # each job ran exactly once
    finally:
        leader.shutdown()
        follower.shutdown()


def test_a_follower_leaves_the_live_leaders_jobs_alone(
    two_stores: tuple[SQLiteStore, SQLiteStore, str],
) -> None:
    """Restart recovery runs in a new leader only: a process starting beside a live one marks nothing."""
    store_a, store_b, sid = two_stores
    leader = _runner(store_a, max_workers=1)
    try:
        mine = leader.submit(sid, "sleep", {"steps": 2000, "step_s": 0.01})
        _until(lambda: store_a.get_job(mine.id).status == "running")
        follower = _runner(store_b)
        time.sleep(5 * POLL_S)
        assert store_b.get_job(mine.id).status == "running" and not follower.is_leader
        leader.shutdown()
        _until(lambda: follower.is_leader)
        assert (store_b.get_job(mine.id).status, store_b.get_job(mine.id).message) == ("failed", SHUT_DOWN)
        follower.shutdown()
    finally:
        leader.shutdown()


def test_anonymous_report_budget_is_one_for_all_processes(tmp_path: Path) -> None:
    limits = RegisterLimits(anonymous_reports=3, window_s=600)
    apps = [
        create_app(Settings(tmp_path / "data", api_token=TOKEN, register_limits=limits)) for _ in range(2)
    ]
    body = {"category": "gas", "lon": 112.55, "lat": 37.87, "description": "smell of gas"}
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        codes = [c.post("/api/v1/register/items", json=body).status_code for c in (one, two, one, two)]
        assert codes == [201, 201, 201, 429]
        refused = one.post("/api/v1/register/items", json=body)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "3 reports in the last 10 minutes" in refused.json()["detail"]


def _overlap_of_two_gates(slots: tuple[Any, Any]) -> tuple[int, list[str]]:
    """Two gates (two processes' worth) each run two builds; the most builds running at once."""
    import threading

    from service.api.budget import AnonymousGate, AnonymousLimits

    limits = AnonymousLimits(max_compute_s=30)
    gates = [AnonymousGate(limits, slot=slot, poll_s=0.01) for slot in slots]
    lock, running, most, order = threading.Lock(), [0], [0], []

    def build(name: str) -> Callable[[], str]:
        def run() -> str:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.15)
            with lock:
                running[0] -= 1
                order.append(name)
            return name

        return run

    threads = [
        threading.Thread(target=gate.run, args=(f"build {k}", build(f"{g}{k}")))
        for k in range(2)
        for g, gate in enumerate(gates)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for gate in gates:
        gate.shutdown()
    return most[0], order


def test_anonymous_builds_run_one_at_a_time_across_processes(tmp_path: Path) -> None:
    first, second = SQLiteStore(tmp_path / "data"), SQLiteStore(tmp_path / "data")
    try:
        most, order = _overlap_of_two_gates((first.compute_slot(), second.compute_slot()))
        assert most == 1 and sorted(order) == ["00", "01", "10", "11"]
        # without the store's slot each process builds on its own: two at once
        most, _ = _overlap_of_two_gates((LocalLeaderLock(), LocalLeaderLock()))
        assert most == 2
    finally:
        first.close()
        second.close()


def test_anonymous_builds_run_one_at_a_time_on_postgresql(pg_dsn: str) -> None:
    from service.store.postgres import PostgresStore

    first, second = PostgresStore(pg_dsn), PostgresStore(pg_dsn)
    try:
        slot_a, slot_b = first.compute_slot(), second.compute_slot()
        assert slot_a.try_acquire() and not slot_b.try_acquire()  # the advisory lock is one for all
        leader = first.leader_lock()  # a key of its own: the job leader is not held up by it
        assert leader.try_acquire()
        leader.release()
        slot_a.release()
        most, order = _overlap_of_two_gates((slot_a, slot_b))
        assert most == 1 and len(order) == 4
    finally:
        first.close()
        second.close()


def test_a_gate_shut_down_while_waiting_for_the_slot_gives_up(tmp_path: Path) -> None:
    from service.api.budget import AnonymousGate, AnonymousLimits

    store = SQLiteStore(tmp_path / "data")
    held = store.compute_slot()
    assert held.try_acquire()  # another process is building
    gate = AnonymousGate(AnonymousLimits(max_compute_s=0.2), slot=store.compute_slot(), poll_s=0.01)
    ran: list[int] = []
    with pytest.raises(AnonymousLimitError) as err:
        gate.run("the coverage", lambda: ran.append(1))
    assert err.value.status == 429 and ran == []  # the request is answered; the build waits
    gate.shutdown()
    time.sleep(0.1)
    held.release()
    time.sleep(0.1)
    assert ran == []  # the waiting build gave up with the gate
    store.close()


def test_store_window_slides_and_keeps_keys_apart(tmp_path: Path) -> None:
    a, b = SQLiteStore(tmp_path), SQLiteStore(tmp_path)
    limiter_a = ReportLimiter(2, 60, store=a)
    limiter_b = ReportLimiter(2, 60, store=b)
    limiter_a.take("10.0.0.1", now=1000.0)
    limiter_b.take("10.0.0.1", now=1010.0)
    with pytest.raises(AnonymousLimitError) as refused:
        limiter_a.take("10.0.0.1", now=1020.0)
    assert refused.value.retry_after_s == 40  # the first report leaves the window at 1060
    limiter_b.take("10.0.0.2", now=1020.0)  # another address has its own budget
    limiter_b.take("10.0.0.1", now=1060.5)  # the window slid past the first report
    assert ReportLimiter(2, 60).take("x", now=0.0) is None  # without a store: this process only


# -- real processes ---------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "RISKPLAN_API_TOKEN": TOKEN,
        "RISKPLAN_JOB_PLUGINS": "test_jobs:register_test_jobs",
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., tuple[str, subprocess.Popen[bytes]]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path, *extra: str) -> tuple[str, subprocess.Popen[bytes]]:
        port = _free_port()
        cmd = [sys.executable, "-m", "service.cli", "serve", "--data-dir", str(data_dir), "--port", str(port)]
        log_path = tmp_path / f"server-{len(procs)}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*cmd, *extra], cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT
            )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _until(up, 90, "the server to start")
        return url, proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _health(url: str) -> dict[str, Any]:
    return dict(httpx.get(f"{url}/api/v1/health", timeout=5).json())


@pytest.mark.slow
def test_two_server_processes_share_jobs_and_hand_the_lead_over_when_killed(
    servers: Callable[..., tuple[str, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    data_dir, auth = tmp_path / "data", {"Authorization": f"Bearer {TOKEN}"}
    first, first_proc = servers(data_dir, "--jobs", "1")
    second, second_proc = servers(data_dir, "--jobs", "1")
    leaders = [url for url in (first, second) if _health(url)["job_leader"]]
    assert leaders == [first]
    gpkg = write_gpkg(tmp_path / "src.gpkg").read_bytes()
    sid = httpx.post(
        f"{second}/api/v1/scenarios", files={"file": ("a.gpkg", gpkg)}, headers=auth, timeout=60
    ).json()["id"]
    jobs = f"{second}/api/v1/scenarios/{sid}/jobs"
    tally = tmp_path / "tally.txt"

    def job(url: str, job_id: str) -> dict[str, Any]:
        return dict(httpx.get(f"{url}/api/v1/jobs/{job_id}", timeout=5).json())

    once = httpx.post(jobs, json={"kind": "tally", "params": {"file": str(tally)}}, headers=auth).json()
    _until(lambda: job(first, once["id"])["status"] == "succeeded")
    assert tally.read_text().split() == [str(first_proc.pid)]
    assert httpx.get(f"{second}/api/v1/jobs/{once['id']}/result").json()["data"] == {"pid": first_proc.pid}
    # cancel through the follower
    slow = httpx.post(
        jobs, json={"kind": "sleep", "params": {"steps": 4000, "step_s": 0.02}}, headers=auth
    ).json()
    _until(lambda: job(second, slow["id"])["progress"] > 0)
    assert httpx.post(f"{second}/api/v1/jobs/{slow['id']}/cancel", headers=auth).status_code == 200
    _until(lambda: job(first, slow["id"])["status"] == "cancelled", 10)
    # the leader is killed with a job running and one queued behind it
    busy = httpx.post(
        jobs, json={"kind": "sleep", "params": {"steps": 4000, "step_s": 0.02}}, headers=auth
    ).json()
    _until(lambda: job(second, busy["id"])["status"] == "running")
    queued = httpx.post(jobs, json={"kind": "tally", "params": {"file": str(tally)}}, headers=auth).json()
    assert job(second, queued["id"])["status"] == "queued"
    first_proc.send_signal(signal.SIGKILL)
    first_proc.wait()
    _until(lambda: _health(second)["job_leader"], 10, "the survivor to lead")
    _until(lambda: job(second, queued["id"])["status"] == "succeeded", 30, "the queued job to run")
    # the survivor's recovery writes in the job's language (the scenario's place: Chinese)
    recovered = job(second, busy["id"])
    assert (recovered["lang"], recovered["status"], recovered["message"]) == (
        "zh",
        "failed",
        job_note("job_interrupted", "zh"),
    )
    assert tally.read_text().split() == [str(first_proc.pid), str(second_proc.pid)]


@pytest.mark.slow
def test_serve_with_two_workers_has_one_leader(
    servers: Callable[..., tuple[str, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    url, proc = servers(data_dir, "--workers", "2")
    seen: dict[int, bool] = {}
    _until(lambda: seen.update({(h := _health(url))["process_id"]: h["job_leader"]}) or len(seen) == 2, 60)
    assert sorted(seen.values()) == [False, True]
    leader = next(pid for pid, lead in seen.items() if lead)
    assert (data_dir / "jobs.leader").read_text().strip() == str(leader)
    assert proc.pid not in seen  # the supervisor serves nothing itself
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
