"""Benchmark of planning.reliability: the approximate hypercube at 200 units (target <= 5 s),
and on 10 units against the exact 2^N solver and the simulation, with peak RSS.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_hypercube.py`` (under ``flock /tmp/bench.lock``).
"""

import os
import resource
import time

import numpy as np

from planning.reliability import approximate_hypercube, exact_hypercube, simulate_hypercube


def instance(seed: int, areas: int, units: int, load: float) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    dist = np.linalg.norm(rng.random((areas, 1, 2)) - rng.random((1, units, 2)), axis=2)
    rates = rng.random(areas)
    return rates, np.argsort(dist, axis=1), load * units / rates.sum()


def main() -> None:
    print(f"load average {os.getloadavg()}")
    rates, prefs, service = instance(0, 40, 10, 0.35)
    timed = {}
    for name, fn in (
        ("exact", exact_hypercube),
        ("auto (state)", approximate_hypercube),
        ("conditional", lambda r, p, s: approximate_hypercube(r, p, s, method="conditional")),
        ("simulation", lambda r, p, s: simulate_hypercube(r, p, s, calls=200_000, seed=1)),
    ):
        t = time.perf_counter()
        timed[name] = (fn(rates, prefs, service), time.perf_counter() - t)
    ex = timed["exact"][0]
    print(f"{'10 units':12} {'seconds':>9} {'max |busy-exact| pp':>20} {'max |dispatch-exact| pp':>24}")
    for name, (res, sec) in timed.items():
        db = 100 * np.abs(res.busy - ex.busy).max()
        dd = 100 * np.abs(res.dispatch - ex.dispatch).max()
        print(f"{name:12} {sec:9.3f} {db:20.2f} {dd:24.2f}")
    rates, prefs, service = instance(1, 2000, 200, 0.35)
    t = time.perf_counter()
    big = approximate_hypercube(rates, prefs, service)
    sec = time.perf_counter() - t
    print(
        f"200 units, 2000 areas: approximate {sec:.2f} s (target 5 s, ratio {sec / 5:.2f}); "
        f"mean busy {big.busy.mean():.3f}; exact infeasible (2^200 states)"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
