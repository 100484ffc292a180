"""Network build time and peak memory: Taiyuan, Chengdu and demo cities of 10k-1M nodes.

Each case runs in its own subprocess so that peak memory (max RSS) is its own.
Prints one table; targets (2 cores): 100k nodes in <= 15 s and <= 2 GB.
osmnx is the named peer where it can read the same input (OSM XML).

    .venv/bin/python benchmarks/bench_network.py            # all cases
    .venv/bin/python benchmarks/bench_network.py --quick    # skip 1M nodes
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TARGET_100K_S = 15.0
TARGET_100K_GB = 2.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(case: str, arg: str) -> dict[str, float | int | str]:
    """Run inside the subprocess: build one network and report figures as JSON."""
    import networkx as nx

    from gis.network import graph_from_lines, graph_from_osm

    base_mb = _rss_mb()
    out: dict[str, float | int | str] = {}
    if case == "demo":
        from gis.demo import demo_city

        t0 = time.perf_counter()
        roads = demo_city(n_road_nodes=int(arg))["roads"]
        out["prepare_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        G = graph_from_lines(roads)
    elif case == "lines":
        import geopandas as gpd

        from gis.io import gdal_path

        t0 = time.perf_counter()
        roads = gpd.read_file(gdal_path(Path(arg)), engine="pyogrio")
        out["prepare_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        G = graph_from_lines(roads)
    elif case == "osm":
        t0 = time.perf_counter()
        G = graph_from_osm(arg)
    elif case == "osmnx-xml":
        import osmnx as ox

        from gis.network import speed_table

        drivable = {k for k, v in speed_table()["highway"].items() if v.get("drivable", True)}
        t0 = time.perf_counter()
        G = ox.graph_from_xml(arg, retain_all=True)  # every way in the file: keep drivable roads
        G.remove_edges_from(
            [
                (u, v, k)
                for u, v, k, hw in G.edges(keys=True, data="highway")
                if not set(hw if isinstance(hw, list) else [hw]) & drivable
            ]
        )
        G = ox.truncate.largest_component(G, strongly=True)
        G = ox.routing.add_edge_travel_times(ox.routing.add_edge_speeds(G, fallback=30.0))
    else:
        raise SystemExit(f"unknown case {case}")
    out["build_s"] = time.perf_counter() - t0
    out["nodes"] = G.number_of_nodes()
    out["edges"] = G.number_of_edges()
    out["peak_mb"] = _rss_mb()
    out["build_mb"] = out["peak_mb"] - base_mb
    out["strongly_connected"] = int(nx.is_strongly_connected(G)) if G.number_of_nodes() < 300_000 else -1
    return out


def _spawn(case: str, arg: str) -> dict[str, float | int | str]:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", case, arg],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the 1M-node city")
    parser.add_argument("--case", nargs=2, metavar=("CASE", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(*args.case)))
        return

    cases: list[tuple[str, str, str]] = []
    taiyuan = SHARED / "taiyuan" / "roads_osm.geojson.gz"
    chengdu = SHARED / "chengdu" / "chengdu_osm.osm.bz2"
    if taiyuan.exists():
        cases.append(("Taiyuan roads (GeoJSON lines)", "lines", str(taiyuan)))
    if chengdu.exists():
        cases.append(("Chengdu OSM XML, riskplan", "osm", str(chengdu)))
        cases.append(("Chengdu OSM XML, osmnx (peer)", "osmnx-xml", str(chengdu)))
    if not SHARED.exists():
        print(f"note: {SHARED} not found; real-data cases skipped")
    sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
    cases += [(f"demo city {n:,} nodes", "demo", str(n)) for n in sizes]

    header = (
        f"{'case':<34} {'nodes':>9} {'edges':>9} {'prep s':>7} {'build s':>8} {'build MB':>9} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    results = {}
    for label, case, arg in cases:
        r = _spawn(case, arg)
        results[label] = r
        if "error" in r:
            print(f"{label:<34} error: {r['error']}")
            continue
        print(
            f"{label:<34} {r['nodes']:>9,} {r['edges']:>9,} {r.get('prepare_s', 0):>7.2f} "
            f"{r['build_s']:>8.2f} {r['build_mb']:>9.0f} {r['peak_mb']:>8.0f}",
            flush=True,
        )
    ours, peer = (
        results.get("Chengdu OSM XML, riskplan"),
        results.get("Chengdu OSM XML, osmnx (peer)"),
    )
    if ours and peer and "error" not in ours and "error" not in peer:
        print(f"\nChengdu XML: osmnx / riskplan build time = {peer['build_s'] / ours['build_s']:.1f}x")
    r100 = results.get("demo city 100,000 nodes")
    if r100 and "error" not in r100:
        ok_t = r100["build_s"] <= TARGET_100K_S
        ok_m = r100["peak_mb"] / 1024 <= TARGET_100K_GB
        print(
            f"target 100k nodes: build {r100['build_s']:.1f} s (<= {TARGET_100K_S:.0f} s: "
            f"{'met' if ok_t else 'MISSED'}), peak {r100['peak_mb'] / 1024:.2f} GB "
            f"(<= {TARGET_100K_GB:.0f} GB: {'met' if ok_m else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
