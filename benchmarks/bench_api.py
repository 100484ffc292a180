"""Load test of the web API on loopback: the point query and the risk GeoJSON under concurrent clients.

Starts ``riskplan serve`` (uvloop and httptools when ``uvicorn[standard]`` is installed) on
127.0.0.1 with a fresh data directory and the synthetic demo city, once per process count of
``--workers`` (default ``1,2``: one uvicorn process, then two on one socket, issue 18), warms
it up with the API token (coverage and risk computed, point-query precomputation built, in
every process), then runs three bounded phases, one after the other, each with ``--clients``
concurrent closed-loop clients for ``--duration`` seconds, all without the token (public
readers):

* ``response-times``: ``GET /scenarios/{id}/response-times`` at random points in the city
  (drawn once with a fixed seed and checked to lie on the network, so every answer should be 200);
* ``risk GeoJSON``: ``GET /scenarios/{id}/risk?units=communities``, the whole layer
  (150 scored communities);
* ``risk GeoJSON, bbox``: the same layer filtered by ``bbox``, a map viewport (a quarter of
  the city's width and height) at a random place in the city per request, from
  ``--bboxes`` boxes drawn once with a fixed seed (issue 12: 29 req/s and p95 2.2 s at 50
  clients when every such request serialised the layer again; target p95 <= 100 ms).

The load comes from ``wrk`` (C, one thread by default: it uses a small share of a core, so the
server keeps most of the CPU; a Lua script picks a random pre-checked point per request) when it
is on the PATH, else from asyncio + httpx clients in this process (much heavier: on a small
machine the client then takes CPU from the server and the figures are pessimistic).
``--client`` forces one. Errors are failed connections, timeouts (10 s) and non-200 answers.

Prints requests/s, p50/p95/p99 latency and errors side by side for each process count, the
ratio of each count's throughput and p95 to one process, the servers' CPU time per request and
peak RSS (all processes), then the target lines: point query p95 <= 50 ms and bbox-filtered
risk p95 <= 100 ms, with zero errors. Client and server share the machine's cores.

    .venv/bin/python benchmarks/bench_api.py                        # 50 clients, 30 s per phase
    .venv/bin/python benchmarks/bench_api.py --clients 10 --duration 5 --client httpx --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TOKEN = "bench-api-token-0123456789abcdef"
TARGET_P95_MS = 50.0
TARGET_BBOX_P95_MS = 100.0
TIMEOUT_S = 10.0


@dataclass
class Phase:
    """Latencies (seconds) and failures of one load phase."""

    name: str
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    #: Set by wrk, which reports its own totals and percentiles (ms), all answers included.
    summary: tuple[int, float, float, float] | None = None

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def percentiles_ms(self) -> tuple[float, float, float]:
        if self.summary is not None:
            return self.summary[1:]
        ms = np.asarray(self.latencies_s) * 1000
        p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if len(ms) else (np.nan,) * 3
        return float(p50), float(p95), float(p99)

    def row(self) -> list[str]:
        p50, p95, p99 = self.percentiles_ms()
        total = self.summary[0] if self.summary is not None else len(self.latencies_s) + self.errors
        return [
            self.name,
            f"{total:,}",
            f"{total / self.duration_s:,.0f}",
            f"{p50:.1f}",
            f"{p95:.1f}",
            f"{p99:.1f}",
            str(self.errors),
        ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(
    data_dir: Path, log_path: Path, *, token: str = TOKEN, start_s: float = 60.0, workers: int = 1
) -> tuple[str, subprocess.Popen[bytes]]:
    """``riskplan serve`` (``workers`` processes) on a free loopback port; its URL once it answers."""
    port = _free_port()
    env = {**os.environ, "RISKPLAN_API_TOKEN": token, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "service.cli", "serve", "--data-dir", str(data_dir)]
    cmd += ["--host", HOST, "--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + start_s
    seen: set[int] = set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited:\n{log_path.read_text()}")
        try:
            answer = httpx.get(f"{url}/api/v1/health", timeout=1)  # a new connection each time
            if answer.status_code == 200:
                seen.add(answer.json().get("process_id", 0))
                if len(seen) >= workers:  # every worker process answers
                    return url, proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    sys.exit(f"the server did not start within {start_s:.0f} s")


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The server's process and its worker processes (Linux ``/proc``)."""
    pids = [proc.pid]
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(c) for c in children]
    return pids


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by the processes ``pids`` (Linux ``/proc``)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def peak_rss_mb(pids: list[int]) -> float:
    """Sum of the peak resident memory (``VmHWM``) of ``pids``, MB."""
    total = 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total += sum(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:"))
    return total


def warm(url: str, paths: list[str], workers: int) -> None:
    """Ask every path (with the token) on fresh connections until each worker process has built it."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for path in paths:
        seen: set[int] = set()
        for _ in range(40 * workers):
            with httpx.Client(base_url=url, timeout=300, headers=auth) as client:  # a new connection
                client.get(path).raise_for_status()
                seen.add(client.get("/api/v1/health").json()["process_id"])
            if len(seen) >= workers:
                break


def prepare(url: str, nodes: int, n_points: int, seed: int) -> tuple[str, list[tuple[float, float]]]:
    """Create the demo city, warm every endpoint up (with the token), draw query points on its network."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=300, headers=auth) as client:
        t0 = time.perf_counter()
        r = client.post("/scenarios/demo", json={"seed": seed, "n_road_nodes": nodes})
        r.raise_for_status()
        sid = r.json()["id"]
        print(f"demo city ({nodes:,} road nodes) created in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        client.get(f"/scenarios/{sid}/coverage").raise_for_status()
        client.get(f"/scenarios/{sid}/risk", params={"units": "communities"}).raise_for_status()
        print(f"coverage and risk computed in {time.perf_counter() - t0:.1f} s (first requests)", flush=True)
        west, south, east, north = r.json()["bounds_wgs84"]
        rng = random.Random(seed)
        points: list[tuple[float, float]] = []
        t0 = time.perf_counter()
        tries = 0
        client.get(f"/scenarios/{sid}/response-times", params={"lon": west, "lat": south})  # build it
        while len(points) < n_points and tries < 20 * n_points:
            tries += 1
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            answer = client.get(f"/scenarios/{sid}/response-times", params={"lon": lon, "lat": lat})
            if answer.status_code == 200:
                points.append((lon, lat))
            elif answer.status_code not in (404, 422):  # off the road network (422 before issue 12)
                answer.raise_for_status()
        print(
            f"{len(points)} query points on the network ({tries} drawn) in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    return sid, points


def viewports(bounds: list[float], n: int, seed: int) -> list[str]:
    """``n`` bboxes a quarter of the city wide and high, at random places inside it."""
    west, south, east, north = bounds
    width, height = (east - west) / 4, (north - south) / 4
    rng = random.Random(seed + 1)
    boxes = []
    for _ in range(n):
        x, y = rng.uniform(west, east - width), rng.uniform(south, north - height)
        boxes.append(f"{x:.5f},{y:.5f},{x + width:.5f},{y + height:.5f}")
    return boxes


async def _client(
    http: httpx.AsyncClient, phase: Phase, path: Callable[[random.Random], str], seed: int, end: float
) -> None:
    rng = random.Random(seed)
    while (start := time.perf_counter()) < end:
        try:
            r = await http.get(path(rng))
            await r.aread()
        except httpx.HTTPError as exc:
            phase.error(type(exc).__name__)
            continue
        if r.status_code == 200:
            phase.latencies_s.append(time.perf_counter() - start)
        else:
            phase.error(f"HTTP {r.status_code}")


async def run_phase(
    url: str, name: str, path: Callable[[random.Random], str], *, clients: int, duration_s: float
) -> Phase:
    """``clients`` closed-loop clients hitting ``path(rng)`` for ``duration_s`` seconds."""
    phase = Phase(name, duration_s)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=TIMEOUT_S) as http:
        end = time.perf_counter() + duration_s
        tasks = [_client(http, phase, path, i, end) for i in range(clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration_s + 30)
    return phase


_WRK_SCRIPT = """
local paths = {%(paths)s}
init = function(args) math.randomseed(%(seed)d) end
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%.1f %%.1f %%.1f\\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(
    url: str, name: str, paths: list[str], *, clients: int, duration_s: float, threads: int, seed: int
) -> Phase:
    """``wrk`` with ``clients`` connections for ``duration_s`` seconds, a random path per request."""
    phase = Phase(name, duration_s)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % {"paths": ", ".join(f'"{p}"' for p in paths), "seed": seed})
    try:
        cmd = ["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{duration_s:g}s"]
        cmd += ["--timeout", f"{TIMEOUT_S:g}s", "-s", script.name, url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration_s + 60).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"^RESULT (.*)$", out, flags=re.MULTILINE)
    if match is None:
        sys.exit(f"wrk printed no result:\n{out}")
    requests, connect, read, write, status, timeout = (int(v) for v in match.group(1).split()[:6])
    p50, p95, p99 = (float(v) / 1000 for v in match.group(1).split()[6:])  # microseconds -> ms
    for kind, count in (("connect", connect), ("read", read), ("write", write), ("non-200", status)):
        if count:
            phase.errors += count
            phase.error_kinds[kind] = count
    if timeout:
        phase.errors += timeout
        phase.error_kinds["timeout"] = timeout
    # wrk counts timed-out requests in neither `requests` nor the latencies
    phase.summary = (requests + timeout, p50, p95, p99)
    return phase


def _table(rows: list[list[str]]) -> str:
    head = ["endpoint", "processes", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Run:
    """The phases of one server (``workers`` processes), its CPU per request and peak RSS."""

    workers: int
    phases: list[Phase]
    cpu_ms: list[float]
    rss_mb: float
    load: str
    server: str


def _workers(text: str) -> list[int]:
    counts = [int(v) for v in text.split(",") if v.strip()]
    if not counts or min(counts) < 1:
        msg = f"--workers needs process counts like 1,2, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return counts


def run_server(args: argparse.Namespace, workers: int, use_wrk: bool) -> Run:
    """Start a server of ``workers`` processes on a fresh data directory and run the three phases."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        url, proc = start_server(Path(tmp) / "data", Path(tmp) / "server.log", workers=workers, start_s=180)
        try:
            sid, points = prepare(url, args.nodes, args.points, args.seed)
            base = f"/api/v1/scenarios/{sid}"
            bounds = httpx.get(f"{url}{base}", timeout=60).json()["bounds_wgs84"]

            point_paths = [f"{base}/response-times?lon={lon:.6f}&lat={lat:.6f}&k=3" for lon, lat in points]
            layer_paths = [f"{base}/risk?units=communities"]
            bbox_paths = [
                f"{base}/risk?units=communities&bbox={b}" for b in viewports(bounds, args.bboxes, args.seed)
            ]
            if workers > 1:
                warm(url, [point_paths[0], layer_paths[0], bbox_paths[0]], workers)
            sizes = [int(httpx.get(url + p, timeout=60).headers["x-total-count"]) for p in bbox_paths[:20]]
            print(f"bbox viewports hold {min(sizes)}..{max(sizes)} of the communities (first 20)", flush=True)

            pids = server_pids(proc)
            phases, cpu_ms = [], []
            for name, paths in (
                ("response-times (point query)", point_paths),
                ("risk?units=communities GeoJSON", layer_paths),
                ("risk?units=communities&bbox= GeoJSON", bbox_paths),
            ):
                tool = f"wrk, {args.wrk_threads} thread(s)" if use_wrk else "httpx"
                print(
                    f"running {name}: {args.clients} clients for {args.duration:g} s ({tool}), "
                    f"{workers} server process(es)",
                    flush=True,
                )
                cpu0 = cpu_s(pids)
                if use_wrk:
                    phase = run_wrk(
                        url,
                        name,
                        paths,
                        clients=args.clients,
                        duration_s=args.duration,
                        threads=args.wrk_threads,
                        seed=args.seed,
                    )
                else:

                    def path(rng: random.Random, paths: list[str] = paths) -> str:
                        return rng.choice(paths)

                    phase = asyncio.run(
                        run_phase(url, name, path, clients=args.clients, duration_s=args.duration)
                    )
                total = phase.summary[0] if phase.summary is not None else len(phase.latencies_s)
                cpu_ms.append(1000 * (cpu_s(pids) - cpu0) / max(total, 1))
                phases.append(phase)
            load = "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
            rss = peak_rss_mb(pids)
            server_log = (Path(tmp) / "server.log").read_text()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    impl = re.findall(r"^uvicorn: .*$", server_log, flags=re.MULTILINE)
    return Run(workers, phases, cpu_ms, rss, load, "; ".join(impl) or "riskplan serve")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase (default 30)")
    parser.add_argument("--nodes", type=int, default=3000, help="demo city road nodes (default 3000)")
    parser.add_argument("--points", type=int, default=500, help="distinct query points (default 500)")
    parser.add_argument("--bboxes", type=int, default=200, help="distinct bbox viewports (default 200)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--workers", type=_workers, default=[1, 2], help="server process counts, side by side (default 1,2)"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="load generator: wrk when installed (default), else httpx",
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    args = parser.parse_args(argv)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if use_wrk and shutil.which("wrk") is None:
        sys.exit("wrk is not on the PATH. Fix: apt-get install -y wrk, or use --client httpx")

    runs = [run_server(args, workers, use_wrk) for workers in args.workers]
    print()
    client = f"wrk -t{args.wrk_threads}" if use_wrk else "httpx (asyncio, in the benchmark process)"
    print(
        f"{args.clients} clients ({client}) on {HOST}; {os.cpu_count()} CPU(s) shared by server and clients"
    )
    for run in runs:
        print(
            f"  {run.workers} process(es): {run.server}; {run.load} after; "
            f"peak RSS {run.rss_mb:,.0f} MB (all)"
        )
    rows = [
        [p.name, str(run.workers), *p.row()[1:]] for i in range(3) for run in runs for p in [run.phases[i]]
    ]
    print(_table(rows))
    for run in runs:
        for p in run.phases:
            if p.error_kinds:
                print(f"  {p.name}, {run.workers} process(es), errors: {p.error_kinds}")
    first = runs[0]
    for run in runs[1:]:
        for i, p in enumerate(run.phases):
            base = first.phases[i]
            rate = (p.summary[0] if p.summary else len(p.latencies_s)) / max(
                base.summary[0] if base.summary else len(base.latencies_s), 1
            )
            print(
                f"  {p.name}: {run.workers} vs {first.workers} process(es): {rate:.2f} x the throughput, "
                f"p95 {p.percentiles_ms()[1] / base.percentiles_ms()[1]:.2f} x; server CPU per request "
                f"{run.cpu_ms[i]:.2f} vs {first.cpu_ms[i]:.2f} ms"
            )
    for run in runs:
        for phase, target in ((run.phases[0], TARGET_P95_MS), (run.phases[2], TARGET_BBOX_P95_MS)):
            p95 = phase.percentiles_ms()[1]
            met = p95 <= target and phase.errors == 0
            print(
                f"target ({run.workers} process(es)): {phase.name} p95 <= {target:.0f} ms and zero errors -> "
                f"{'met' if met else 'NOT met'} (p95 {p95:.1f} ms, {phase.errors} errors)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
