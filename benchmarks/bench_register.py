"""The hidden-danger register at city scale: 1,000,000 items and 10,000,000 events in the SQLite store.

Phases, each printed with its figure against the target of issue 15:

1. **generate**: a synthetic register written straight into the store's tables
   (``register_synthetic.py``: labelled synthetic, the workflow's own path), a sample of it
   replayed with :func:`risk_models.register.replay` and compared with the stored projection.
2. **filtered list**: ``riskplan serve`` on the store, once per process count of ``--workers``
   (default ``1,2``, side by side), ``wrk`` with ``--clients`` connections for ``--duration``
   seconds on ``GET /api/v1/register/items`` with a random filter per request (status,
   category + grade, department, overdue, month, bbox), a third as an admin, a third as a
   department account and a third as a territorial government (both scoped; a government
   sees the items handed over to it and, before the handover, those of its district).
   Target: p95 <= 50 ms at 50 clients, no errors. Besides wrk's figures, the servers' CPU
   time per request (from ``/proc``, every process: independent of what else runs on the
   machine) and the load average are printed.
3. **disclosure**: ``GET /api/v1/register/disclosure/{month}`` in each format (HTML, CSV,
   GeoJSON, GeoPackage), each request for a month not asked for before in any format (nothing
   cached: neither the page nor the month's tables). Target <= 2 s each.
4. **import**: a 100,000-row Excel sheet read (:func:`~risk_models.register.read_rows`, by
   python-calamine and, side by side, by openpyxl in read-only mode), checked column-wise and
   made into items (:func:`~risk_models.register.import_rows`) and appended to the big store
   in one transaction (``SQLiteRegister.import_items``, ``executemany``). Read, validate and
   append seconds and the total against the target <= 30 s. The import runs on a copy of the
   store (deleted after), so a shared ``--data-dir`` keeps its 1,000,000 items.

Client and server share the machine's cores; the load average is printed with the figures.

    .venv/bin/python benchmarks/bench_register.py                     # 1M items, 50 clients, 30 s
    .venv/bin/python benchmarks/bench_register.py --items 20000 --duration 5 --import-rows 2000
    .venv/bin/python benchmarks/bench_register.py --only import --data-dir /tmp/bench-reg-1m
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_api import TIMEOUT_S, _workers, cpu_s, peak_rss_mb, server_pids, start_server  # noqa: E402
from register_synthetic import (  # noqa: E402
    CATEGORIES,
    DAYS,
    DEPARTMENTS,
    DISTRICTS,
    START,
    check_sample,
    generate,
)

TOKEN = "bench-register-token-0123456789abcdef"
TARGET_LIST_P95_MS = 50.0
TARGET_DISCLOSURE_S = 2.0
TARGET_IMPORT_S = 30.0


def _rss_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


#: Months asked for, per format: a month is asked for once, in one format (nothing cached).
DISCLOSURE_MONTHS: dict[str, tuple[str, ...]] = {
    "html": ("2026-06", "2025-03", "2023-11"),
    "csv": ("2026-05", "2025-02", "2023-10"),
    "geojson": ("2026-04", "2025-01", "2023-09"),
    "gpkg": ("2026-03", "2024-12", "2023-08"),
}


# -- 2. server and list load ---------------------------------------------------------------------


_WRK = """
local reqs = {%(reqs)s}
init = function(args) math.randomseed(%(seed)d) end
request = function()
  local r = reqs[math.random(#reqs)]
  return wrk.format("GET", r[1], {["Authorization"] = "Bearer " .. r[2]})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%.1f %%.1f %%.1f\\n",
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def list_paths(rng: np.random.Generator, n: int) -> list[str]:
    base = "/api/v1/register/items?limit=50&"
    out = []
    for _ in range(n):
        kind = rng.integers(0, 6)
        if kind == 0:
            q = f"status={rng.choice(['rectifying', 'closed', 'rectified', 'reopened'])}"
        elif kind == 1:
            q = f"category={rng.choice(CATEGORIES)}&grade=general"
        elif kind == 2:
            dept = DEPARTMENTS[int(rng.integers(0, len(DEPARTMENTS)))].replace(" ", "%20")
            q = f"department={dept}&status=rectifying"
        elif kind == 3:
            q = "overdue=true"
        elif kind == 4:
            q = f"month={2021 + int(rng.integers(0, 6))}-{1 + int(rng.integers(0, 12)):02d}"
        else:
            w, s = 112.45 + rng.random() * 0.15, 37.75 + rng.random() * 0.15
            q = f"bbox={w:.4f},{s:.4f},{w + 0.05:.4f},{s + 0.05:.4f}"
        out.append(base + q)
    return out


def run_wrk(
    url: str, reqs: list[tuple[str, str]], clients: int, duration_s: float, seed: int
) -> tuple[int, float, float, float, int]:
    body = ", ".join(f'{{"{p}", "{t}"}}' for p, t in reqs)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK % {"reqs": body, "seed": seed})
    try:
        cmd = [
            "wrk",
            "-t",
            "1",
            "-c",
            str(clients),
            "-d",
            f"{duration_s:g}s",
            "--timeout",
            f"{TIMEOUT_S:g}s",
            "-s",
            script.name,
            url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=duration_s + 60).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"^RESULT (.*)$", out, flags=re.MULTILINE)
    if match is None:
        sys.exit(f"wrk printed no result:\n{out}")
    values = match.group(1).split()
    requests = int(values[0])
    errors = sum(int(v) for v in values[1:6])
    p50, p95, p99 = (float(v) / 1000 for v in values[6:])
    return requests, p50, p95, p99, errors


# -- 3b. disclosure: the query against the kept month-end states, side by side ------------------

#: Months of the side-by-side disclosure phase (none asked for by the HTTP phase).
KEPT_MONTHS = ("2026-07", "2025-06", "2024-09", "2023-05", "2022-03")


def kept_phase(
    db: Path,
) -> tuple[list[tuple[str, float, float, float, float, float, float]], float, int, str]:
    """Each month's disclosure by the query (before), its first request (makes and keeps the
    month-end states) and a request on the kept states (after), each on a fresh store object
    (no in-process cache), wall and CPU seconds; then every ended month made and kept."""
    from service.store import SQLiteRegister

    out: list[tuple[str, float, float, float, float, float, float]] = []
    for month in KEPT_MONTHS:
        figures: list[float] = []
        for month_ends in (False, True, True):
            reg = SQLiteRegister(db, month_ends=month_ends)
            t, c = time.perf_counter(), time.process_time()
            reg.disclosure(month)
            figures += [time.perf_counter() - t, time.process_time() - c]
            reg.close()
        q, qc, first, fc, kept, kc = figures
        out.append((month, q, qc, first, fc, kept, kc))
    reg = SQLiteRegister(db)
    t = time.perf_counter()
    made = reg.build_month_ends()
    build_s = time.perf_counter() - t
    reg.close()
    return out, build_s, len(made), _load()


def print_kept(
    rows: list[tuple[str, float, float, float, float, float, float]], build_s: float, n: int, load: str
) -> None:
    print(
        "disclosure of a month in process, the query (before) against the kept month-end states "
        f"(after) ({load}):"
    )
    for month, q, qc, first, fc, kept, kc in rows:
        print(
            f"  {month}: query {q:5.2f} s (CPU {qc:4.2f}); first request, keeps the month {first:5.2f} s "
            f"(CPU {fc:4.2f}); kept {kept:5.2f} s (CPU {kc:4.2f}) = {q / kept:5.1f} x faster"
        )
    worst_q = max(r[1] for r in rows)
    worst_k = max(r[5] for r in rows)
    print(
        f"  worst: query {worst_q:.2f} s, kept {worst_k:.2f} s; target <= {TARGET_DISCLOSURE_S:.0f} s: "
        f"kept {'met' if worst_k <= TARGET_DISCLOSURE_S else 'NOT met'}, first request "
        f"{'met' if max(r[3] for r in rows) <= TARGET_DISCLOSURE_S else 'NOT met'}"
    )
    print(f"  every other ended month made and kept (build_month_ends): {n} months in {build_s:.1f} s")


def main_disclosure(args: argparse.Namespace) -> int:
    """``--only disclosure``: the side-by-side disclosure phase on the store of ``--data-dir``."""
    if args.data_dir is None or not (args.data_dir / "riskplan.sqlite3").exists():
        sys.exit("--only disclosure needs --data-dir with a store (run the whole benchmark once with it).")
    db = args.data_dir / "riskplan.sqlite3"
    print(f"machine before: {_load()}, {os.cpu_count()} cores; store {db} ({db.stat().st_size / 1e9:.1f} GB)")
    t = time.perf_counter()
    from service.store import SQLiteRegister

    SQLiteRegister(db).close()  # migrations (a store of an older schema upgrades in place)
    print(f"  opening (migrations, if any): {time.perf_counter() - t:.1f} s")
    print_kept(*kept_phase(db))
    own, _ = _rss_mb()
    print(f"peak RSS: benchmark {own:,.0f} MB")
    return 0


# -- 4. import -----------------------------------------------------------------------------------


def write_sheet(path: Path, n_rows: int, seed: int) -> float:
    from openpyxl import Workbook

    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("隐患")
    ws.append(["隐患类别", "隐患描述", "经度", "纬度", "发现时间", "检查人", "区县", "街道"])
    cats = ["燃气", "电梯", "消防通道堵塞", "电气线路", "建筑施工"]
    for k in range(n_rows):
        ws.append(
            [
                cats[k % len(cats)],
                f"检查发现第{k}处",
                round(112.45 + rng.random() * 0.2, 6),
                round(37.75 + rng.random() * 0.2, 6),
                f"2026-11-{1 + k % 28:02d} 09:30",
                "张三",
                DISTRICTS[k % len(DISTRICTS)],
                "街道一",
            ]
        )
    wb.save(path)
    return time.perf_counter() - t


def run_import(db: Path, sheet: Path, engine: str) -> dict[str, float]:
    """Import ``sheet`` into a copy of the store ``db``: seconds of each phase, and the count."""
    from risk_models.register import import_rows, read_rows
    from service.store import SQLiteRegister

    with tempfile.TemporaryDirectory(prefix="bench-register-import-copy-") as tmp:
        copy = Path(tmp) / db.name
        src = sqlite3.connect(db)
        dst = sqlite3.connect(copy)
        src.backup(dst)  # a consistent copy, also of a WAL database in use
        src.close()
        dst.close()
        reg = SQLiteRegister(copy)
        items_before = reg.count()[0]
        out: dict[str, float] = {"store_items": float(items_before)}
        t = time.perf_counter()
        rows = read_rows(sheet, engine=engine)
        out["read_s"] = time.perf_counter() - t

        def make(counters):
            t_v = time.perf_counter()
            result = import_rows(
                rows, first_counter=counters, actor="bench-import", role="inspector", where=f"`{sheet.name}`"
            )
            out["validate_s"] = time.perf_counter() - t_v
            return result

        numbers = reg.import_items(make)
        out["total_s"] = time.perf_counter() - t
        out["append_s"] = out["total_s"] - out["read_s"] - out["validate_s"]
        out["items"] = float(len(numbers))
        if reg.count()[0] != items_before + len(numbers):
            sys.exit("the import did not store every row")
        reg.close()
    return out


def print_import(n_rows: int, runs: dict[str, dict[str, float]], load: str, write_s: float) -> None:
    print(f"import of a {n_rows:,}-row Excel file ({load}; writing it took {write_s:.0f} s):")
    for engine, r in runs.items():
        met = "met" if r["total_s"] <= TARGET_IMPORT_S else "NOT met"
        print(
            f"  {engine:<9} {int(r['items']):,} items into a store of {int(r['store_items']):,}: "
            f"read {r['read_s']:.1f} s, validate {r['validate_s']:.1f} s, append {r['append_s']:.1f} s, "
            f"total {r['total_s']:.1f} s; target <= {TARGET_IMPORT_S:.0f} s: "
            f"{r['total_s'] / TARGET_IMPORT_S:.2f} x -> {met}"
        )


def import_phase(db: Path, args: argparse.Namespace) -> tuple[dict[str, dict[str, float]], str, float]:
    """The import by each engine of ``--engines`` (each on a fresh copy of the store)."""
    with tempfile.TemporaryDirectory(prefix="bench-register-sheet-") as tmp:
        sheet = Path(tmp) / "import.xlsx"
        write_s = write_sheet(sheet, args.import_rows, args.seed)
        runs = {}
        loads = []
        for engine in args.engines.split(","):
            loads.append(_load())
            runs[engine] = run_import(db, sheet, engine)
            loads.append(_load())
    return runs, f"load average from {loads[0].split()[-3]} to {loads[-1].split()[-3]}", write_s


def main_import(args: argparse.Namespace) -> int:
    """``--only import``: the import phase on the store of ``--data-dir`` (generated if missing)."""
    if args.data_dir is None or not (args.data_dir / "riskplan.sqlite3").exists():
        sys.exit("--only import needs --data-dir with a store (run the whole benchmark once with it).")
    db = args.data_dir / "riskplan.sqlite3"
    print(f"machine before: {_load()}, {os.cpu_count()} cores; store {db} ({db.stat().st_size / 1e9:.1f} GB)")
    runs, load, write_s = import_phase(db, args)
    print_import(args.import_rows, runs, load, write_s)
    own, _ = _rss_mb()
    print(f"peak RSS: benchmark {own:,.0f} MB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of list load (default 30)")
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep (or reuse) the store here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only",
        choices=("import", "disclosure"),
        default=None,
        help="run this phase only (on the store of --data-dir)",
    )
    parser.add_argument(
        "--engines", default="calamine,openpyxl", help="Excel readers of the import, side by side"
    )
    parser.add_argument(
        "--workers", type=_workers, default=[1, 2], help="server process counts of the list, side by side"
    )
    parser.add_argument("--skip-import", action="store_true", help="leave the import phase out")
    args = parser.parse_args(argv)
    if args.only == "import":
        return main_import(args)
    if args.only == "disclosure":
        return main_disclosure(args)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not on the PATH. Fix: apt-get install -y wrk")
    work = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-register-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "riskplan.sqlite3"
    end = START + timedelta(days=DAYS)
    print(f"machine before: {_load()}, {os.cpu_count()} cores; data in {work}")
    if (
        not db.exists()
        or sqlite3.connect(db)
        .execute("SELECT count(*) FROM sqlite_master WHERE name = 'register_items'")
        .fetchone()[0]
        == 0
    ):
        n_events, gen_s = generate(db, args.items, args.seed, end)
        print(
            f"generate: {args.items:,} items, {n_events:,} events in {gen_s:.0f} s "
            f"({db.stat().st_size / 1e9:.1f} GB) (synthetic)"
        )
    check_sample(db, 300, args.seed)

    from service.api.accounts import create_account
    from service.store import SQLiteRegister

    reg = SQLiteRegister(db)
    _, dept_token = create_account(reg, role="department", unit=DEPARTMENTS[3], label="bench department")
    _, gov_token = create_account(
        reg, role="territorial_government", unit=f"{DISTRICTS[2]} government", label="bench government"
    )
    reg.close()
    # each district's government, as the synthetic items are handed over (DATA_DIR/governments.csv)
    rows = "".join(f"{d},,{d} government\n" for d in DISTRICTS)
    (work / "governments.csv").write_text("district,street,unit\n" + rows, encoding="utf-8")
    rng = np.random.default_rng(args.seed)
    paths = list_paths(rng, 600)
    tokens = (TOKEN, dept_token, gov_token)
    reqs = [(p, tokens[i % 3]) for i, p in enumerate(paths)]
    lists: list[tuple[int, tuple[int, float, float, float, int], float, str, float]] = []
    disclosure = []
    load_disc = ""
    for n_workers in args.workers:
        log = work / "server.log"
        url, proc = start_server(work, log, token=TOKEN, start_s=180.0, workers=n_workers)
        try:
            for p, tok in reqs[:30] * n_workers:  # warm up: token checks, page cache, every process
                r = httpx.get(url + p, headers={"Authorization": f"Bearer {tok}"}, timeout=60)
                if r.status_code != 200:
                    sys.exit(f"{p}: {r.status_code} {r.text[:300]}")
            pids = server_pids(proc)
            cpu0 = cpu_s(pids)
            figures = run_wrk(url, reqs, args.clients, args.duration, args.seed)
            cpu_ms = 1000 * (cpu_s(pids) - cpu0) / max(figures[0], 1)
            lists.append((n_workers, figures, cpu_ms, _load(), peak_rss_mb(pids)))
            if n_workers == args.workers[0]:
                for k in range(3):
                    for fmt, months in DISCLOSURE_MONTHS.items():
                        month = months[k]
                        t, cpu = time.perf_counter(), cpu_s(pids)
                        r = httpx.get(
                            f"{url}/api/v1/register/disclosure/{month}", params={"format": fmt}, timeout=300
                        )
                        used = cpu_s(pids) - cpu
                        disclosure.append(
                            (month, fmt, time.perf_counter() - t, r.status_code, len(r.content), used)
                        )
                load_disc = _load()
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    kept = kept_phase(db)
    runs, load_import, write_s = ({}, "", 0.0) if args.skip_import else import_phase(db, args)
    own, children = _rss_mb()

    print()
    print(
        f"filtered list, {args.clients} clients, {args.duration:g} s each (wrk -t1), "
        "admin / department / government:"
    )
    for n_workers, (requests, p50, p95, p99, errors), cpu_ms, load_list, rss in lists:
        print(
            f"  {n_workers} process(es): {requests:,} requests, {requests / args.duration:.0f} req/s, "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, {errors} errors; server CPU "
            f"{cpu_ms:.2f} ms per request; peak RSS {rss:,.0f} MB (all processes); {load_list}"
        )
        print(
            f"    target p95 <= {TARGET_LIST_P95_MS:.0f} ms: {p95 / TARGET_LIST_P95_MS:.2f} x the target -> "
            f"{'met' if p95 <= TARGET_LIST_P95_MS and not errors else 'NOT met'}"
        )
    base = lists[0]
    for n_workers, figures, _, _, _ in lists[1:]:
        print(
            f"  {n_workers} vs {base[0]} process(es): "
            f"{figures[0] / max(base[1][0], 1):.2f} x the throughput, "
            f"p95 {figures[2] / base[1][2]:.2f} x"
        )
    print(f"disclosure of a month, first request of the month (nothing cached; {load_disc}):")
    for month, fmt, sec, status, size, used in disclosure:
        print(
            f"  {month} {fmt:<7} {sec:6.2f} s (server CPU {used:5.2f} s)  HTTP {status}  {size / 1e3:,.0f} kB"
        )
    for fmt in DISCLOSURE_MONTHS:
        secs = [d[2] for d in disclosure if d[1] == fmt]
        cpus = [d[5] for d in disclosure if d[1] == fmt]
        print(
            f"  {fmt:<7} worst {max(secs):.2f} s, median {float(np.median(secs)):.2f} s; "
            f"server CPU worst {max(cpus):.2f} s"
        )
    worst = max(d[2] for d in disclosure)
    print(
        f"  target <= {TARGET_DISCLOSURE_S:.0f} s: worst {worst:.2f} s = "
        f"{worst / TARGET_DISCLOSURE_S:.2f} x -> "
        f"{'met' if worst <= TARGET_DISCLOSURE_S else 'NOT met'}"
    )
    print_kept(*kept)
    if runs:
        print_import(args.import_rows, runs, load_import, write_s)
    print(
        f"peak RSS: benchmark {own:,.0f} MB, servers {max(r[4] for r in lists):,.0f} MB "
        "(largest child, wrk included: "
        f"{children:,.0f} MB)"
    )
    if args.data_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
