"""The CSV that ``riskplan network --snap-report`` writes cannot run as a formula in a spreadsheet."""

from __future__ import annotations

import csv
from pathlib import Path

import networkx as nx
import pandas as pd

from service.workflow import NetworkRun, write_snap_report

FORMULAS = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", "\t=1", "\r=1", '=HYPERLINK("http://x")']


def _run() -> NetworkRun:
    snaps = {
        "hazards": pd.DataFrame(
            {
                "node": [*FORMULAS, "n8"],
                "snap_distance_m": [1.5, -0.0, 2.0, 3.0, 4.0, 5.0, 6.0, -7.25],
                "flagged": [False] * 7 + [True],
            },
            index=pd.Index([*FORMULAS, "H-8"], name="id"),
        )
    }
    return NetworkRun(nx.MultiDiGraph(), snaps)


def test_formula_like_cells_are_neutralised(tmp_path: Path) -> None:
    path = write_snap_report(_run(), tmp_path / "snapping.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    cells = [row[col] for row in rows for col in ("id", "node")]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    assert [row["id"] for row in rows[:7]] == ["'" + f for f in FORMULAS]  # kept, only quoted
    assert rows[7]["id"] == "H-8" and rows[7]["node"] == "n8"  # ordinary text is untouched
    assert [float(row["snap_distance_m"]) for row in rows][-1] == -7.25  # numbers stay numbers
    assert rows[0]["layer"] == "hazards" and rows[7]["flagged"] == "True"
