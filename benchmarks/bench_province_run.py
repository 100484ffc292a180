"""``riskplan run`` on the demo province: wall time, CPU time, peak memory, stage times.

Generates the synthetic province (``riskplan demo --province --nodes N``, not timed; reused
from ``--keep DIR`` when it is there), then runs ``riskplan run SCENARIO --out DIR`` in a child
process under ``/usr/bin/time -v`` (peak RSS of the whole run, including any Dask workers it
starts when ``--workers`` is given: those are children of the run), and prints the figures
against the targets of issue 14 (2 cores): <= 600 s and <= 8 GB peak, with the time of every
stage from ``summary.json``. ``cpu s`` is the figure to compare on a busy machine, where the
wall time grows with the load; the load average is printed with it. Then the province map
(``map.html``) is opened in headless Chromium (as ``bench_maps.py`` does; skipped without
chromium and chromedriver, or with ``--no-browser``): its size and the time until every shown
layer is drawn, against the target of <= 5 s. The data is synthetic.

    .venv/bin/python benchmarks/bench_province_run.py                  # the 3M-node province
    .venv/bin/python benchmarks/bench_province_run.py --nodes 1000000  # a smaller one
    .venv/bin/python benchmarks/bench_province_run.py --nodes 200000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NODES = 3_000_000
TARGET_S = 600.0
TARGET_GB = 8.0
TARGET_MAP_S = 5.0
TIME = "/usr/bin/time"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.cli", "-q", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _province(folder: Path, nodes: int) -> Path:
    scenario = folder / "scenario.toml"
    if not scenario.exists():
        print(f"generating the demo province ({nodes:,} road nodes) in {folder} ...", flush=True)
        subprocess.run(
            _cli("demo", "--province", "--out", str(folder), "--nodes", str(nodes)), check=True, env=_env()
        )
    return scenario


def _time_v(stderr: str, field: str) -> float:
    m = re.search(rf"{re.escape(field)}: *([0-9.:]+)", stderr)
    if m is None:
        return float("nan")
    value = m.group(1)
    if ":" in value:  # h:mm:ss or m:ss.ss
        parts = [float(p) for p in value.split(":")]
        return sum(p * 60**k for k, p in enumerate(reversed(parts)))
    return float(value)


def main() -> int:
    """Run the benchmark; return the exit code of the run."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--nodes", type=int, default=DEFAULT_NODES, help=f"road nodes (default {DEFAULT_NODES:,})"
    )
    ap.add_argument("--keep", type=Path, default=None, help="folder of the province (kept, reused)")
    ap.add_argument("--workers", type=int, default=None, help="pass --workers N to `riskplan run`")
    ap.add_argument("--extra", default="", help="more arguments for `riskplan run`, quoted")
    ap.add_argument("--no-browser", action="store_true", help="do not open the map in Chromium")
    ap.add_argument("--out", type=Path, default=None, help="keep the run's outputs in this folder")
    args = ap.parse_args()
    if not Path(TIME).exists():
        print(f"{TIME} is needed for the peak memory (apt-get install time).", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench_province_run_"))
    try:
        folder = args.keep or tmp / "province"
        scenario = _province(folder, args.nodes)
        out = args.out or tmp / "run"
        cmd = _cli("run", str(scenario), "--out", str(out), *args.extra.split())
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        print("running:", " ".join(cmd), flush=True)
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        proc = subprocess.run([TIME, "-v", *cmd], capture_output=True, text=True, env=_env(), check=False)
        wall = time.perf_counter() - t0
        load_after = os.getloadavg()
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-4000:], sep="\n", file=sys.stderr)
            return proc.returncode
        peak_gb = _time_v(proc.stderr, "Maximum resident set size (kbytes)") / 1024**2
        cpu = _time_v(proc.stderr, "User time (seconds)") + _time_v(proc.stderr, "System time (seconds)")
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        print(
            f"\n`riskplan run` on the demo province: {summary['network']['nodes']:,} road nodes, "
            f"{summary['layers'].get('communities', 0):,} communities, "
            f"{len(summary.get('cities', {}))} cities, "
            f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before / {load_after[0]:.2f} after"
        )
        print(f"{'':24}{'measured':>12}{'target':>12}{'ratio':>8}")
        print(f"{'wall s':24}{wall:12.1f}{TARGET_S:12.0f}{wall / TARGET_S:8.2f}")
        print(f"{'cpu s (user + system)':24}{cpu:12.1f}{'':12}{'':8}")
        print(f"{'peak RSS GB':24}{peak_gb:12.2f}{TARGET_GB:12.0f}{peak_gb / TARGET_GB:8.2f}")
        print("stages (s):")
        for name, s in summary["timings_s"].items():
            print(f"  {name:<44}{s:10.1f}")
        ok = wall <= TARGET_S and peak_gb <= TARGET_GB
        page = out / "map.html"
        print(
            f"map.html: {page.stat().st_size / 1e6:.1f} MB, report.html: "
            f"{(out / 'report.html').stat().st_size / 1e6:.1f} MB"
        )
        names = ("network.gpkg", "network.npz", "network_main_roads.gpkg")
        network = [f for f in names if (out / f).exists()]
        print("network: " + ", ".join(f"{f} {(out / f).stat().st_size / 1e6:,.0f} MB" for f in network))
        if (
            not args.no_browser
            and shutil.which("chromedriver")
            and (shutil.which("chromium") or shutil.which("chromium-browser"))
        ):
            sys.path.insert(0, str(Path(__file__).parent))
            from bench_maps import _page_ready_s

            runs = [_page_ready_s(page) for _ in range(2)]
            best = min(r[0] for r in runs)
            drawn = {k: f"{v['drawn']}/{v['expected']}" for k, v in runs[0][1].items() if v["shown"]}
            print(
                f"map page ready (shown layers drawn): best {best:.2f} s of "
                f"{[round(r[0], 2) for r in runs]} (target <= {TARGET_MAP_S:.0f} s); drawn {drawn}"
            )
            ok = ok and best <= TARGET_MAP_S
        print(
            f"targets {'met' if ok else 'NOT met'} (<= {TARGET_S:.0f} s, <= {TARGET_GB:.0f} GB"
            f", map <= {TARGET_MAP_S:.0f} s)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
