"""Province coverage: every station, every road node, every 500 m cell, in one process and on Dask.

Times :func:`planning.analyse_coverage` on the synthetic demo province (about 3M road nodes and 317
stations; ``riskplan demo --province``), which takes the chunked path there (the stations x nodes
matrix, 7.6 GB, is never held). Each run is its own subprocess so that its peak memory (max RSS)
is its own; the scenario and graph load (from the graph cache) is timed apart from the coverage.
Prints wall s, CPU s, peak RSS and the per-stage timings (``timings_s``) of each run side by side
with the target (issue 14: <= 60 s in one process), then the Dask LocalCluster of 2 workers against
one process (ratio and identical results). The data is synthetic.

    .venv/bin/python benchmarks/bench_province_coverage.py                 # $RISKPLAN_PROVINCE or /tmp/prov
    .venv/bin/python benchmarks/bench_province_coverage.py --province DIR  # reuse (or generate) DIR
    .venv/bin/python benchmarks/bench_province_coverage.py --layers-only   # no isochrones, no districts
    .venv/bin/python benchmarks/bench_province_coverage.py --no-dask

The province is generated into the folder when it holds no ``scenario.toml`` (about 40 s, 1.3 GB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 60.0
TARGET_DASK_RATIO = 1.6
MEMORY_BOUND_GB = 9.0


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _digest(frames: dict[str, object]) -> str:
    """One hash of every layer's values: equal digests = identical results."""
    import pandas as pd

    h = hashlib.sha256()
    for name, gdf in frames.items():
        assert isinstance(gdf, pd.DataFrame)
        table = gdf.drop(columns="geometry", errors="ignore")
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(table.astype(str), index=True).to_numpy().tobytes())
    return h.hexdigest()[:16]


#: Steps of the coverage stage timed apart (wall seconds in the driver, summed over calls).
STEPS = {
    "road matrix": ("planning.response", "road_matrix"),
    "snap stations": ("planning.response", "_snap_stations"),
    "nearest (multi-source)": ("planning.travel", "RoadMatrix.nearest"),
    "area grid": ("planning.coverage", "area_grid"),
    "snap places": ("planning.response", "_snap_layers"),
    "reduce stations": ("planning.response", "_reduce_points"),
}


def _instrument() -> dict[str, float]:
    """Wrap the steps of :data:`STEPS` with timers (benchmark only); returns the running totals."""
    import functools
    import importlib

    spent = dict.fromkeys(STEPS, 0.0)
    for label, (module, attr) in STEPS.items():
        owner: Any = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        fn = getattr(owner, name)

        def timed(*a: Any, _fn: Any = fn, _label: str = label, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                spent[_label] += time.perf_counter() - t

        setattr(owner, name, functools.wraps(fn)(timed))
    return spent


def _threads() -> dict[str, str]:
    """The thread settings of numpy's BLAS and OpenMP in this process (env and threadpoolctl)."""
    out = {k: os.environ.get(k, "-") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        from threadpoolctl import threadpool_info

        out["threadpools"] = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info())
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        out["threadpools"] = "threadpoolctl not installed"
    return out


def run_case(
    folder: Path, workers: int, layers_only: bool, snap_on_workers: bool = False
) -> dict[str, object]:
    """Run inside the subprocess: load the province, analyse its coverage, report figures as JSON.

    In one process the places are snapped on the road lines' STRtree, built as part of the
    load (every snap uses it). On Dask (``snap_on_workers``) the driver never needs it: each
    worker gets its strip of the lines once and builds its tree there (``share_road_edges``),
    timed as the workers' set-up, and the snaps run there as tasks.
    """
    from gis import load_scenario, scenario_graph
    from gis.executor import open_executor, peak_rss_mb
    from planning import analyse_coverage
    from planning.snapping import share_road_edges

    spent = _instrument()
    t0 = time.perf_counter()
    scenario = load_scenario(folder / "scenario.toml")
    graph = scenario_graph(scenario)
    if not snap_on_workers:
        graph.edge_tree()  # the STRtree of the road lines, shared by every snap (built once per graph)
    load_s = time.perf_counter() - t0
    load_mb = peak_rss_mb()
    worker_mb: list[float] = []
    worker_cpu: list[float] = []
    setup_s = 0.0
    threads = {"driver": _threads()}
    with open_executor(workers=workers if workers > 1 else None) as ex:
        client = getattr(ex, "client", None)
        if client is not None:
            t = time.perf_counter()
            if snap_on_workers:
                share_road_edges(graph, ex)  # the graph's lines to each worker once, trees built there
            setup_s = time.perf_counter() - t
            threads["worker"] = next(iter(client.run(_threads).values()))
            cpu0 = client.run(time.process_time)
        t1, c1 = time.perf_counter(), _cpu_s()
        result = analyse_coverage(
            scenario,
            graph,
            cell_m=500.0,
            breaks_s=None if layers_only else (180.0, 300.0, 480.0),
            districts=not layers_only,
            executor=ex if workers > 1 else None,
        )
        wall_s, cpu_s = time.perf_counter() - t1, _cpu_s() - c1
        if client is not None:
            worker_cpu = [v - cpu0[k] for k, v in client.run(time.process_time).items()]
            worker_mb = sorted(client.run(peak_rss_mb).values())
    frames = {"communities": result.communities, "hazards": result.hazards, "area_units": result.area_units}
    if not layers_only:
        frames.update(isochrones=result.isochrones, districts=result.districts)
    units = result.area_units
    return {
        "workers": workers,
        "snap_on_workers": snap_on_workers,
        "nodes": graph.n_nodes,
        "stations": len(result.stations),
        "cells": len(units),
        "load_s": load_s,
        "load_mb": load_mb,
        "setup_s": setup_s,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "worker_cpu_s": worker_cpu,
        "steps_s": spent,
        "threads": threads,
        "timings_s": dict(result.timings_s),
        "peak_mb": peak_rss_mb(),
        "worker_peak_mb": worker_mb,
        "beyond_cells": int(units["second_beyond_cutoff"].sum()) if "second_beyond_cutoff" in units else 0,
        "covered_cells": float(units["covered"].mean()),
        "digest": _digest(frames),
        "loadavg": os.getloadavg(),
    }


def _spawn(folder: Path, workers: int, layers_only: bool, snap_on_workers: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--case", str(workers), "--province", str(folder)]
    if layers_only:
        cmd.append("--layers-only")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO, env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _province(folder: Path) -> Path:
    if (folder / "scenario.toml").exists():
        return folder
    from gis.demo import write_demo_province

    print(f"generating the synthetic province into {folder} (about 40 s) ...", flush=True)
    write_demo_province(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = os.environ.get("RISKPLAN_PROVINCE", "/tmp/prov")
    parser.add_argument("--province", type=Path, default=Path(default), help="province folder (reused)")
    parser.add_argument("--layers-only", action="store_true", help="skip the isochrones and districts")
    parser.add_argument("--no-dask", action="store_true", help="skip the 2-worker LocalCluster run")
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.province, args.case, args.layers_only, args.case > 1)))
        return
    folder = _province(args.province)
    what = "layers only" if args.layers_only else "layers, isochrones 3/5/8 min, districts"
    # with an executor the coverage snaps on the workers, each holding a strip of the road lines
    runs = [(1, False)] + ([] if args.no_dask else [(2, True)])
    results: dict[tuple[int, bool], dict[str, Any]] = {}
    for workers, on_workers in runs:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        label = "one process" if workers == 1 else f"{workers} Dask workers"
        label += ", each holding a strip of the road lines" if on_workers else ""
        print(f"[{label}] load average {load} on {os.cpu_count()} cores", flush=True)
        results[workers, on_workers] = r = _spawn(folder, workers, args.layers_only, on_workers)
        if "error" in r:
            print(f"  error: {r['error']}")
            continue
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["timings_s"].items())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["steps_s"].items())
        cpu = (
            f"; CPU on the workers {' + '.join(f'{c:.1f}' for c in r['worker_cpu_s'])} s"
            if r["worker_cpu_s"]
            else ""
        )
        setup = (
            f"; workers' set-up (a strip of the lines to each, its tree built there) {r['setup_s']:.1f} s"
            if on_workers
            else " (STRtree of the road lines built in the driver)"
        )
        print(
            f"  {r['nodes']:,} nodes, {r['stations']} stations, {r['cells']:,} cells of 500 m ({what})\n"
            f"  load {r['load_s']:.1f} s ({r['load_mb']:.0f} MB){setup}\n"
            f"  coverage {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU in the driver{cpu}; "
            f"peak RSS {r['peak_mb']:.0f} MB"
            + (
                f"; workers {', '.join(f'{w:.0f}' for w in r['worker_peak_mb'])} MB"
                if r["worker_peak_mb"]
                else ""
            )
            + f"\n  stages: {stages}\n  steps (driver wall): {steps}"
            + f"\n  threads: {r['threads']}"
            + f"\n  cells covered {r['covered_cells']:.1%}, second station beyond the "
            f"cut-off for {r['beyond_cells']:,} cells; digest {r['digest']}; load average after "
            + ", ".join(f"{v:.2f}" for v in r["loadavg"]),
            flush=True,
        )
    one = results.get((1, False), {})
    print()
    header = f"{'figure':<44} {'measured':>12} {'target':>12} {'':>7}"
    print(header)
    print("-" * len(header))
    if "wall_s" in one:
        wall, peak_gb = float(one["wall_s"]), float(one["peak_mb"]) / 1024
        verdict = "met" if wall <= TARGET_S else "MISSED"
        print(f"{'coverage, one process (s)':<44} {wall:>12.1f} {TARGET_S:>12.0f} {verdict:>7}")
        print(
            f"{'peak RSS, one process (GB)':<44} {peak_gb:>12.2f} {MEMORY_BOUND_GB:>12.0f} "
            f"{'met' if peak_gb <= MEMORY_BOUND_GB else 'MISSED':>7}"
        )
    for (workers, on_workers), two in results.items():
        if workers == 1 or "wall_s" not in one or "wall_s" not in two:
            continue
        how = " (snaps on workers)" if on_workers else ""
        ratio = float(one["wall_s"]) / float(two["wall_s"])
        same = one["digest"] == two["digest"]
        print(
            f"{'Dask 2 workers vs one process (x faster)' + how:<44} {ratio:>12.2f} "
            f"{TARGET_DASK_RATIO:>12.1f} "
            f"{'met' if ratio >= TARGET_DASK_RATIO else 'MISSED':>7}"
        )
        verdict = "met" if same else "MISSED"
        print(f"{'identical results (digest of every layer)':<44} {same!s:>12} {'True':>12} {verdict:>7}")
        whole_one = float(one["load_s"]) + float(one["wall_s"])
        whole_two = float(two["load_s"]) + float(two["setup_s"]) + float(two["wall_s"])
        print(
            f"{'load + set-up + coverage (x faster)':<44} {whole_one / whole_two:>12.2f} "
            f"{'':>12} {'':>7}  ({whole_one:.1f} s against {whole_two:.1f} s)"
        )
        total_cpu = float(two["cpu_s"]) + sum(two["worker_cpu_s"])
        free = max(*two["worker_cpu_s"], total_cpu / 2, float(two["cpu_s"]))
        print(
            f"{'coverage on 2 free cores, from CPU time (x)':<44} {float(one['cpu_s']) / free:>12.2f} "
            f"{'':>12} {'':>7}  (one process {float(one['cpu_s']):.1f} s CPU; "
            f"Dask {total_cpu:.1f} s CPU in all)"
        )


if __name__ == "__main__":
    main()
