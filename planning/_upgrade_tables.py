"""Checks of the survey's item frame and the communities layer for :mod:`planning.upgrades` (internal)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.errors import InputError

__all__ = ["ITEM_COLUMNS", "community_ids", "community_table", "latest_items"]

#: Columns the survey's ``items`` frame must have.
ITEM_COLUMNS: tuple[str, ...] = (
    "community_id",
    "survey_date",
    "section",
    "item",
    "points",
    "max_points",
    "failed",
)


def _rows(index: pd.Index, mask: np.ndarray) -> str:
    bad = index[mask].tolist()
    more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
    return f"{bad[:10]}{more}"


def latest_items(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Failed items of each community's latest survey (with ``lost`` points), and its maximum.

    Returns the failed rows (``community_id``, ``survey_date``, ``section``, ``item``,
    ``lost`` = ``max_points - points``) and, per community, the sum of ``max_points`` over
    every item of its latest survey (the score is ``100 x earned / that sum``).
    """
    missing = [c for c in ITEM_COLUMNS if c not in items.columns]
    if missing:
        msg = (
            f"`items` lacks the columns {missing}. Fix: pass the survey's `.items` frame "
            f"(columns {list(ITEM_COLUMNS)})."
        )
        raise InputError(msg)
    points = pd.to_numeric(items["points"], errors="coerce")
    top = pd.to_numeric(items["max_points"], errors="coerce")
    bad = ~(np.isfinite(points) & np.isfinite(top) & (points >= 0) & (top >= 0) & (points <= top + 1e-9))
    if bad.any():
        msg = (
            "`items` has points outside 0..max_points (or not numbers) in rows "
            f"{_rows(items.index, bad.to_numpy())}. "
            "Fix: give points earned between 0 and the item's max_points."
        )
        raise InputError(msg)
    flag = items["failed"]
    if flag.dtype != bool:
        bad_flag = ~flag.isin([True, False])
        if bad_flag.any():
            where = _rows(items.index, bad_flag.to_numpy())
            msg = f"`items.failed` is not true/false in rows {where}. Fix: give booleans."
            raise InputError(msg)
        flag = flag.astype(bool)
    frame = pd.DataFrame(
        {
            "community_id": items["community_id"].to_numpy(),
            "survey_date": items["survey_date"].to_numpy(),
            "section": items["section"].to_numpy(),
            "item": items["item"].to_numpy(),
            "lost": (top - points).clip(lower=0.0).to_numpy(dtype=np.float64),
            "max_points": top.to_numpy(dtype=np.float64),
            "failed": flag.to_numpy(dtype=bool),
        }
    )
    last = frame.groupby("community_id", sort=False)["survey_date"].transform("max")
    frame = frame[(frame["survey_date"] == last).to_numpy()]
    dup = frame.duplicated(["community_id", "item"], keep=False)
    if dup.any():
        pairs = (
            frame.loc[dup, ["community_id", "item"]]
            .drop_duplicates()
            .head(10)
            .to_records(index=False)
            .tolist()
        )
        msg = (
            f"`items` repeats items within one survey: {pairs}. Fix: one row per community, survey and item."
        )
        raise InputError(msg)
    total = frame.groupby("community_id", sort=False)["max_points"].sum()
    empty = total.index[total.to_numpy() <= 0].tolist()
    if empty:
        msg = (
            f"`items` gives communities {empty[:10]} no points to earn (max_points sum to 0). "
            "Fix: check the standard."
        )
        raise InputError(msg)
    failed = frame[frame["failed"].to_numpy()].drop(columns=["failed", "max_points"]).reset_index(drop=True)
    return failed, total


def community_ids(communities: pd.DataFrame) -> pd.DataFrame:
    """``communities`` indexed by id: its index, or its ``id`` / ``community_id`` column."""
    for column in ("community_id", "id"):
        if column in communities.columns:
            communities = communities.set_index(column, drop=False)
            break
    if communities.index.has_duplicates:
        dup = communities.index[communities.index.duplicated()].unique().tolist()[:10]
        msg = f"`communities` repeats the ids {dup}. Fix: one row per community."
        raise InputError(msg)
    return communities


def community_table(
    communities: pd.DataFrame, household_size: float, risk_level: pd.Series | None
) -> pd.DataFrame:
    """Per community id: ``population``, ``households``, ``risk_level`` and the other columns, checked."""
    comm = community_ids(communities)
    if "population" not in comm.columns:
        msg = "`communities` has no `population` column. Fix: give the residents of each community."
        raise InputError(msg)
    pop = pd.to_numeric(comm["population"], errors="coerce")
    bad = ~(np.isfinite(pop) & (pop >= 0))
    if bad.any():
        where = _rows(comm.index, bad.to_numpy())
        msg = f"`communities.population` is missing or negative for {where}. Fix: give residents >= 0."
        raise InputError(msg)
    out = pd.DataFrame(comm.drop(columns=["geometry"], errors="ignore"))
    out["population"] = pop.astype(float)
    if "households" in comm.columns:
        hh = pd.to_numeric(comm["households"], errors="coerce")
        bad = hh < 0
        if bad.any():
            where = _rows(comm.index, bad.to_numpy())
            msg = f"`communities.households` is negative for {where}. Fix: give counts >= 0."
            raise InputError(msg)
        out["households"] = hh.fillna(np.round(pop / household_size)).astype(float)
    else:
        out["households"] = np.round(pop / household_size)
    if risk_level is None:
        out["risk_level"] = 1.0
    else:
        level = pd.to_numeric(pd.Series(risk_level), errors="coerce").reindex(out.index)
        bad = ~(np.isfinite(level) & (level >= 0))
        if bad.any():
            msg = (
                "`risk_level` is missing, negative or not finite for communities "
                f"{_rows(out.index, bad.to_numpy())}. "
                "Fix: give a level >= 0 for every community of the layer (or none at all)."
            )
            raise InputError(msg)
        out["risk_level"] = level.astype(float)
    return out
