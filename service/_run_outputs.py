"""What a run writes besides its layers: the snapping report and the entries of ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from gis.atomic import atomic_path
from gis.speech import current_lang, say

if TYPE_CHECKING:
    from planning import CoverageResult, DepotPlan, StationPlan
    from risk_models import RiskResult

    from .workflow import NetworkRun

__all__ = ["coverage_summary", "plan_summary", "plan_word", "risk_note", "write_snap_report"]


def write_snap_report(run: NetworkRun, path: Path) -> Path:
    """Write one CSV row per snapped feature: layer, id, node, distances, flagged.

    Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) are written with a leading ``'``, so opening the
    report never runs a formula from an input file; numbers stay numbers. Text cells are
    quoted, so a line break inside one cannot start a row.
    """
    import csv

    frames = [df.assign(layer=layer).rename_axis("id").reset_index() for layer, df in run.snaps.items()]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]) and not pd.api.types.is_bool_dtype(table[column]):
            text = table[column].astype(str).where(table[column].notna())
            risky = text.str.match(r"^[=+\-@\t\r]", na=False)
            table[column] = text.where(~risky, "'" + text)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, quoting=csv.QUOTE_NONNUMERIC)
    return path


def coverage_summary(coverage: CoverageResult) -> dict[str, object]:
    """The ``coverage`` entry of ``summary.json``."""
    table = coverage.summary[["features", "covered", "share_weight", "p50_response_s", "p90_response_s"]]
    return {
        "standard": coverage.standard.name,
        "by_layer": json.loads(table.to_json(orient="index")),
        "violations": len(coverage.violations),
        **({} if coverage.hour is None else {"hour": coverage.hour}),
        **_what_if_summary(coverage),
    }


def _what_if_summary(coverage: CoverageResult) -> dict[str, object]:
    """The ``what_if`` entry of the coverage's summary (``[what_if]``: :mod:`service.what_if_run`), or {}."""
    table = coverage.extra_tables.get("what_if_summary")
    if table is None:
        return {}
    change = coverage.extra_tables.get("what_if_change")
    return {
        "what_if": {
            **({"change": str(change["change"].iloc[0])} if change is not None and len(change) else {}),
            **{str(m): float(v) for m, v in zip(table["measure"], table["value"], strict=True)},
        }
    }


def plan_summary(stations: StationPlan | None, depots: DepotPlan | None) -> dict[str, object]:
    """The ``plan`` entry of ``summary.json`` for one city."""
    out: dict[str, object] = {}
    if stations is not None:
        out |= {
            "stations": json.loads(stations.summary.round(4).to_json(orient="index")),
            "proposed": [str(i) for i in stations.proposed.index],
            "recommended_new": int(stations.recommended_n),
            "uncoverable_communities": [str(i) for i in stations.uncoverable.index],
        }
    if depots is not None:
        out["unmet_people"] = float(depots.unmet_people)
    return out


def risk_note(risk: RiskResult, n: int = 5) -> str:
    """The highest-risk units with their reasons, for the run's notes (in the run's language)."""
    lines = [say("run_highest_risk", units=_units_word(risk.units_spec))]
    for unit_id, row in risk.top(n).iterrows():
        level = _level_word(str(row["level"]))
        lines.append(f"  {row['rank']:>3}. {unit_id} {row.get('name', '')} [{level}]: {row['reasons']}")
    return "\n".join(lines)


def plan_word(stage: str) -> str:
    """The plan a run skipped (``stations`` / ``depots``): its code in English, its name in Chinese."""
    if stage == "stations":
        return say("run_plan_stations")
    if stage == "depots":
        return say("run_plan_depots")
    return stage


def _units_word(spec: str) -> str:
    """What the risk units are (``communities``, ``cells:500``...): the spec in English."""
    if current_lang() == "en":
        return spec
    kind, _, size = spec.partition(":")
    words = {
        "communities": say("run_units_communities"),
        "cells": say("run_units_cells"),
        "grid": say("run_units_cells"),
        "area_units": say("run_units_area_units"),
    }
    word = words.get(kind, kind)
    return f"{word}（{size}）" if size else word  # noqa: RUF001 - a Chinese parenthesis


def _level_word(level: str) -> str:
    """A risk level's code (``red``) in English; its name (重大风险) in Chinese."""
    if current_lang() == "en":
        return level
    words = {
        "red": say("level_red"),
        "orange": say("level_orange"),
        "yellow": say("level_yellow"),
        "blue": say("level_blue"),
    }
    return words.get(level, level)
