"""Network build time and peak memory: the array-native RoadGraph beside networkx-style builds.

Cases: the demo city at 100k and 1M road nodes (10k with ``--quick``), Taiyuan (GeoJSON lines)
and Chengdu (OSM XML) when ``../shared/data`` is there. For each input, side by side:

- ``RoadGraph``: the build (``graph_from_lines`` / ``graph_from_osm``), straight to arrays;
- ``+ to_networkx``: the same build followed by ``RoadGraph.to_networkx()`` (the osmnx-compatible
  MultiDiGraph on demand), its time and the peak memory with it;
- ``old pipeline``: the networkx builder of riskplan before issue 14 (revision
  :data:`BASELINE_REV`, exported with ``git archive`` to a temporary folder), on the same input;
- ``osmnx``: ``osmnx.graph_from_xml`` on the Chengdu XML.

``--osm [FILE ...]`` (the OSM files of ``../shared/data`` when none are named, or a province PBF of
``riskplan demo --province --osm``) measures only ``graph_from_osm``, straight from pyosmium's
stream to arrays, beside the shapely-line path it replaced (``read_osm_ways`` then
``graph_from_lines``), and checks the two graphs equal.

Every case runs in its own subprocess; its peak memory is the child's maximum resident set size
(``os.wait4`` rusage, so one case's peak is its own). ``prep s`` is making the input (the demo
city generator, or reading a line layer), ``build s`` the graph build (wall clock) and ``cpu s``
its CPU time, the figure to read on a busy machine (the build is single-threaded). Ratios are
old / new.
Targets (issue 14, 2 cores): 1M nodes <= 8 s and <= 1.5 GB peak (networkx builder: 31 s, 5.0 GB).

    .venv/bin/python benchmarks/bench_network.py            # 100k and 1M nodes, real data
    .venv/bin/python benchmarks/bench_network.py --quick    # 10k and 100k nodes
    .venv/bin/python benchmarks/bench_network.py --no-old   # skip the old pipeline
    .venv/bin/python benchmarks/bench_network.py --osm province.osm.pbf   # OSM: arrays vs lines
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
#: The last revision whose graph builder made networkx graphs (before the RoadGraph).
BASELINE_REV = "0928674"
TARGET_1M_S = 8.0
TARGET_1M_GB = 1.5

Result = dict[str, Any]


def _count(graph: Any) -> tuple[int, int]:
    if hasattr(graph, "n_nodes"):
        return graph.n_nodes, graph.n_edges
    return graph.number_of_nodes(), graph.number_of_edges()


def _digest(graph: Any) -> str:
    """SHA-256 of every array of a RoadGraph (equal graphs, equal digests)."""
    import dataclasses
    import hashlib

    import numpy as np
    import pandas as pd

    h = hashlib.sha256()
    for f in dataclasses.fields(graph):
        value = getattr(graph, f.name)
        if isinstance(value, pd.Categorical):
            h.update(np.asarray(value.codes).tobytes() + repr(list(value.categories)).encode())
        elif isinstance(value, np.ndarray):
            h.update(value.tobytes())
    return h.hexdigest()


def _osm_files() -> list[Path]:
    names = ("fixtures/aguascalientes.osm.pbf", "chengdu/chengdu_osm.osm.bz2")
    more = sorted((SHARED / "osm_more").glob("*.osm.*")) if SHARED.exists() else []
    return [p for p in (*(SHARED / n for n in names), *more) if p.exists()]


def osm_main(files: list[Path]) -> None:
    """``graph_from_osm`` (arrays) beside the shapely-line path, each file in its own subprocesses."""
    header = f"{'OSM file':<44} {'nodes':>9} {'edges':>10} {'build s':>8} {'cpu s':>7} {'peak MB':>8}"
    print(header)
    print("-" * len(header))
    for path in files or _osm_files():
        new = _spawn("osm", str(path))
        old = _spawn("osm-lines", str(path))
        for label, r in ((f"{path.name}: arrays (graph_from_osm)", new), ("  shapely lines (before)", old)):
            if "error" in r:
                print(f"{label:<44} error: {r['error']}")
                continue
            print(
                f"{label:<44} {r['nodes']:>9,} {r['edges']:>10,} {r['build_s']:>8.2f} "
                f"{r['build_cpu_s']:>7.2f} {r['peak_mb']:>8.0f}",
                flush=True,
            )
        if "error" not in new and "error" not in old:
            same = "equal graphs" if new["digest"] == old["digest"] else "GRAPHS DIFFER"
            print(
                f"  lines / arrays: {old['build_s'] / new['build_s']:.2f}x time, "
                f"{old['build_cpu_s'] / new['build_cpu_s']:.2f}x CPU, "
                f"{old['peak_mb'] / new['peak_mb']:.2f}x peak memory; {same}"
            )
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, arg: str, then_networkx: bool) -> Result:
    """Run inside the subprocess: build one network and report figures as JSON."""
    from gis.network import graph_from_lines, graph_from_osm

    out: Result = {}
    graph: Any
    if case in ("demo", "lines"):
        t0 = time.perf_counter()
        if case == "demo":
            from gis.demo import demo_city

            roads = demo_city(n_road_nodes=int(arg))["roads"]
        else:
            import geopandas as gpd

            from gis.io import gdal_path

            roads = gpd.read_file(gdal_path(Path(arg)), engine="pyogrio")
        out["prepare_s"] = time.perf_counter() - t0
        out["prepare_mb"] = _rss_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        graph = graph_from_lines(roads)
    elif case == "osm":
        t0, c0 = time.perf_counter(), time.process_time()
        graph = graph_from_osm(arg)
        out["digest"] = _digest(graph)
    elif case == "osm-lines":
        from gis.osm import read_osm_ways

        t0, c0 = time.perf_counter(), time.process_time()
        graph = graph_from_lines(read_osm_ways(arg), source=arg)
        out["digest"] = _digest(graph)
    elif case == "osmnx-xml":
        import osmnx as ox

        from gis.network import speed_table

        drivable = {k for k, v in speed_table()["highway"].items() if v.get("drivable", True)}
        t0, c0 = time.perf_counter(), time.process_time()
        graph = ox.graph_from_xml(arg, retain_all=True)  # every way in the file: keep drivable roads
        graph.remove_edges_from(
            [
                (u, v, k)
                for u, v, k, hw in graph.edges(keys=True, data="highway")
                if not set(hw if isinstance(hw, list) else [hw]) & drivable
            ]
        )
        graph = ox.truncate.largest_component(graph, strongly=True)
        graph = ox.routing.add_edge_travel_times(ox.routing.add_edge_speeds(graph, fallback=30.0))
    else:
        raise SystemExit(f"unknown case {case}")
    out["build_s"] = time.perf_counter() - t0
    out["build_cpu_s"] = time.process_time() - c0
    out["nodes"], out["edges"] = _count(graph)
    if then_networkx:
        t0, c0 = time.perf_counter(), time.process_time()
        nxg = graph.to_networkx()
        out["to_networkx_s"] = time.perf_counter() - t0
        out["to_networkx_cpu_s"] = time.process_time() - c0
        out["edges"] = nxg.number_of_edges()
    return out


def _spawn(case: str, arg: str, *, then_networkx: bool = False, pythonpath: Path = REPO) -> Result:
    """Run one case in a child process; its peak RSS is the child's own (``os.wait4``)."""
    cmd = [sys.executable, __file__, "--case", case, arg] + (["--then-networkx"] if then_networkx else [])
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {proc.returncode}"}
    result: Result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return result


def _export_baseline(rev: str, folder: Path) -> Path | None:
    """The tree of revision ``rev`` in ``folder`` (``git archive``), or None when git cannot."""
    proc = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=False)
    if proc.returncode != 0:
        print(f"note: cannot export revision {rev} ({proc.stderr.decode().strip()}); old pipeline skipped")
        return None
    with tarfile.open(fileobj=BytesIO(proc.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _row(label: str, r: Result) -> str:
    if "error" in r:
        return f"{label:<40} error: {r['error']}"
    extra = f"  (to_networkx {r['to_networkx_s']:.2f} s)" if "to_networkx_s" in r else ""
    return (
        f"{label:<40} {r['nodes']:>9,} {r['edges']:>10,} {r.get('prepare_s', 0):>7.2f} "
        f"{r['build_s'] + r.get('to_networkx_s', 0):>8.2f} "
        f"{r['build_cpu_s'] + r.get('to_networkx_cpu_s', 0):>6.2f} {r['peak_mb']:>8.0f}{extra}"
    )


def _ratio(label: str, new: Result | None, old: Result | None) -> None:
    if not new or not old or "error" in new or "error" in old:
        return
    t_old = old["build_s"] + old.get("to_networkx_s", 0)
    cpu_old = old["build_cpu_s"] + old.get("to_networkx_cpu_s", 0)
    print(
        f"  {label}: {t_old / new['build_s']:.1f}x faster ({cpu_old / new['build_cpu_s']:.1f}x in CPU "
        f"time), {old['peak_mb'] / new['peak_mb']:.1f}x less peak memory"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10k and 100k nodes instead of 100k and 1M")
    parser.add_argument("--no-old", action="store_true", help="skip the old networkx pipeline")
    parser.add_argument("--old-rev", default=BASELINE_REV, help="revision of the old pipeline")
    parser.add_argument(
        "--osm",
        nargs="*",
        type=Path,
        default=None,
        metavar="FILE",
        help="only OSM files: graph_from_osm beside the shapely-line path (default: ../shared/data's)",
    )
    parser.add_argument("--case", nargs=2, metavar=("CASE", "ARG"), help=argparse.SUPPRESS)
    parser.add_argument("--then-networkx", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], args.then_networkx)))
        return
    if args.osm is not None:
        osm_main(args.osm)
        return

    inputs: list[tuple[str, str, str]] = []
    sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000]
    inputs += [(f"demo city {n:,} nodes", "demo", str(n)) for n in sizes]
    taiyuan = SHARED / "taiyuan" / "roads_osm.geojson.gz"
    chengdu = SHARED / "chengdu" / "chengdu_osm.osm.bz2"
    if taiyuan.exists():
        inputs.append(("Taiyuan roads (GeoJSON lines)", "lines", str(taiyuan)))
    if chengdu.exists():
        inputs.append(("Chengdu OSM XML", "osm", str(chengdu)))
    if not SHARED.exists():
        print(f"note: {SHARED} not found; real-data cases skipped")

    with tempfile.TemporaryDirectory(prefix="riskplan-baseline-") as tmp:
        old_tree = None if args.no_old else _export_baseline(args.old_rev, Path(tmp))
        header = f"{'case':<40} {'nodes':>9} {'edges':>10} {'prep s':>7} {'build s':>8} {'cpu s':>6}"
        header += f" {'peak MB':>8}"
        print(header)
        print("-" * len(header))
        results: dict[str, dict[str, Result]] = {}
        for label, case, arg in inputs:
            row = results[label] = {}
            row["new"] = _spawn(case, arg)
            print(_row(f"{label}: RoadGraph", row["new"]), flush=True)
            row["nx"] = _spawn(case, arg, then_networkx=True)
            print(_row("  + to_networkx()", row["nx"]), flush=True)
            if old_tree is not None:
                row["old"] = _spawn(case, arg, pythonpath=old_tree)
                print(_row(f"  old pipeline ({args.old_rev}, networkx)", row["old"]), flush=True)
            if case == "osm":
                row["osmnx"] = _spawn("osmnx-xml", arg)
                print(_row("  osmnx graph_from_xml (peer)", row["osmnx"]), flush=True)

    print("\nold / new (build time, peak memory):")
    for label, row in results.items():
        _ratio(f"{label}, old pipeline", row.get("new"), row.get("old"))
        _ratio(f"{label}, RoadGraph + to_networkx", row.get("new"), row.get("nx"))
        _ratio(f"{label}, osmnx", row.get("new"), row.get("osmnx"))
    big = results.get("demo city 1,000,000 nodes", {}).get("new")
    if big and "error" not in big:
        ok_t, ok_m = big["build_s"] <= TARGET_1M_S, big["peak_mb"] / 1024 <= TARGET_1M_GB
        print(
            f"target 1M nodes: build {big['build_s']:.1f} s wall, {big['build_cpu_s']:.1f} s CPU "
            f"(<= {TARGET_1M_S:.0f} s: {'met' if ok_t else 'MISSED'}), peak "
            f"{big['peak_mb'] / 1024:.2f} GB (<= {TARGET_1M_GB} GB: {'met' if ok_m else 'MISSED'})"
        )
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
