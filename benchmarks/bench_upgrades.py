"""Upgrade priority under a budget at city scale: the HiGHS knapsack beside the greedy ratio heuristic.

A synthetic survey (labelled synthetic, tests/upgrade_factory.py) of 10,000 communities x 60
items (the 18 items of issue 16 and 42 synthetic ones with measures of their own), the failed
items drawn so that there are exactly 50,000 candidate measures. Then, in one process:

1. ``upgrade_candidates``: items -> priced candidates (time);
2. ``plan_upgrades`` with a budget of ``--budget-share`` of what fixing every failed item the
   cheapest way would cost, ``mip_gap`` 0.5 %, time limit 30 s: objective, proven bound, gap,
   LP bound, time; the greedy ratio heuristic beside it (objective, time, and its own gap
   against the MILP's bound). Targets: gap <= 0.5 % within 30 s;
3. the peers of riskplan's own parts, side by side: HiGHS's simplex on the LP relaxation (the
   bound riskplan computes by the convex-hull method) and HiGHS on the whole MILP, without the
   fixing, under the same limit (``--no-full-milp`` skips it);
4. ``scores_after_upgrades`` and ``choose_demonstration`` (100 communities, proportional
   quotas per district, street and community type): time and residents reached.

Peak RSS of the process and the load average are printed with the figures.

    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_upgrades.py
    flock /tmp/bench.lock .venv/bin/python benchmarks/bench_upgrades.py --budget-share 0.05 --seed 3
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import upgrade_factory as uf  # noqa: E402

from gis.executor import peak_rss_mb  # noqa: E402
from planning._knapsack import knapsack_model, lp_relaxation  # noqa: E402
from planning.location._milp import MilpModel, solve_milp  # noqa: E402
from planning.location._result import relative_gap  # noqa: E402
from planning.upgrades import (  # noqa: E402
    choose_demonstration,
    load_upgrade_measures,
    plan_upgrades,
    scores_after_upgrades,
    upgrade_candidates,
)


def failed_mask(n: int, per_item: np.ndarray, n_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """Communities x items failed so that the failed items carry exactly ``n_candidates`` measures."""
    m = len(per_item)
    order = rng.permutation(n * m)
    counts = per_item[order % m]
    total = np.cumsum(counts)
    head = int(np.searchsorted(total, n_candidates, side="right"))
    pick = list(order[:head])
    left = n_candidates - (int(total[head - 1]) if head else 0)
    for pos in order[head:]:
        if left == 0:
            break
        if per_item[pos % m] <= left:
            pick.append(pos)
            left -= int(per_item[pos % m])
    if left:
        msg = f"could not draw exactly {n_candidates} candidates"
        raise SystemExit(msg)
    mask = np.zeros(n * m, dtype=bool)
    mask[np.asarray(pick)] = True
    return mask.reshape(n, m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--communities", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=60, help="items per survey (18 standard + synthetic)")
    ap.add_argument("--candidates", type=int, default=50_000)
    ap.add_argument("--budget-share", type=float, default=0.2)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--gap", type=float, default=0.005)
    ap.add_argument("--demonstration", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pass-mark", type=float, default=95.0, help="pass mark of the synthetic standard")
    ap.add_argument("--no-full-milp", action="store_true", help="skip HiGHS on the whole model")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    extra = args.items - len(uf.STANDARD_ITEMS)
    measures = load_upgrade_measures(uf.extra_measures(extra))
    table = uf.item_table(extra)
    per_item = np.array([len(measures.for_item(i)) for i in table["item"]])
    rng = np.random.default_rng(args.seed)
    comms = uf.communities(args.communities, seed=args.seed)
    mask = failed_mask(len(comms), per_item, args.candidates, rng)
    items, scores = uf.survey(comms, extra_items=extra, seed=args.seed, failed_mask=mask)
    print(
        f"synthetic survey: {len(comms):,} communities x {len(table)} items = {len(items):,} item rows, "
        f"{int(mask.sum()):,} failed (load average {load0:.2f})",
        flush=True,
    )

    t = time.perf_counter()
    cand = upgrade_candidates(items, comms, measures)
    t_cand = time.perf_counter() - t
    cheapest = float(cand.groupby("group")["cost_cny"].min().sum())
    budget = args.budget_share * cheapest
    print(
        f"upgrade_candidates: {len(cand):,} candidates in {cand['group'].nunique():,} groups, {t_cand:.2f} s"
    )
    print(
        f"budget: {args.budget_share:.0%} of {cheapest:,.0f} CNY (every failed item, cheapest measure) "
        f"= {budget:,.0f} CNY"
    )

    plan = plan_upgrades(cand, budget, time_limit_s=args.time_limit, mip_gap=args.gap)
    greedy_gap = relative_gap(plan.greedy_objective, plan.bound)
    print()
    print(f"{'':24s} {'objective':>14s} {'gap vs bound':>12s} {'budget used CNY':>16s} {'time s':>8s}")
    print(
        f"{'riskplan plan_upgrades':24s} {plan.objective:14,.2f} {plan.gap:12.4%} "
        f"{plan.budget_used_cny:16,.0f} {plan.wall_time_s:8.2f}"
    )
    print(
        f"{'greedy ratio heuristic':24s} {plan.greedy_objective:14,.2f} {greedy_gap:12.4%} "
        f"{plan.greedy_budget_used_cny:16,.0f} {plan.greedy_time_s:8.2f}"
    )
    print(
        f"proven bound {plan.bound:,.2f}, LP bound {plan.lp_bound:,.2f}; status {plan.status}; "
        f"plan / greedy objective {plan.objective / max(plan.greedy_objective, 1e-12):.5f}; "
        f"time plan / greedy {plan.wall_time_s / max(plan.greedy_time_s, 1e-9):.1f}x "
        "(the plan's time includes "
        f"the greedy); HiGHS {plan.milp_time_s:.2f} s; solver {plan.solver}"
    )
    ok = plan.gap <= args.gap + 1e-12 and plan.wall_time_s <= args.time_limit
    print(
        f"target gap <= {args.gap:.1%} in <= {args.time_limit:g} s: {'met' if ok else 'NOT met'} "
        f"(gap {plan.gap:.4%}, {plan.wall_time_s:.2f} s for the whole call, LP bound included)"
    )
    for note in plan.notes:
        print(f"  note: {note}")

    cost, value = cand["cost_cny"].to_numpy(), cand["risk_reduction"].to_numpy()
    group = cand["group"].to_numpy().astype(np.intp)
    t = time.perf_counter()
    lp = lp_relaxation(cost, value, group, budget)
    t_hull = time.perf_counter() - t
    model = knapsack_model(cost, value, group, budget)
    relaxed = MilpModel(
        model.c,
        model.matrix,
        model.row_lb,
        model.row_ub,
        model.col_lb,
        model.col_ub,
        np.zeros(len(cost), bool),
    )
    t = time.perf_counter()
    highs_lp = solve_milp(relaxed, maximize=True, time_limit_s=120.0, mip_gap=0.0)
    t_highs_lp = time.perf_counter() - t
    print()
    print(
        f"LP relaxation: convex hull {lp.bound:,.4f} in {t_hull:.3f} s; "
        f"HiGHS simplex {highs_lp.objective:,.4f} "
        f"in {t_highs_lp:.2f} s ({highs_lp.status}); relative difference "
        f"{abs(lp.bound - highs_lp.objective) / max(abs(highs_lp.objective), 1e-12):.1e}; "
        f"speed-up {t_highs_lp / max(t_hull, 1e-9):.0f}x"
    )
    if not args.no_full_milp:
        t = time.perf_counter()
        full = solve_milp(model, maximize=True, time_limit_s=args.time_limit, mip_gap=args.gap, start=None)
        t_full = time.perf_counter() - t
        obj = float(value[full.x > 0.5].sum()) if full.x is not None else float("nan")
        print(
            f"HiGHS on the whole MILP (no fixing, no warm start): objective {obj:,.2f}, bound "
            f"{full.bound:,.2f}, gap {relative_gap(obj, full.bound):.4%}, {full.status}, {t_full:.2f} s; "
            f"riskplan {plan.wall_time_s:.2f} s ({t_full / max(plan.wall_time_s, 1e-9):.1f}x faster)"
        )

    t = time.perf_counter()
    after = scores_after_upgrades(scores, items, plan, pass_mark=args.pass_mark)
    t_after = time.perf_counter() - t
    t = time.perf_counter()
    demo = choose_demonstration(after, comms, args.demonstration)
    t_demo = time.perf_counter() - t
    print()
    print(
        f"scores_after_upgrades: {int(after['passed_after'].sum()):,} of {len(after):,} pass after the plan "
        f"(before: {int((scores['score'] >= args.pass_mark).sum()):,}; "
        f"pass mark {args.pass_mark:g}), {t_after:.2f} s"
    )
    print(f"choose_demonstration: {demo.summary()} (call {t_demo:.2f} s)")
    print(
        f"peak RSS {peak_rss_mb():,.0f} MB; "
        f"load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )


if __name__ == "__main__":
    main()
