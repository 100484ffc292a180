"""Dask benchmark: one process vs a LocalCluster of 2 worker processes on the same 2 cores.

(a) Coverage reduction: ``planning.parallel.reduce_sources`` (nearest / second station and the
    stations within 4 and 8 min for every road node) on the demo city (100k nodes; 1M with
    ``--big``) from ~300 stations, in chunks of 16, never the full nodes x stations matrix.
(b) Kernel density (``risk_models.kernel_density``) on every 500 m cell of a province-sized square
    from many hazard sources: untiled, the default tiles ("auto") and --tile-km tiles in process,
    the default call and the --tile-km call on Dask (each against its own in-process call and the
    best one), and a control without Dask: the default tiles' 8 tasks in 2 plain processes.

Prints the times, the speed-up (target >= 1.6x for 2 workers), whether results are identical, the
peak RSS of each worker (workers restarted between stages) and of the driver, and the per-chunk
costs (seconds and MB per chunk of k sources x n nodes, per tile) that docs/scale.md quotes.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_dask.py [--big] [--sources 300]
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import time
import tracemalloc
from typing import Any

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i
    return time.perf_counter() - t0


def calibrate() -> float:
    """How many times one busy process the machine runs two at once right now (2.0 = two free cores)."""
    from multiprocessing import get_context

    n = 4_000_000
    one = _spin(n)
    with get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])
        t0 = time.perf_counter()
        pool.map(_spin, [n, n])
        two = time.perf_counter() - t0
    return 2 * one / two


def warm(ex: Any, module: str) -> None:
    """Restart the workers (fresh peak RSS) and import ``module`` on them: a one-off start-up cost."""
    ex.client.restart()
    c0 = ex.worker_cpu_s()
    wall, _ = _timed(lambda: ex.client.run(importlib.import_module, module))
    cpu = [v - c0[k] for k, v in ex.worker_cpu_s().items()]
    print(f"    workers restarted; import {module} on them: {wall:.2f} s wall, {max(cpu):.2f} s CPU, once")


def compare(
    ex: Any, label: str, one: Any, on_dask: Any, best: tuple[str, float] | None = None
) -> tuple[Any, Any, float]:
    """Run ``one()`` in process and ``on_dask()`` on the cluster; print wall and CPU figures."""
    c0 = time.process_time()
    one_s, ref = _timed(one)
    one_cpu = time.process_time() - c0
    w0, d0 = ex.worker_cpu_s(), time.process_time()
    dask_s, got = _timed(on_dask)
    d_cpu = time.process_time() - d0
    w_cpu = [v - w0[k] for k, v in ex.worker_cpu_s().items()]
    # wall time on 2 free cores: the busiest worker, or all the CPU (workers + driver) shared by 2 cores
    free = max(*w_cpu, (sum(w_cpu) + d_cpu) / 2)
    print(f"    one process {label:<14} {one_s:7.2f} s wall, {one_cpu:7.2f} s CPU")
    print(
        f"    Dask 2 workers {'':<11} {dask_s:7.2f} s wall; "
        f"CPU: workers {' + '.join(f'{c:.2f}' for c in w_cpu)} s, driver+scheduler {d_cpu:.2f} s"
    )
    print(
        f"    speed-up {one_s / dask_s:.2f}x wall (on this machine now); "
        f"{one_cpu / free:.2f}x on 2 free cores from CPU time (target >= 1.6x)"
    )
    if best is not None:
        ratio = best[1] / dask_s
        print(f"    against the best one-process call ({best[0]}, {best[1]:.2f} s): {ratio:.2f}x wall")
    return ref, got, one_cpu


def _city_engine(n_nodes: int) -> tuple[Any, Any, float]:
    from gis import demo_city, graph_from_lines
    from planning.parallel import CsgraphEngine
    from planning.travel import road_matrix

    t0 = time.perf_counter()
    city = demo_city(n_road_nodes=n_nodes)
    m = road_matrix(graph_from_lines(city["roads"]))
    build_s = time.perf_counter() - t0
    del city
    return m, CsgraphEngine.from_road_matrix(m), build_s


def _chunk_cost(engine: Any, sources: np.ndarray, k: int, thresholds: tuple[float, ...]) -> dict[str, float]:
    """CPU seconds (search, reduction) and peak MB of one chunk of ``k`` sources (CPU: robust to load)."""
    from planning.parallel import reduce_chunk

    chunk = sources[:k]
    c0 = time.process_time()
    chunk_times = engine.times(chunk)
    c1 = time.process_time()
    reduce_chunk(chunk_times, 0, thresholds)
    c2 = time.process_time()
    chunk_times = None
    tracemalloc.start()
    reduce_chunk(engine.times(chunk), 0, thresholds)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"search_s": c1 - c0, "reduce_s": c2 - c1, "peak_mb": peak / 1e6}


def stage_reduction(ex: Any, n_nodes: int, n_sources: int, chunk: int) -> None:
    from planning.parallel import CsgraphEngine, reduce_sources

    m, engine, build_s = _city_engine(n_nodes)
    n = m.n_nodes
    main = np.flatnonzero(m.component == m.main_component)
    sources = np.sort(np.random.default_rng(7).choice(main, n_sources, replace=False))
    th = (240.0, 480.0)
    print(
        f"\n(a) coverage reduction: demo city {n:,} nodes (built in {build_s:.1f} s), {n_sources} stations,"
    )
    print(
        f"    chunks of {chunk} sources, thresholds {th} s; "
        f"the full matrix would be {n * n_sources * 8 / 1e6:,.0f} MB"
    )
    warm(ex, "planning.parallel")
    ref, got, _ = compare(
        ex,
        "",
        lambda: reduce_sources(engine, sources, thresholds=th, chunk_size=chunk),
        lambda: reduce_sources(engine, sources, thresholds=th, chunk_size=chunk, executor=ex),
    )
    rss = ex.worker_peak_rss_mb()
    print(f"    identical results: {got.equals(ref)}")
    print(f"    worker peak RSS: {', '.join(f'{v:,.0f} MB' for v in rss.values())}")
    print(
        f"    engine (CSR) scattered once: {engine.csr.data.nbytes + engine.csr.indices.nbytes:,} B of edges"
    )
    for k in (1, chunk):
        c = _chunk_cost(engine, sources, k, th)
        per = (c["search_s"] + c["reduce_s"]) / (k * n) * 1e9
        print(
            f"    per chunk of k={k:>2} x n={n:,}: search {c['search_s']:.3f} s CPU "
            f"+ reduce {c['reduce_s']:.3f} s, peak {c['peak_mb']:,.0f} MB ({per:.1f} ns per source-node)"
        )
    cut = CsgraphEngine(engine.csr, cutoff=1800.0)
    c = _chunk_cost(cut, sources, chunk, th)
    reach = np.isfinite(cut.times(sources[:chunk])).sum(axis=0).mean()
    print(
        f"    with a 30 min cutoff: chunk of {chunk} in {c['search_s']:.3f} s + {c['reduce_s']:.3f} s CPU, "
        f"{reach:,.0f} nodes reached per source"
    )


def _density_case(side_km: float, n_sources: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    side = side_km * 1000
    xs = np.arange(250.0, side, 500.0)
    gx, gy = np.meshgrid(xs, xs)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    parks = rng.uniform(0, side, (400, 2))
    n_c = n_sources // 2
    clustered = parks[rng.integers(0, 400, n_c)] + rng.normal(0, 2500, (n_c, 2))
    src = np.vstack([clustered, rng.uniform(0, side, (n_sources - n_c, 2))])
    return src, rng.uniform(0.5, 50.0, len(src)), cells


def stage_density(ex: Any, side_km: float, n_sources: int, h: float, tile_km: float) -> None:
    from risk_models.density import _tiles, kernel_density

    src, w, cells = _density_case(side_km, n_sources)
    tile = tile_km * 1000
    print(
        f"\n(b) kernel density: {len(cells):,} cells of 500 m ({side_km:g} km square), {len(src):,} sources, "
        f"bandwidth {h:g} m; tiles 'auto' ({10 * h / 1000:g} km, the default) and {tile_km:g} km"
    )
    warm(ex, "risk_models.density")
    one: dict[str, tuple[float, float, np.ndarray]] = {}
    for label, kw in (("untiled", {"tile_m": None}), ("auto", {}), (f"{tile_km:g} km", {"tile_m": tile})):
        c0 = time.process_time()
        wall, d = _timed(lambda kw=kw: kernel_density(src, cells, bandwidth_m=h, source_weights=w, **kw))
        one[label] = (wall, time.process_time() - c0, d)
        print(f"    one process, {label:<10} {wall:7.2f} s wall, {one[label][1]:7.2f} s CPU")
    best = min(one, key=lambda k: one[k][0])
    print(f"    best in one process: {best}")
    ref = one["untiled"][2]
    for label, kw in (("auto", {}), (f"{tile_km:g} km", {"tile_m": tile})):
        _, got, _ = compare(
            ex,
            label,
            lambda kw=kw: kernel_density(src, cells, bandwidth_m=h, source_weights=w, **kw),
            lambda kw=kw: kernel_density(src, cells, bandwidth_m=h, source_weights=w, executor=ex, **kw),
            best=(best, one[best][0]),
        )
        rel = float(np.max(np.abs(got - ref) / np.where(ref > 0, ref, 1.0)))
        print(
            f"    identical to {label} in process: {np.array_equal(got, one[label][2])}; "
            f"max relative difference to untiled {rel:.1e}"
        )
    rss = ex.worker_peak_rss_mb()
    print(f"    worker peak RSS: {', '.join(f'{v:,.0f} MB' for v in rss.values())}")
    plain_processes(src, w, cells, h)
    for label, side in (("auto", 10 * h), (f"{tile_km:g} km", tile)):
        tiles = _tiles(src[np.argsort(src[:, 0], kind="stable")], cells, side, h)
        n_halo = np.array([t[3] for t in tiles])
        n_tgt = np.array([len(t[0]) for t in tiles])
        print(
            f"    per tile ({label}): {len(tiles)} tiles, {n_tgt.mean():,.0f} cells and {n_halo.mean():,.0f} "
            f"halo sources on average, {one[label][1] / len(tiles) * 1e3:.1f} ms CPU each in process"
        )


def _run_tasks(tasks: list[tuple[Any, ...]]) -> float:
    from risk_models.density import _density_tiles

    c0 = time.process_time()
    for t in tasks:
        _density_tiles(*t)
    return time.process_time() - c0


def plain_processes(src: np.ndarray, w: np.ndarray, cells: np.ndarray, h: float) -> None:
    """The ceiling without Dask: the same 8 tasks of the default tiles, here and on 2 plain processes."""
    from multiprocessing import get_context

    from risk_models.density import _tile_tasks

    tasks, _ = _tile_tasks(src, w, cells, side=10 * h, h=h, n_tasks=8)
    jobs = [(*t, (h, "epanechnikov", 250_000)) for t in tasks]
    one_s, one_cpu = _timed(lambda: _run_tasks(jobs))
    with get_context("spawn").Pool(2) as pool:
        pool.map(_run_tasks, [[], []])  # started and imported
        two_s, cpus = _timed(lambda: pool.map(_run_tasks, [jobs[0::2], jobs[1::2]]))
    print(
        f"    control without Dask, the 8 tasks: here {one_s:.2f} s wall ({one_cpu:.2f} s CPU); "
        f"2 plain processes {two_s:.2f} s wall (CPU {' + '.join(f'{c:.2f}' for c in cpus)} s): "
        f"{one_s / two_s:.2f}x wall, {one_cpu / max(cpus):.2f}x from CPU time"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="also the 1M-node demo city")
    ap.add_argument("--nodes", type=int, default=100_000, help="road nodes of the demo city of (a)")
    ap.add_argument("--sources", type=int, default=300)
    ap.add_argument("--chunk", type=int, default=16)
    ap.add_argument("--side-km", type=float, default=400.0)
    ap.add_argument("--density-sources", type=int, default=1_000_000)
    ap.add_argument("--bandwidth-m", type=float, default=2000.0)
    ap.add_argument("--tile-km", type=float, default=25.0)
    ap.add_argument("--stages", default="reduction,density", help="comma-separated: reduction, density")
    args = ap.parse_args()
    stages = set(args.stages.split(","))

    from gis.executor import open_executor

    load = os.getloadavg()[0]
    print(
        f"machine now: load average {load:.1f} on {os.cpu_count()} CPUs; two busy processes run at "
        f"{calibrate():.2f}x one (2.00 = two free cores)"
    )
    t0 = time.perf_counter()
    with open_executor(workers=2) as ex:
        print(f"LocalCluster of 2 worker processes x 1 thread started in {time.perf_counter() - t0:.1f} s")
        if "reduction" in stages:
            stage_reduction(ex, args.nodes, args.sources, args.chunk)
            if args.big:
                stage_reduction(ex, 1_000_000, args.sources, args.chunk)
        if "density" in stages:
            stage_density(ex, args.side_km, args.density_sources, args.bandwidth_m, args.tile_km)
    print(f"\ndriver peak RSS {_rss_mb():,.0f} MB (graph builds included)")
    print(f"machine after: load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
