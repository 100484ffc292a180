"""Load test of the web API on loopback: the point query and a GeoJSON layer under concurrent clients.

Starts ``riskplan serve`` (one uvicorn process) on 127.0.0.1 with a fresh data directory and
the synthetic demo city, warms it up (coverage computed, point-query precomputation built),
then runs two bounded phases, one after the other, each with ``--clients`` concurrent
closed-loop clients (asyncio + httpx) for ``--duration`` seconds:

* ``response-times``: ``GET /scenarios/{id}/response-times`` at random points in the city
  (drawn once with a fixed seed and checked to lie on the network, so every answer should be 200);
* ``coverage GeoJSON``: ``GET /scenarios/{id}/coverage/communities``, the whole layer
  (150 polygons with response times). It stands in for the risk-units GeoJSON endpoint,
  which does not exist yet.

Prints requests/s, p50/p95/p99 latency and errors side by side, then the target line:
point query p95 <= 50 ms with zero errors. Client and server share the machine's cores.

    .venv/bin/python benchmarks/bench_api.py                        # 50 clients, 30 s per phase
    .venv/bin/python benchmarks/bench_api.py --clients 10 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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


@dataclass
class Phase:
    """Latencies (seconds) and failures of one load phase."""

    name: str
    duration_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def row(self) -> list[str]:
        ms = np.asarray(self.latencies_s) * 1000
        p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if len(ms) else (np.nan,) * 3
        total = len(ms) + self.errors
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


def start_server(data_dir: Path, log_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """``riskplan serve`` on a free loopback port; returns its URL once it answers."""
    port = _free_port()
    env = {**os.environ, "RISKPLAN_API_TOKEN": TOKEN}
    cmd = [sys.executable, "-m", "service.cli", "serve", "--data-dir", str(data_dir)]
    cmd += ["--host", HOST, "--port", str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return url, proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("the server did not start within 60 s")


def prepare(url: str, nodes: int, n_points: int, seed: int) -> tuple[str, list[tuple[float, float]]]:
    """Create the demo city, warm every endpoint up, and draw query points on its network."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=300) as client:
        t0 = time.perf_counter()
        r = client.post("/scenarios/demo", json={"seed": seed, "n_road_nodes": nodes}, headers=auth)
        r.raise_for_status()
        sid = r.json()["id"]
        print(f"demo city ({nodes:,} road nodes) created in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        client.get(f"/scenarios/{sid}/coverage").raise_for_status()
        communities = client.get(f"/scenarios/{sid}/coverage/communities")
        communities.raise_for_status()
        print(f"coverage computed in {time.perf_counter() - t0:.1f} s (first request)", flush=True)
        west, south, east, north = r.json()["bounds_wgs84"]
        rng = random.Random(seed)
        points: list[tuple[float, float]] = []
        t0 = time.perf_counter()
        tries = 0
        while len(points) < n_points and tries < 20 * n_points:
            tries += 1
            lon, lat = rng.uniform(west, east), rng.uniform(south, north)
            answer = client.get(f"/scenarios/{sid}/response-times", params={"lon": lon, "lat": lat})
            if answer.status_code == 200:
                points.append((lon, lat))
            elif answer.status_code != 422:
                answer.raise_for_status()
        print(
            f"{len(points)} query points on the network ({tries} drawn) in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    return sid, points


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
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as http:
        end = time.perf_counter() + duration_s
        tasks = [_client(http, phase, path, i, end) for i in range(clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration_s + 30)
    return phase


def _table(rows: list[list[str]]) -> str:
    head = ["endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase (default 30)")
    parser.add_argument("--nodes", type=int, default=3000, help="demo city road nodes (default 3000)")
    parser.add_argument("--points", type=int, default=500, help="distinct query points (default 500)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        url, proc = start_server(Path(tmp) / "data", Path(tmp) / "server.log")
        try:
            sid, points = prepare(url, args.nodes, args.points, args.seed)
            base = f"/api/v1/scenarios/{sid}"

            def point(rng: random.Random) -> str:
                lon, lat = rng.choice(points)
                return f"{base}/response-times?lon={lon:.6f}&lat={lat:.6f}&k=3"

            def layer(rng: random.Random) -> str:
                return f"{base}/coverage/communities"

            phases = []
            for name, path in (
                ("response-times (point query)", point),
                ("coverage/communities GeoJSON", layer),
            ):
                print(f"running {name}: {args.clients} clients for {args.duration:g} s", flush=True)
                phases.append(
                    asyncio.run(run_phase(url, name, path, clients=args.clients, duration_s=args.duration))
                )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    print()
    print(f"riskplan serve, 1 uvicorn process on {HOST}; {os.cpu_count()} CPU(s) shared with the clients")
    print(_table([p.row() for p in phases]))
    for p in phases:
        if p.error_kinds:
            print(f"  {p.name} errors: {p.error_kinds}")
    query = phases[0]
    p95 = (
        float(np.percentile(np.asarray(query.latencies_s) * 1000, 95)) if query.latencies_s else float("inf")
    )
    met = p95 <= TARGET_P95_MS and query.errors == 0
    print(
        f"target: point query p95 <= {TARGET_P95_MS:.0f} ms and zero errors -> "
        f"{'met' if met else 'NOT met'} (p95 {p95:.1f} ms, {query.errors} errors)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
