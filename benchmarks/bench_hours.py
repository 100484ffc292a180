"""Re-weighting the road graph for an hour of the day, beside a full rebuild at the same speeds.

On the demo city at 1M road nodes (``--nodes`` to change), side by side:

- ``graph_at_hour``: :func:`gis.network.graph_at_hour` for the morning peak (08:00) and for the
  evening peak (18:00) with observed speeds on a tenth of the edges: new ``speed_kph`` and
  ``travel_time_s`` on the same arrays (best and median of ``--repeat`` runs);
- ``rebuild``: :func:`gis.graph_from_lines` from the road lines with every class speed times its
  factor at 08:00 (the peer: what re-weighting without the shared arrays would take);
- ``road_matrix``: the travel-time engine's sparse matrix of the hour's graph, which routing then
  builds once per hour in either case (shown for scale).

The hour's travel times are checked to equal the rebuilt graph's exactly. Peak memory is the
process's maximum resident set size after each step (the re-weighting is measured first, so its
peak is before the rebuild's). Target (issue 17, 2 cores): re-weighting for an hour on the 1M-node
graph <= 1 s. Run under the shared lock:

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_hours.py            # 1M nodes
    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_hours.py --nodes 100000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_S = 1.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000_000, help="demo city road nodes (default 1M)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each re-weighting (default 5)")
    args = parser.parse_args()

    from gis.demo import demo_city
    from gis.network import ObservedSpeeds, graph_at_hour, graph_from_lines, speed_profile_table
    from gis.tables import load_table
    from planning.travel import road_matrix

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    t0 = time.perf_counter()
    roads = demo_city(n_road_nodes=args.nodes)["roads"]
    prep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    G = graph_from_lines(roads)
    build_s = time.perf_counter() - t0
    print(f"demo city: {G.n_nodes:,} nodes, {G.n_edges:,} edges; lines {prep_s:.1f} s, build {build_s:.2f} s")
    base_mb = _rss_mb()

    rng = np.random.default_rng(17)
    picked = np.sort(rng.choice(G.n_edges, size=G.n_edges // 10, replace=False))
    observed = ObservedSpeeds(
        edge=picked,
        hour=np.full(len(picked), 18, dtype=np.int64),
        speed_kph=rng.uniform(8.0, 40.0, len(picked)),
        n_edges=G.n_edges,
        source="synthetic",
    )
    best8, med8, at8 = _timed(lambda: graph_at_hour(G, 8), args.repeat)
    best18, med18, _ = _timed(lambda: graph_at_hour(G, 18, observed=observed), args.repeat)
    reweight_mb = _rss_mb()
    t0 = time.perf_counter()
    road_matrix(at8)  # type: ignore[arg-type]
    matrix_s = time.perf_counter() - t0

    table = speed_profile_table()
    speeds = load_table("road_speeds")["highway"]
    classes, profiles, default = table["classes"], table["profiles"], table["defaults"]["profile"]
    over = {
        c: {"speed_kph": e["speed_kph"] * profiles[classes.get(c, default)]["factors"][8]}
        for c, e in speeds.items()
        if e["drivable"]
    }
    t0 = time.perf_counter()
    rebuilt = graph_from_lines(roads, road_speeds={"highway": over})
    rebuild_s = time.perf_counter() - t0
    rebuild_mb = _rss_mb()
    equal = bool(np.array_equal(rebuilt.travel_time_s, at8.travel_time_s))  # type: ignore[attr-defined]
    shared = at8.targets is G.targets and at8.geometry_xy is G.geometry_xy  # type: ignore[attr-defined]

    print()
    print(f"{'case':<46} {'best s':>8} {'median s':>9} {'peak RSS MB':>12}")
    rows = [
        ("graph_at_hour 08:00 (profiles)", best8, med8, f"{reweight_mb:,.0f}"),
        ("graph_at_hour 18:00 (+ observed on 10% edges)", best18, med18, f"{reweight_mb:,.0f}"),
        ("rebuild: graph_from_lines at 08:00 speeds", rebuild_s, rebuild_s, f"{rebuild_mb:,.0f}"),
        ("road_matrix of the hour's graph (for scale)", matrix_s, matrix_s, ""),
    ]
    for label, best, med, mb in rows:
        print(f"{label:<46} {best:>8.3f} {med:>9.3f} {mb:>12}")
    print()
    print(f"rebuild / re-weight: {rebuild_s / best8:,.0f}x; peak RSS before re-weighting {base_mb:,.0f} MB")
    print(f"travel times equal to the rebuilt graph's exactly: {equal}; topology arrays shared: {shared}")
    verdict = "met" if best8 <= TARGET_S and best18 <= TARGET_S else "NOT met"
    print(f"target <= {TARGET_S:.0f} s for {G.n_nodes:,} nodes: {verdict}")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
