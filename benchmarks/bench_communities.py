"""Community safety scoring at city scale: 10,000 communities x 60 items, target <= 2 s.

A synthetic scoring standard of 60 items in 8 sections (labelled synthetic: numbers with a range
and a rule of every operator, yes/no items, n/a allowed on some, one veto item) and a synthetic
survey of ``--communities`` rows (values drawn so that about a fifth of the items fail and 3 %
are n/a) are generated in memory. Phases, each timed (best of ``--repeat``):

1. **check**: :func:`risk_models.community_safety.check_survey` on the sheet as texts (what a CSV
   or Excel import gives): headers, numbers, yes/no, n/a, ranges, duplicates.
2. **score**: :func:`risk_models.community_safety.score_communities` on the checked survey:
   scores, grades, sections and the long item table (600,000 rows). Target <= 2 s.
3. **peer**: the same scores computed the plain pandas way (melt to long rows, merge the item
   table, compare per row, group by community), checked equal to phase 2, side by side.

The load average and peak RSS are printed with the figures.

    .venv/bin/python benchmarks/bench_communities.py                    # 10,000 x 60
    .venv/bin/python benchmarks/bench_communities.py --communities 1000 --items 30
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from risk_models.community_safety import check_survey, load_safety_standard, score_communities  # noqa: E402

TARGET_SCORE_S = 2.0
RULES = ("> 15", ">= 3", "< 0.5", "<= 2", "!= 0", "== 7")
OPS = {
    ">": np.greater,
    ">=": np.greater_equal,
    "<": np.less,
    "<=": np.less_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def synthetic_standard(n_items: int, n_sections: int = 8) -> dict[str, Any]:
    """A complete standard (``base = "none"``) of ``n_items`` items in ``n_sections`` sections."""
    sections: dict[str, Any] = {}
    for s in range(n_sections):
        sections[f"section_{s}"] = {"weight": 1.0 / n_sections, "items": {}}
    for k in range(n_items):
        item: dict[str, Any] = {"points": 1 + k % 5, "category": "other", "source": "synthetic benchmark"}
        if k % 3 == 0:
            item.update(kind="yes_no", fail_if="yes" if k % 2 else "no")
        else:
            item.update(kind="number", range=[0, 100], fail_if=RULES[k % len(RULES)], unit="u")
        item["not_applicable"] = k % 7 == 0
        item["veto"] = k == 1
        sections[f"section_{k % n_sections}"]["items"][f"item_{k:02d}"] = item
    return {
        "base": "none",
        "meta": {"name": "synthetic benchmark standard (not a real standard)"},
        "scoring": {"pass_mark": 80.0},
        "grades": {"good": {"min_score": 80.0}, "fair": {"min_score": 60.0}, "poor": {"min_score": 0.0}},
        "sections": sections,
    }


def synthetic_sheet(std: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A survey sheet as texts (``std``: the item table): about a fifth of the items fail, 3 % n/a."""
    out: dict[str, Any] = {
        "community_id": [f"C{k:06d}" for k in range(n)],
        "survey_date": "2024-05-15",
        "data_source": "synthetic benchmark survey",
    }
    for item, spec in std.iterrows():
        if spec["kind"] == "yes_no":
            values = np.where(rng.random(n) < 0.2, spec["fail_if_text"], spec["pass_text"]).astype(object)
        else:  # a value meeting the rule for 20 % of the rows, one missing it for the others
            pool = np.r_[np.round(rng.uniform(0, 30, 2000), 1), spec["threshold"]]
            meets = OPS[spec["op"]](pool, spec["threshold"])
            fails = rng.random(n) < 0.2
            values = np.where(fails, rng.choice(pool[meets], n), rng.choice(pool[~meets], n)).astype(str)
            values = values.astype(object)
        if spec["not_applicable"]:
            values[rng.random(n) < 0.03] = "n/a"
        out[str(item)] = values
    return pd.DataFrame(out)


def pandas_peer(survey: Any, std: Any) -> pd.DataFrame:
    """Scores the plain pandas way: long rows, a merge with the item table, a group-by."""
    long = survey.frame.melt(
        id_vars=["community_id", "survey_date"],
        value_vars=list(std.items.index),
        var_name="item",
        value_name="value",
    )
    long = long.merge(std.items[["op", "threshold", "max_points"]], left_on="item", right_index=True)
    long["failed"] = False
    for op, fn in OPS.items():
        sel = long["op"] == op
        long.loc[sel, "failed"] = fn(long.loc[sel, "value"], long.loc[sel, "threshold"])
    applicable = long["value"].notna()
    long["failed"] &= applicable
    long["max_eff"] = long["max_points"].where(applicable, 0.0)
    long["earned"] = long["max_eff"].where(~long["failed"], 0.0)
    g = long.groupby(["community_id", "survey_date"], sort=False)[["max_eff", "earned"]].sum()
    return (100 * g["earned"] / g["max_eff"]).rename("score").reset_index()


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communities", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    std = load_safety_standard(synthetic_standard(args.items))
    spec = std.items.assign(
        fail_if_text=np.where(std.items["threshold"] == 1.0, "是", "否"),
        pass_text=np.where(std.items["threshold"] == 1.0, "否", "是"),
    )
    sheet = synthetic_sheet(spec, args.communities, rng)
    print(
        f"synthetic standard: {len(std.items)} items in {len(std.sections)} sections; "
        f"synthetic survey: {len(sheet)} communities  ({_load()})"
    )

    t_check, survey = _best(lambda: check_survey(sheet, std), args.repeat)
    t_score, safety = _best(lambda: score_communities(survey, std), args.repeat)
    t_peer, peer = _best(lambda: pandas_peer(survey, std), args.repeat)
    same = np.allclose(safety.scores["score"].to_numpy(), peer["score"].to_numpy(), rtol=0, atol=1e-9)
    failed = float(safety.items["failed"].mean())

    print(f"{'phase':<34}{'riskplan':>12}{'pandas peer':>14}{'ratio':>9}{'target':>10}")
    print(f"{'check survey (texts -> values)':<34}{t_check:>11.3f}s{'':>14}{'':>9}{'':>10}")
    print(
        f"{'score (scores + item table)':<34}{t_score:>11.3f}s{t_peer:>13.3f}s{t_peer / t_score:>8.1f}x"
        f"{TARGET_SCORE_S:>9.1f}s"
    )
    print(
        f"item rows {len(safety.items):,}; failed share {failed:.3f}; mean score "
        f"{safety.scores['score'].mean():.1f}; passed {int(safety.scores['passed'].sum()):,}; "
        f"scores equal to the peer: {same}"
    )
    verdict = "MET" if t_score <= TARGET_SCORE_S else "NOT MET"
    print(f"target scoring <= {TARGET_SCORE_S:.1f} s: {verdict}; peak RSS {_rss_mb():,.0f} MB ({_load()})")
    if not same:
        sys.exit("scores differ from the pandas peer")


if __name__ == "__main__":
    main()
