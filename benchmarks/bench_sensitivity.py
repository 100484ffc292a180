"""How sure is this red: 10,000 samples on the demo city's communities, target <= 60 s.

Phases, each timed:

1. **score**: :func:`risk_models.score_scenario` on the demo city's communities, with response
   times from the road network (the baseline map; not part of the target).
2. **analyse**: :func:`risk_models.sensitivity.analyse_sensitivity` with ``--samples`` Sobol
   re-scorings (Morris screening on top): the array re-scorer's set-up (pairs and running sums per
   category) and every re-scoring. Target <= 60 s for 10,000.
3. **naive**: the same samples re-scored the obvious way, one ``score_scenario`` call per sample
   with the sample's figures as risk weights (``--naive`` samples, timed and extrapolated to the
   analysis's count), checked equal to the arrays' scores sample by sample, side by side.

The load average and peak RSS are printed with the figures.

    .venv/bin/python benchmarks/bench_sensitivity.py                    # 10,000 samples
    .venv/bin/python benchmarks/bench_sensitivity.py --samples 2000 --naive 5
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gis import demo_city, graph_from_lines  # noqa: E402
from planning import layer_coverage, reached_times  # noqa: E402
from risk_models import score_scenario  # noqa: E402
from risk_models.sensitivity import Rescorer, analyse_sensitivity, apply_parameters, uncertain_parameters  # noqa: E402

TARGET_S = 60.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000, help="Sobol re-scorings (default 10,000)")
    ap.add_argument("--naive", type=int, default=10, help="samples re-scored one score_scenario call each")
    ap.add_argument("--nodes", type=int, default=None, help="demo city road nodes (default: the demo's)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    city = demo_city() if args.nodes is None else demo_city(n_road_nodes=args.nodes)
    graph = graph_from_lines(city["roads"])
    table = layer_coverage(graph, city["fire_stations"], city["communities"], layer="communities")
    times = reached_times(table)
    t0 = time.perf_counter()
    res = score_scenario(city, learn=False, response_time_s=times)
    t_score = time.perf_counter() - t0
    print(f"demo city: {len(res.units)} communities, {len(res.inputs.hazards)} hazard sources; {_load()}")
    print(f"score     : {t_score:7.2f} s  (the baseline map)")

    t0 = time.perf_counter()
    sens = analyse_sensitivity(res, n_samples=args.samples, seed=args.seed)
    t_analyse = time.perf_counter() - t0
    kept = sens.parameters[sens.parameters["sobol"]]
    print(
        f"analyse   : {t_analyse:7.2f} s  {sens.n_evaluations:,} re-scorings ({len(sens.parameters)} figures "
        f"screened, {len(kept)} for Sobol); target <= {TARGET_S:.0f} s: "
        f"{'met' if t_analyse <= TARGET_S else 'NOT met'}"
    )

    # the naive peer: one score_scenario per sample, on the analysis's own figures
    cats = list(res.inputs.hazards["category"].unique())
    params, _ = uncertain_parameters(res.risk_weights, categories=cats, survey=False, response=True)
    rescorer = Rescorer(res, params)
    rng = np.random.default_rng(args.seed)
    draws = np.array([[rng.uniform(p.low, p.high) for p in params] for _ in range(args.naive)])
    fast = rescorer.scores(draws)
    worst = 0.0
    t0 = time.perf_counter()
    for k, values in enumerate(draws):
        slow = (
            score_scenario(
                city,
                learn=False,
                response_time_s=times,
                risk_weights=apply_parameters(res.risk_weights, params, values),
            )
            .units["score"]
            .to_numpy(float)
        )
        scale = max(float(np.abs(slow).max()), 1e-300)
        worst = max(worst, float(np.max(np.abs(fast[k] - slow)) / scale))
    t_naive = (time.perf_counter() - t0) / max(args.naive, 1)
    extrapolated = t_naive * sens.n_evaluations
    print(
        f"naive     : {t_naive:7.2f} s a sample (score_scenario each), {extrapolated:,.0f} s for "
        f"{sens.n_evaluations:,}; arrays {extrapolated / t_analyse:,.0f}x faster"
    )
    print(
        f"equality  : {args.naive} random samples of all {len(params)} figures, largest difference "
        f"{worst:.1e} of the largest score (the lattice is the baseline's: see the module notes)"
    )
    print(f"uncertain : {int(sens.units['uncertain'].sum())} of {len(sens.units)} units (no level >= 70%)")
    for line in sens.summary()[1:]:
        print(line)
    print(f"peak RSS {_rss_mb():,.0f} MB; {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
