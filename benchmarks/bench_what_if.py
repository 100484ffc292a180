"""What-if closures and the criticality ranking on the demo city, against full recomputes.

1. A closure's coverage difference (:func:`planning.what_if`, incremental: only the nodes below a
   closed edge of the nearest-station forest searched again) for each bridge, a flooded 1 km
   square in the centre, a station out of service and a temporary station, side by side with
   the same difference from a search of the whole changed graph (``method="full"``) and with the
   notebooks' way (:func:`planning.analyse_coverage` of ``graph.without_edges(...)``, layers
   only); equal answers checked. Target: <= 1 s on the 100k-node city.
2. The criticality ranking of every arterial segment (trunk / primary / secondary) and bridge
   (:func:`planning.criticality`) against the naive loop (one whole search per closure, timed on
   ``--naive`` segments and scaled up); equal figures on those segments. Target: <= 60 s.

Each section runs in a child process for its own peak RSS.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_what_if.py               # 100k nodes
    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_what_if.py --nodes 20000 --naive 50
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def _closures(path: str) -> None:
    import logging

    import geopandas as gpd
    import shapely

    from gis import load_scenario, scenario_graph
    from gis.executor import peak_rss_mb
    from planning.change import ScenarioChange
    from planning.coverage import analyse_coverage
    from planning.criticality import bridge_edges
    from planning.what_if import what_if, what_if_baseline

    logging.getLogger("planning").setLevel(logging.ERROR)
    sc = load_scenario(path)
    graph = scenario_graph(sc, cache=True)
    t0 = time.perf_counter()
    base = what_if_baseline(graph, sc["fire_stations"], sc["communities"])
    t_base = time.perf_counter() - t0
    cx, cy = np.median(graph.node_xy, axis=0)
    flood = gpd.GeoSeries([shapely.box(cx - 500, cy - 500, cx + 500, cy + 500)], crs=graph.crs)
    station = sc["fire_stations"].index[len(sc["fire_stations"]) // 2]
    corner = sc["communities"].geometry.iloc[int(np.argmax(base.response_s))]
    temp = gpd.GeoDataFrame({"id": ["T1"]}, geometry=[corner], crs=sc["communities"].crs, index=["T1"])
    cases = {f"bridge {n}": ScenarioChange(closed_names=(n,)) for n in bridge_edges(graph, sc["barriers"])}
    cases |= {
        "flooded 1 km square": ScenarioChange(closed_areas=flood),
        f"station {station} out": ScenarioChange(stations_out=(station,)),
        "temporary station": ScenarioChange(temporary_stations=temp),
    }
    rows = []
    for label, change in cases.items():
        what_if(base, change)  # warm
        t0 = time.perf_counter()
        inc = what_if(base, change)
        t_inc = time.perf_counter() - t0
        t0 = time.perf_counter()
        full = what_if(base, change, method="full")
        t_full = time.perf_counter() - t0
        same = np.array_equal(
            inc.communities["response_after_s"].to_numpy(), full.communities["response_after_s"].to_numpy()
        )
        scen = sc
        if change.stations_out or change.temporary_stations is not None:
            import dataclasses

            import pandas as pd

            st = sc["fire_stations"].drop(index=list(change.stations_out))
            if change.temporary_stations is not None:
                st = pd.concat([st, change.temporary_stations.to_crs(st.crs)])
            scen = dataclasses.replace(sc, layers={**sc.layers, "fire_stations": st})
        closed = change.closed_edge_positions(graph)
        t0 = time.perf_counter()
        g2 = graph.without_edges(closed) if len(closed) else graph
        ref = analyse_coverage(scen, g2, breaks_s=None, districts=False).communities
        t_nb = time.perf_counter() - t0
        near = np.allclose(
            ref["response_time_s"].to_numpy(),
            inc.communities["response_after_s"].to_numpy(),
            rtol=0,
            atol=1e-6,
        )
        rows.append(
            {
                "case": label,
                "inc": t_inc,
                "full": t_full,
                "nb": t_nb,
                "same": bool(same),
                "near": bool(near),
                "lost": inc.summary["resident_seconds_lost"],
                "losing": inc.summary["residents_losing_coverage"],
                "searched": inc.summary["nodes_searched"],
            }
        )
    print(json.dumps({"base": t_base, "rows": rows, "rss": peak_rss_mb(), "n": graph.n_nodes}))


def _criticality(path: str, naive: int) -> None:
    import logging

    from gis import load_scenario, scenario_graph
    from gis.executor import peak_rss_mb
    from planning.change import ScenarioChange
    from planning.criticality import bridge_edges, criticality, road_segments
    from planning.what_if import what_if, what_if_baseline

    logging.getLogger("planning").setLevel(logging.ERROR)
    sc = load_scenario(path)
    graph = scenario_graph(sc, cache=True)
    base = what_if_baseline(graph, sc["fire_stations"], sc["communities"])
    t0 = time.perf_counter()
    ranking = criticality(base, barriers=sc["barriers"])
    t_fast = time.perf_counter() - t0
    segs = road_segments(graph)
    n_br = len(bridge_edges(graph, sc["barriers"]))
    rng = np.random.default_rng(0)
    pick = rng.choice(len(segs), min(naive, len(segs)), replace=False)
    t0 = time.perf_counter()
    slow = []
    for i in pick:
        s = what_if(base, ScenarioChange(closed_edges=tuple(segs[i].tolist())), method="full").summary
        slow.append([s["residents_cut_off"], s["resident_seconds_lost"], s["residents_losing_coverage"]])
    t_naive = time.perf_counter() - t0
    by_edges = ranking.set_index("edges")
    fast = by_edges.loc[[",".join(map(str, segs[i].tolist())) for i in pick]]
    cols = ["residents_cut_off", "resident_seconds_lost", "residents_losing_coverage"]
    same = bool(np.array_equal(np.asarray(slow), fast[cols].to_numpy()))
    top = ranking.head(5)[["rank", "kind", "name", "highway", *cols]].to_dict("records")
    print(
        json.dumps(
            {
                "fast": t_fast,
                "naive": t_naive,
                "k": len(pick),
                "segments": len(segs),
                "bridges": n_br,
                "same": same,
                "searched": int((ranking["nodes_searched"] > 0).sum()),
                "rss": peak_rss_mb(),
                "top": top,
            }
        )
    )


def _child(*args: str) -> dict:
    run = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    out: dict = json.loads(run.stdout.strip().splitlines()[-1])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--naive", type=int, default=100, help="segments the naive loop is timed on (default 100)")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if args.child[0] == "closures":
            _closures(args.child[1])
        else:
            _criticality(args.child[1], int(args.child[2]))
        return
    from gis import load_scenario, scenario_graph, write_demo_scenario

    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(write_demo_scenario(f"{tmp}/demo.gpkg", n_road_nodes=args.nodes))
        scenario_graph(load_scenario(path), cache=True)  # build the cache once, outside the timings
        c = _child("closures", path)
        k = _child("criticality", path, str(args.naive))
    print(f"\n1. Closure difference, demo city {c['n']:,} nodes (baseline search {c['base']:.2f} s, once)")
    print(
        f"  {'case':<34} {'what_if':>8} {'full':>8} {'ratio':>6} {'notebook':>9} {'ratio':>7}  equal  "
        f"{'res-s lost':>12} {'losing':>8} {'searched':>9}"
    )
    for r in c["rows"]:
        print(
            f"  {r['case']:<34} {r['inc']:8.3f} {r['full']:8.3f} {r['full'] / r['inc']:5.1f}x {r['nb']:9.2f} "
            f"{r['nb'] / r['inc']:6.0f}x  {r['same'] and r['near']!s:<5} "
            f"{r['lost']:12,.0f} {r['losing']:8,.0f} "
            f"{r['searched']:9,.0f}"
        )
    worst = max(r["inc"] for r in c["rows"])
    print(
        f"  slowest what-if {worst:.3f} s: target <= 1 s "
        f"{'met' if worst <= 1 else 'NOT met'}; peak RSS {c['rss']:.0f} MB"
    )
    per = k["naive"] / k["k"]
    total = per * (k["segments"] + k["bridges"])
    print(f"\n2. Criticality: {k['segments']:,} arterial segments + {k['bridges']} bridges")
    print(
        f"  criticality()      {k['fast']:8.2f} s  ({k['searched']:,} "
        f"closures searched again)  peak RSS {k['rss']:.0f} MB"
    )
    print(
        f"  naive loop         {total:8.1f} s  (scaled from {k['k']} segments: {per * 1000:.1f} ms each)  "
        f"ratio {total / k['fast']:.0f}x, equal on those: {k['same']}"
    )
    print(f"  target <= 60 s: {'met' if k['fast'] <= 60 else 'NOT met'}")
    for row in k["top"]:
        print(
            f"    #{row['rank']} {row['kind']:<7} {row['name']!s:<26} {row['highway']!s:<10} cut off "
            f"{row['residents_cut_off']:>7,.0f}  res-s lost {row['resident_seconds_lost']:>14,.0f}  "
            f"losing {row['residents_losing_coverage']:>7,.0f}"
        )


if __name__ == "__main__":
    main()
