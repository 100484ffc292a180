"""Synthetic community safety surveys in the shape of the survey's output (issue 16), labelled synthetic.

The survey (``risk_models.community_safety``, built alongside) gives two frames; the planning
of upgrades works from frames of that shape, built here without importing it:

- ``items``: long, ``community_id, survey_date, section, item, points, max_points, failed,
  value, rule``;
- ``scores``: one row per community and survey, ``community_id, survey_date, score, grade,
  passed, points_lost`` and one ``score_<section>`` column per section.

The 18 items of the issue weigh 100 points in all; ``extra_items`` adds synthetic items (for the
60-item benchmark) with measures of their own (:func:`extra_measures`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: (section, item, max_points): the 18 items of issue 16, 100 points in all.
STANDARD_ITEMS: tuple[tuple[str, str, float], ...] = (
    ("elevators", "elevator_age", 6.0),
    ("elevators", "elevator_inspection_overdue", 5.0),
    ("elevators", "elevator_entrapments", 4.0),
    ("gas", "gas_pipe_age", 6.0),
    ("gas", "gas_alarm_valve", 5.0),
    ("gas", "bottled_lpg", 4.0),
    ("ebikes", "ebike_indoor_charging", 8.0),
    ("ebikes", "ebike_charging_points", 7.0),
    ("electrical", "electrical_old_wiring", 6.0),
    ("electrical", "electrical_overload", 6.0),
    ("fire_lanes_exits", "fire_lane_blocked", 8.0),
    ("fire_lanes_exits", "exits_locked", 7.0),
    ("fire_facilities", "hydrant_pressure", 5.0),
    ("fire_facilities", "extinguishers", 5.0),
    ("fire_facilities", "smoke_alarms_elderly", 5.0),
    ("emergency_readiness", "drills_this_year", 5.0),
    ("emergency_readiness", "trained_volunteers", 4.0),
    ("emergency_readiness", "mini_fire_station", 4.0),
)
DISTRICTS: tuple[str, ...] = ("Old Town", "Central District", "Hedong New District", "Outer District")
TYPES: tuple[str, ...] = ("old_town", "new_high_rise", "mixed", "resettlement")
PASS_MARK = 80.0


def item_table(extra_items: int = 0) -> pd.DataFrame:
    """Section, item and max_points of every item: the 18 standard ones, then ``extra_items`` more."""
    rows = list(STANDARD_ITEMS) + [("extra", f"extra_item_{k:02d}", 3.0) for k in range(extra_items)]
    return pd.DataFrame(rows, columns=["section", "item", "max_points"])


def extra_measures(extra_items: int) -> dict[str, Any]:
    """Overrides of the measure table: one to three measures for each synthetic item."""
    measures: dict[str, Any] = {}
    for k in range(extra_items):
        for a in range(1 + k % 3):
            measures[f"extra_{k:02d}_{a}"] = {
                "item": f"extra_item_{k:02d}",
                "title": f"synthetic measure {a} for synthetic item {k}",
                "fixed_cny": 5000.0 * (1 + (k * 7 + a * 3) % 11),
                "per_household_cny": float((k + a) % 5) * 40.0,
                "restores": [1.0, 0.6, 0.35][a],
                "source": "synthetic (benchmark)",
            }
    return {"measures": measures}


def communities(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` synthetic communities indexed by id: population, households, district, type, units."""
    rng = np.random.default_rng(seed)
    pop = np.round(rng.lognormal(8.3, 0.6, n))
    households = np.round(pop / rng.uniform(2.3, 3.0, n))
    kind = rng.choice(len(TYPES), n, p=[0.3, 0.3, 0.25, 0.15])
    cars = np.where(kind == 1, np.ceil(households / 30), np.ceil(households / 120))
    cars[rng.random(n) < 0.3] = np.nan  # unknown: estimated from households
    width = max(4, len(str(n)))
    return pd.DataFrame(
        {
            "population": pop,
            "households": households,
            "district": np.asarray(DISTRICTS)[rng.choice(len(DISTRICTS), n, p=[0.3, 0.3, 0.2, 0.2])],
            "street": [f"Street {k}" for k in rng.integers(0, max(2, n // 25), n)],
            "community_type": np.asarray(TYPES)[kind],
            "elevator_cars": cars,
            "buildings": np.ceil(households / rng.uniform(20, 60, n)),
        },
        index=pd.Index([f"C{k + 1:0{width}d}" for k in range(n)], name="id"),
    )


def survey(
    comms: pd.DataFrame,
    *,
    fail_rate: float = 0.15,
    extra_items: int = 0,
    seed: int = 0,
    survey_date: str = "2025-04-15",
    failed_mask: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(items, scores)`` for one survey of every community (``failed_mask``: communities x items)."""
    rng = np.random.default_rng(seed + 1)
    table = item_table(extra_items)
    n, m = len(comms), len(table)
    failed = rng.random((n, m)) < fail_rate if failed_mask is None else np.asarray(failed_mask, dtype=bool)
    top = np.broadcast_to(table["max_points"].to_numpy(), (n, m))
    partial = rng.random((n, m)) < 0.3
    points = np.where(failed, np.where(partial, top / 2.0, 0.0), top)
    items = pd.DataFrame(
        {
            "community_id": np.repeat(comms.index.to_numpy(), m),
            "survey_date": survey_date,
            "section": np.tile(table["section"].to_numpy(), n),
            "item": np.tile(table["item"].to_numpy(), n),
            "points": points.ravel(),
            "max_points": top.ravel(),
            "failed": failed.ravel(),
            "value": np.where(failed, "short", "ok").ravel(),
            "rule": "synthetic",
        }
    )
    total = top.sum(axis=1)
    score = 100.0 * points.sum(axis=1) / total
    scores = pd.DataFrame(
        {
            "community_id": comms.index.to_numpy(),
            "survey_date": survey_date,
            "score": score,
            "grade": np.select([score >= 90, score >= PASS_MARK], ["excellent", "pass"], "fail"),
            "passed": score >= PASS_MARK,
            "points_lost": 100.0 - score,
        }
    )
    for section in dict.fromkeys(table["section"]):
        cols = (table["section"] == section).to_numpy()
        scores[f"score_{section}"] = 100.0 * points[:, cols].sum(axis=1) / top[:, cols].sum(axis=1)
    return items, scores
