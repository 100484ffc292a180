"""MEXCLP (HiGHS) against the same Daskin model in PuLP + CBC, and the response force at city size.

1. MEXCLP on uniform random instances in a 20 km square (radius 2,500 m, weights 1-1000, busy
   fraction 0.3, up to 2 units per site): riskplan's :func:`planning.location.mexclp` against
   Daskin's MILP written in PuLP and solved by CBC on the same matrix (time, expected covered
   weight, status, the speed-up), with MCLP's time on the same matrix beside it.
2. :func:`planning.concentration.response_force` on the demo city (``--nodes`` road nodes):
   chunked, cut off at the longest target, against the full station x community cost matrix
   (:func:`planning.travel.cost_matrix`) reduced the same way: time, equal answers, peak RSS of
   each in a child process.

    .venv/bin/python benchmarks/bench_force.py              # both sections (about a minute)
    .venv/bin/python benchmarks/bench_force.py --nodes 100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import numpy as np

Q = 0.3
RADIUS_M = 2500.0
CASES = [(1000, 100, 8), (2000, 200, 12)]  # demand rows, candidates, new units


def _instance(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 20_000, (n, 2))
    s = rng.uniform(0, 20_000, (m, 2))
    cost = np.hypot(d[:, None, 0] - s[None, :, 0], d[:, None, 1] - s[None, :, 1])
    return cost, rng.integers(1, 1001, n).astype(float)


def _pulp(
    cost: np.ndarray, w: np.ndarray, n_new: int, max_units: int, limit_s: float
) -> tuple[float, float, str]:
    import pulp

    t0 = time.perf_counter()
    a = cost <= RADIUS_M
    prob = pulp.LpProblem("mexclp", pulp.LpMaximize)
    x = [pulp.LpVariable(f"x{j}", 0, max_units, cat="Integer") for j in range(cost.shape[1])]
    terms = []
    for i in range(cost.shape[0]):
        cols = np.flatnonzero(a[i])
        if not len(cols):
            continue
        k_max = min(n_new, max_units * len(cols))
        y = [pulp.LpVariable(f"y{i}_{k}", 0, 1) for k in range(k_max)]
        prob += pulp.lpSum(y) <= pulp.lpSum(x[j] for j in cols)
        terms += [w[i] * (1 - Q) * Q**k * y[k] for k in range(k_max)]
    prob += pulp.lpSum(terms)
    prob += pulp.lpSum(x) == n_new
    prob.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=int(limit_s)))
    units = np.array([round(v.value() or 0) for v in x])
    n = a.astype(int) @ units
    return time.perf_counter() - t0, float(w @ (1 - Q**n)), pulp.LpStatus[prob.status]


def section_mexclp(seed: int) -> None:
    from planning.location import mclp, mexclp

    print(f"MEXCLP, busy fraction {Q}, radius {RADIUS_M:.0f} m, up to 2 units per site:")
    print(
        f"  {'case':<16} {'riskplan s':>10} {'CBC s':>8} {'ratio':>6} {'riskplan obj':>14} "
        f"{'CBC obj':>14} status  mclp s"
    )
    for n, m, k in CASES:
        cost, w = _instance(n, m, seed)
        t0 = time.perf_counter()
        res = mexclp(cost, w, RADIUS_M, k, busy_fraction=Q, max_units_per_site=2, time_limit_s=120)
        t_rp = time.perf_counter() - t0
        t0 = time.perf_counter()
        mclp(cost, w, RADIUS_M, k, time_limit_s=120)
        t_mclp = time.perf_counter() - t0
        t_cbc, obj_cbc, st_cbc = _pulp(cost, w, k, 2, 300)
        print(
            f"  {f'{n}x{m} p={k}':<16} {t_rp:>10.2f} {t_cbc:>8.2f} {t_cbc / t_rp:>5.1f}x "
            f"{res.expected_covered:>14.1f} "
            f"{obj_cbc:>14.1f} {res.location.status}/{st_cbc}  {t_mclp:.2f}"
        )


def _force_child(path: str, mode: str) -> None:
    from gis import load_scenario, scenario_graph
    from gis.executor import peak_rss_mb
    from planning.concentration import force_within, load_station_force, response_force, station_force
    from planning.travel import cost_matrix

    scenario = load_scenario(path)
    graph = scenario_graph(scenario, cache=True)
    st, com = scenario["fire_stations"], scenario["communities"]
    t0 = time.perf_counter()
    if mode == "chunked":
        f = response_force(graph, st, com, targets=["nfpa-1710"])
        crew = f["nfpa-1710_crew"].to_numpy()
    else:
        full = cost_matrix(graph, st, com)
        force = station_force(st)
        _, crew = force_within(
            full, force["units"], force["crew"], load_station_force()["targets"]["nfpa-1710"]["travel_s"]
        )
    print(
        json.dumps(
            {
                "s": time.perf_counter() - t0,
                "rss": peak_rss_mb(),
                "crew": crew.tolist(),
                "n": len(com),
                "st": len(st),
            }
        )
    )


def section_force(nodes: int) -> None:
    from gis import load_scenario, scenario_graph, write_demo_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = str(write_demo_scenario(f"{tmp}/demo.gpkg", n_road_nodes=nodes))
        scenario_graph(load_scenario(path), cache=True)  # build the cache once, outside the timings
        out = {}
        for mode in ("chunked", "full"):
            run = subprocess.run(
                [sys.executable, __file__, "--child", path, mode], capture_output=True, text=True, check=True
            )
            out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
    c, f = out["chunked"], out["full"]
    same = np.allclose(c["crew"], f["crew"])
    print(
        f"Response force, demo city {nodes:,} nodes, {c['st']} stations x {c['n']} communities "
        "(NFPA 1710 crew):"
    )
    print(f"  chunked response_force  {c['s']:7.2f} s  peak RSS {c['rss']:7.0f} MB")
    print(
        f"  full cost_matrix        {f['s']:7.2f} s  peak RSS {f['rss']:7.0f} MB  "
        f"ratio {f['s'] / c['s']:.2f}x, equal: {same}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--nodes", type=int, default=20_000)
    p.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _force_child(*args.child)
        return
    section_mexclp(args.seed)
    section_force(args.nodes)


if __name__ == "__main__":
    main()
