"""Demo-province generation time and peak memory: the default 3M-node province and smaller ones.

Each size runs in its own subprocess (:func:`gis.demo.write_demo_province`, as ``riskplan demo
--province`` runs it: generate, count, write the scenario folder) so that peak memory (max RSS) is its
own. Prints one table, the time of each generator stage for the largest size, and the target
for the default size (2 cores): <= 180 s and <= 4 GB. ``cpu s`` (user + system time of the
child) is the figure to compare on a busy machine, where wall time grows with the load. The data
is synthetic.

    .venv/bin/python benchmarks/bench_province.py            # 30k, 300k and 3M nodes
    .venv/bin/python benchmarks/bench_province.py --quick    # 30k and 300k only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NODES = 3_000_000
TARGET_S = 180.0
TARGET_GB = 4.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def run_case(n_road_nodes: int) -> dict[str, object]:
    """Run inside the subprocess: generate and write one province, report figures as JSON."""
    import pyogrio

    from gis.demo import write_demo_province

    base_mb = _rss_mb()
    stages: dict[str, float] = {}
    clock = {"name": "", "t": time.perf_counter()}

    def progress(name: str) -> None:
        now = time.perf_counter()
        if clock["name"]:
            stages[str(clock["name"])] = now - float(clock["t"])
        clock.update(name=name, t=now)

    t0, c0 = time.perf_counter(), _cpu_s()
    with tempfile.TemporaryDirectory() as d:
        toml = write_demo_province(Path(d) / "p", n_road_nodes=n_road_nodes, progress=progress)
        progress("")
        total_s, cpu_s = time.perf_counter() - t0, _cpu_s() - c0
        gpkg = toml.parent / "demo_province.gpkg"
        size_mb = gpkg.stat().st_size / 1e6
        table = pyogrio.read_dataframe(gpkg, layer="metadata", read_geometry=False)
        summary = json.loads(dict(zip(table["key"], table["value"], strict=True))["summary"])
    write_s = stages.get("writing", 0.0)
    return {
        "generate_s": total_s - write_s,
        "write_s": write_s,
        "total_s": total_s,
        "cpu_s": cpu_s,
        "stages_s": stages,
        "nodes": summary["road_nodes"],
        "lines": summary["road_lines"],
        "stations": summary["fire_stations"],
        "gpkg_mb": size_mb,
        "peak_mb": _rss_mb(),
        "base_mb": base_mb,
    }


def _spawn(n: int) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", str(n)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the default 3M-node province")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    sizes = [30_000, 300_000] + ([] if args.quick else [DEFAULT_NODES])
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores (wall time grows with it; cpu s does not)")
    header = (
        f"{'synthetic province':<22} {'nodes':>10} {'lines':>9} {'gen s':>7} {'write s':>8} "
        f"{'total s':>8} {'cpu s':>7} {'gpkg MB':>8} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    results: dict[int, dict[str, object]] = {}
    for n in sizes:
        r = _spawn(n)
        results[n] = r
        label = f"{n:,} nodes asked"
        if "error" in r:
            print(f"{label:<22} error: {r['error']}")
            continue
        print(
            f"{label:<22} {r['nodes']:>10,} {r['lines']:>9,} {r['generate_s']:>7.1f} {r['write_s']:>8.1f} "
            f"{r['total_s']:>8.1f} {r['cpu_s']:>7.1f} {r['gpkg_mb']:>8.0f} {r['peak_mb']:>8.0f}",
            flush=True,
        )
    largest = results[sizes[-1]]
    if "error" not in largest:
        stages = largest["stages_s"]
        assert isinstance(stages, dict)
        print(f"\nstages at {sizes[-1]:,} nodes: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    r = results.get(DEFAULT_NODES)
    if r and "error" not in r:
        total, peak_gb = float(str(r["total_s"])), float(str(r["peak_mb"])) / 1024
        print(
            f"target {DEFAULT_NODES:,} nodes: {total:.0f} s (<= {TARGET_S:.0f} s: "
            f"{'met' if total <= TARGET_S else 'MISSED'}), peak {peak_gb:.2f} GB "
            f"(<= {TARGET_GB:.0f} GB: {'met' if peak_gb <= TARGET_GB else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
