"""Benchmark of planning.reliability's workload and expected 90th-percentile response.

1. The approximation's dispatch fractions on uneven loads against the exact 2^N hypercube, for
   Larson's random placement, the conditional-Bernoulli law and the default (``auto``: the 2^N
   state chain up to 12 units), with the simulation beside; the state chain's time at 12 units.
2. :func:`planning.reliability.analyse_reliability` on the demo city (``--nodes`` road nodes,
   default 100,000): response times, call rates from the incidents, workload for the day and
   each hour, P90 table, concurrency; beside it the coverage analysis of the same city and a
   simulation of the same hypercube (busy fractions compared), each in its own process for
   its peak RSS.

Run (under the shared lock)::

    flock /tmp/bench.lock env PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_reliability.py
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


def _instance(seed: int, areas: int, units: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = np.linalg.norm(rng.random((areas, 1, 2)) - rng.random((1, units, 2)), axis=2)
    return rng.random(areas), np.argsort(d, axis=1)


def section_accuracy() -> None:
    from planning.reliability import approximate_hypercube, exact_hypercube, simulate_hypercube

    print("Dispatch fractions against the exact hypercube (max |gap|, percentage points):")
    print(
        f"  {'case':<22} {'busy range':>11} {'Larson':>8} {'conditional':>12} {'auto':>12} "
        f"{'simulation':>11} {'cond. s':>8} {'auto s':>8}"
    )
    for seed, units, load in ((3, 8, 0.2), (5, 8, 0.4), (6, 10, 0.3), (1, 10, 0.5)):
        rates, prefs = _instance(seed, 20, units)
        s = load * units / rates.sum()
        ex = exact_hypercube(rates, prefs, s)
        lar = approximate_hypercube(rates, prefs, s, method="larson")
        t0 = time.perf_counter()
        cond = approximate_hypercube(rates, prefs, s, method="conditional")
        t_c = time.perf_counter() - t0
        t0 = time.perf_counter()
        auto = approximate_hypercube(rates, prefs, s)
        t_a = time.perf_counter() - t0
        sim = simulate_hypercube(rates, prefs, s, calls=200_000, seed=1)
        gaps = [100 * np.abs(r.dispatch - ex.dispatch).max() for r in (lar, cond, auto, sim)]
        print(
            f"  {f'{units} units, load {load}':<22} {ex.busy.min():5.2f}-{ex.busy.max():4.2f} "
            f"{gaps[0]:8.2f} {gaps[1]:12.2f} {f'{gaps[2]:.2f} ({auto.method})':>12} {gaps[3]:11.2f} "
            f"{t_c:8.3f} {t_a:8.3f}"
        )
    rates, prefs = _instance(2, 150, 12)
    for label, service in (
        ("one service time", 0.4 * 12 / rates.sum()),
        ("service by area (Jarvis)", np.linspace(0.5, 2.0, 150) * 0.4 * 12 / rates.sum()),
    ):
        t0 = time.perf_counter()
        res = approximate_hypercube(rates, prefs, service)
        print(f"  12 units x 150 areas, {label}: {res.method} chain {time.perf_counter() - t0:.2f} s")
    rates, prefs = _instance(1, 2000, 64)
    t0 = time.perf_counter()
    approximate_hypercube(rates, prefs, 0.35 * 64 / rates.sum(), method="conditional")
    t_c = time.perf_counter() - t0
    t0 = time.perf_counter()
    approximate_hypercube(rates, prefs, 0.35 * 64 / rates.sum(), method="larson")
    print(f"  64 units x 2000 areas: conditional {t_c:.2f} s, Larson {time.perf_counter() - t0:.2f} s")


def _child(path: str, mode: str) -> None:
    from gis import load_scenario, scenario_graph
    from gis.executor import peak_rss_mb

    scenario = load_scenario(path)
    graph = scenario_graph(scenario, cache=True)
    t0 = time.perf_counter()
    out: dict[str, object] = {}
    if mode == "reliability":
        from planning.reliability import analyse_reliability

        rel = analyse_reliability(scenario, graph)
        w = rel.workload
        assert w is not None
        out = {
            "busy": w.hypercube.busy.tolist(),
            "city": rel.city,
            "units": int(w.unit_station.size),
            "stations": len(rel.station_workload),
            "communities": len(rel.communities),
            "incidents": len(scenario["incidents"]) if "incidents" in scenario else 0,
        }
    elif mode == "coverage":
        from planning.coverage import analyse_coverage

        analyse_coverage(scenario, graph, breaks_s=None, districts=False)
    out |= {"s": time.perf_counter() - t0, "rss": peak_rss_mb()}
    print(json.dumps(out))


def _simulate(path: str) -> tuple[float, np.ndarray]:
    """The same hypercube as analyse_reliability's day, simulated (200k calls)."""
    from gis import load_scenario, scenario_graph
    from planning.reliability import area_service_times, call_rates, response_units, simulate_hypercube
    from planning.travel import cost_matrix

    sc = load_scenario(path)
    g = scenario_graph(sc, cache=True)
    st, com = sc["fire_stations"], sc["communities"]
    rates = call_rates(sc["incidents"], com).sum(axis=1).to_numpy() / 24.0
    service = area_service_times(sc["incidents"], com).to_numpy() / 60.0
    units = response_units(st).to_numpy()
    t = cost_matrix(g, st, com)[:, np.repeat(np.arange(len(st)), units)]
    prefs = np.argsort(t, axis=1, kind="stable")
    t0 = time.perf_counter()
    sim = simulate_hypercube(rates, prefs, service, calls=200_000, seed=1)
    return time.perf_counter() - t0, sim.busy


def section_city(nodes: int) -> None:
    from gis import load_scenario, scenario_graph, write_demo_scenario

    with tempfile.TemporaryDirectory() as tmp:
        path = str(write_demo_scenario(f"{tmp}/demo.gpkg", n_road_nodes=nodes))
        scenario_graph(load_scenario(path), cache=True)  # the cache built once, outside the timings
        out = {}
        for mode in ("reliability", "coverage"):
            run = subprocess.run(
                [sys.executable, __file__, "--child", path, mode], capture_output=True, text=True, check=True
            )
            out[mode] = json.loads(run.stdout.strip().splitlines()[-1])
        sim_s, sim_busy = _simulate(path)
    r, c = out["reliability"], out["coverage"]
    gap = 100 * float(np.abs(np.asarray(r["busy"]) - sim_busy).max())
    city = r["city"]
    print(
        f"Demo city {nodes:,} nodes: {r['stations']} stations ({r['units']} response units), "
        f"{r['communities']} communities, {r['incidents']} incidents:"
    )
    print(
        f"  analyse_reliability (day + 24 hours, P90 table) {r['s']:7.2f} s  peak RSS {r['rss']:6.0f} MB; "
        f"expected coverage {city['expected_coverage']:.3f}, p90 {city['expected_response_p90_s']:.0f} s"
    )
    print(
        f"  analyse_coverage (no isochrones / districts)     {c['s']:7.2f} s  peak RSS {c['rss']:6.0f} MB; "
        f"ratio reliability / coverage {r['s'] / c['s']:.2f}"
    )
    print(
        f"  simulation of the same day (200k calls)          {sim_s:7.2f} s; worst busy gap {gap:.2f} points"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(*args.child)
        return
    print(f"load average {os.getloadavg()}")
    section_accuracy()
    section_city(args.nodes)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
