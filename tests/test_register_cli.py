"""``riskplan register`` through the command line, on a data directory (synthetic rows)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest

from gis.coords import bd09_to_wgs84, gcj02_to_wgs84
from service.cli import main

HEADER = "隐患类别,隐患描述,隐患来源,经度,纬度,发现时间,检查人,企业,危险源编号,区县,判定依据\n"
ROWS = [
    "危险化学品,SECRET 罐区紧急切断阀失效,政府检查,116.410244,39.916404,2026-03-02 10:00,SECRET 王,E1,H1,"
    "东城区,HC-05",
    "燃气,SECRET 软管老化,government_inspection,116.42,39.92,2026/03/03 09:30,SECRET 李,E1,H1,东城区,",
    "消防通道堵塞,SECRET 车辆占用,,116.430000,39.930000,2026-03-05,SECRET 赵,,,西城区,",
]


def _csv(path: Path, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes((HEADER + "\n".join(rows) + "\n").encode(encoding))
    return path


def _events(d: Path) -> list[str]:
    return (d / "events.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.fixture
def reg(tmp_path: Path, capsys) -> Path:
    d = tmp_path / "reg"
    src = _csv(tmp_path / "inspections.csv", ROWS)
    assert (
        main(["register", "import", str(d), str(src), "--coords", "gcj02", "--verify", "--actor", "insp-1"])
        == 0
    )
    capsys.readouterr()
    return d


def test_import_csv_with_chinese_headers_and_gcj02(reg: Path) -> None:
    items = pd.read_csv(reg / "items.csv", encoding="utf-8-sig")
    assert items["number"].tolist() == ["YH-2026-000001", "YH-2026-000002", "YH-2026-000003"]
    assert items["category"].tolist() == ["hazardous_chemicals", "gas", "fire_lane_blocked"]
    assert items["grade"].tolist() == ["major", "general", "general"]  # HC-05 is a direct criterion
    assert items["status"].eq("verified").all()
    lon, lat = gcj02_to_wgs84([116.410244], [39.916404])
    assert items.loc[0, "lon"] == pytest.approx(lon[0], abs=1e-9) and items.loc[0, "lat"] == pytest.approx(
        lat[0]
    )
    assert abs(items.loc[0, "lon"] - 116.410244) > 1e-3  # the GCJ-02 offset was removed
    areas = pd.read_csv(reg / "areas.csv")
    assert areas["district"].tolist() == ["东城区", "东城区", "西城区"]
    assert len(_events(reg)) == 6  # report and verify of each


def test_import_gb18030_bd09_continues_the_numbering(reg: Path, tmp_path: Path, capsys) -> None:
    src = _csv(tmp_path / "gbk.csv", [ROWS[2]], encoding="gb18030")
    assert main(["register", "import", str(reg), str(src), "--coords", "bd09"]) == 0
    assert "YH-2026-000004" in capsys.readouterr().out
    items = pd.read_csv(reg / "items.csv", encoding="utf-8-sig").set_index("number")
    lon, _ = bd09_to_wgs84([116.43], [39.93])
    assert items.loc["YH-2026-000004", "lon"] == pytest.approx(lon[0])
    assert items.loc["YH-2026-000004", "status"] == "reported"


def test_import_excel(tmp_path: Path, capsys) -> None:
    openpyxl = pytest.importorskip("openpyxl", reason="Excel import needs openpyxl (pip install openpyxl)")
    from datetime import datetime

    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER.strip().split(","))
    ws.append(
        [
            "电梯",
            "门锁短接",
            "政府检查",
            116.40,
            39.90,
            datetime(2026, 3, 4, 15, 0),
            "周",
            None,
            None,
            "东城区",
            "",
        ]
    )
    book.save(tmp_path / "rows.xlsx")
    d = tmp_path / "reg"
    assert main(["register", "import", str(d), str(tmp_path / "rows.xlsx")]) == 0
    items = pd.read_csv(d / "items.csv", encoding="utf-8-sig")
    assert items["category"].tolist() == ["elevator"] and items["reported_at"].tolist() == [
        "2026-03-04 15:00:00"
    ]


def test_bad_rows_are_named_with_the_fix_and_nothing_is_imported(tmp_path: Path, capsys) -> None:
    bad = [
        ROWS[0],
        "燃起,描述,政府检查,116.42,39.92,2026-03-03,李,,,,",  # unknown category
        "燃气,描述,政府检查,39.92,116.42,2026-03-03,李,,,,",  # swapped
        "燃气,描述,政府检查,116.42,39.92,yesterday,李,,,,",  # no date
        "燃气,描述,政府检查,116.42,39.92,2026-03-03,李,,,,XX-01",  # not a criterion
    ]
    d = tmp_path / "reg"
    assert main(["register", "import", str(d), str(_csv(tmp_path / "bad.csv", bad)), "--verify"]) == 2
    err = capsys.readouterr().err
    assert "`" + str(tmp_path / "bad.csv") + "`: nothing was imported; 4 problems" in err
    assert "rows [3]: category '燃起' is unknown. Fix: use one of" in err
    assert "rows [4]: (39.92, 116.42) is not a longitude / latitude in China" in err
    assert "rows [5]: time 'yesterday' is not a date" in err
    assert "rows [6]: " in err and "XX-01" in err
    assert not d.exists()  # nothing half-imported
    assert main(["register", "import", str(d), str(tmp_path / "missing.csv")]) == 2
    no_cols = tmp_path / "cols.csv"
    no_cols.write_text("名称,地址\nA,B\n", encoding="utf-8")
    assert main(["register", "import", str(d), str(no_cols)]) == 2
    assert "no column for ['category', 'description', 'lon', 'lat', 'reported_at']" in capsys.readouterr().err


def test_a_failed_import_leaves_an_existing_register_as_it_was(reg: Path, tmp_path: Path, capsys) -> None:
    before = (reg / "events.jsonl").read_bytes()
    bad = _csv(tmp_path / "bad.csv", [ROWS[1], "燃起,x,政府检查,116.42,39.92,2026-03-03,李,,,,"])
    assert main(["register", "import", str(reg), str(bad)]) == 2
    assert (reg / "events.jsonl").read_bytes() == before


def test_list_and_move_through_the_workflow(reg: Path, capsys) -> None:
    n = "YH-2026-000002"
    base = ["register", "move", str(reg), n]
    steps = [
        ["hand_over", "--role", "inspector", "--actor", "insp-1", "--set", "territorial_unit=东城区政府",
         "--set", "department_unit=住建局", "--at", "2026-03-04T09:00"],
        ["plan", "--role", "enterprise", "--actor", "e1", "--unit", "E1", "--set", "plan=SECRET plan",
         "--set", 'measures=["更换软管"]', "--set", "funds_yuan=300", "--set", "deadline=2026-03-20",
         "--at", "2026-03-05T09:00"],
        ["claim", "--role", "enterprise", "--actor", "e1", "--unit", "E1", "--at", "2026-03-10T09:00"],
        ["accept", "--role", "inspector", "--actor", "insp-2", "--at", "2026-03-12T09:00"],
    ]  # fmt: skip
    for step in steps:
        before = _events(reg)
        assert main([*base, *step]) == 0, capsys.readouterr().err
        after = _events(reg)
        assert after[: len(before)] == before and len(after) == len(before) + 1  # append-only
    assert f"{n}: rectified -> closed" in capsys.readouterr().out
    # refused: wrong state, wrong role, another enterprise; exit 2, log unchanged
    before = _events(reg)
    assert main([*base, "accept", "--role", "inspector", "--actor", "i", "--at", "2026-03-13"]) == 2
    assert "`accept` is allowed from ['rectified'], not from `closed`" in capsys.readouterr().err
    units = ["--set", "territorial_unit=a", "--set", "department_unit=b"]
    hand_over = ["register", "move", str(reg), "YH-2026-000001", "hand_over", *units, "--at", "2026-03-06"]
    assert main([*hand_over, "--role", "reporter", "--actor", "x"]) == 2
    assert "role `reporter` may not `hand_over`" in capsys.readouterr().err
    assert main([*hand_over, "--role", "inspector", "--actor", "insp-1"]) == 0
    plan = ["--set", "plan=p", "--set", "measures=m", "--set", "funds_yuan=1", "--set", "deadline=2026-04-01"]
    other = ["register", "move", str(reg), "YH-2026-000001", "plan", "--role", "enterprise", "--unit", "E2"]
    before = _events(reg)
    assert main([*other, "--actor", "e2", *plan, "--at", "2026-03-07"]) == 2
    assert "this item's is 'E1', the actor's unit 'E2'" in capsys.readouterr().err
    assert (
        main(["register", "move", str(reg), "YH-2026-999999", "claim", "--role", "admin", "--actor", "x"])
        == 2
    )
    assert _events(reg) == before
    assert main(["register", "list", str(reg), "--status", "closed"]) == 0
    out = capsys.readouterr().out
    assert n in out and "YH-2026-000001" not in out
    assert main(["register", "list", str(reg), "--overdue", "--at", "2026-05-01"]) == 0
    out = capsys.readouterr().out
    assert "YH-2026-000003" in out and n not in out  # general, verified Mar 5, due Apr 4
    records = [json.loads(line) for line in _events(reg)]
    assert [r["action"] for r in records if r["number"] == n][-1] == "accept"
    assert records[-1]["action"] == "hand_over" and records[-1]["from_status"] == "verified"


def test_disclose_writes_html_csv_gpkg_without_private_text(reg: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "public"
    assert main(["register", "disclose", str(reg), "2026-03", "--out", str(out)]) == 0
    assert "1 major dangers listed" in capsys.readouterr().out
    html = (out / "disclosure-2026-03.html").read_text(encoding="utf-8")
    listing = pd.read_csv(out / "disclosure-2026-03.csv", encoding="utf-8-sig")
    assert listing["number"].tolist() == ["YH-2026-000001"] and {"lon", "lat", "status", "deadline"} <= set(
        listing
    )
    layers = sorted(pyogrio.list_layers(out / "disclosure-2026-03.gpkg")[:, 0])
    assert layers == ["layer_styles", "majors", "summary"]  # nothing closed yet: no results layer
    majors = pyogrio.read_dataframe(out / "disclosure-2026-03.gpkg", layer="majors")
    assert majors.crs.to_epsg() == 4326 and majors["number"].tolist() == ["YH-2026-000001"]
    for text in (html, listing.to_csv(), majors.drop(columns="geometry").to_csv()):
        assert "SECRET" not in text and "insp-1" not in text
    assert main(["register", "disclose", str(reg), "March"]) == 2


def test_assess_prints_the_ranking_and_writes_csv(reg: Path, tmp_path: Path, capsys) -> None:
    csv = tmp_path / "rank.csv"
    assert main(["register", "assess", str(reg), "2026-03", "--by", "district", "--out", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "Assessment 2026-03 by district" in out and "City: 3 found, 0 closed" in out
    table = pd.read_csv(csv, encoding="utf-8-sig").set_index("district")
    assert table.loc["东城区", "found"] == 2 and table.loc["西城区", "found"] == 1
    assert np.isnan(table.loc["东城区", "on_time_rate"])
    assert main(["register", "assess", str(reg), "2026-03", "--by", "street"]) == 2
    assert main(["register", "list", str(tmp_path / "nowhere")]) == 2
    assert "is not a register directory" in capsys.readouterr().err


def test_demo_register_through_the_cli(tmp_path: Path, capsys) -> None:
    d = tmp_path / "demo"
    assert main(["register", "demo", str(d), "--items", "150"]) == 0
    assert "(synthetic)" in capsys.readouterr().out
    assert (d / "items.csv").stat().st_size < 1_000_000
    assert main(["register", "disclose", str(d), "2024-06"]) == 0
    assert "synthetic" in (d / "disclosure" / "disclosure-2024-06.html").read_text(encoding="utf-8")
    assert main(["register", "assess", str(d), "2024-06"]) == 0
    assert main(["register", "demo", str(d)]) == 2  # never over an existing register
