"""The import at scale: column-wise checks equal the row-by-row import, both Excel readers give the
same texts, the store's bulk import is all or nothing, and the risk grades keep their history."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook
from register_intake_reference import reference_import_rows, reference_read_excel

from risk_models.register import (
    RegisterError,
    SheetError,
    import_rows,
    read_rows,
    replay_many,
    report,
)
from service.store import SQLiteRegister
from service.store._register_rows import event_rows, import_seqs, item_rows
from service.store._register_sql import event_values, item_values

HEADER = [
    "隐患类别",
    "隐患描述",
    "经度",
    "纬度",
    "坐标系",
    "发现时间",
    "检查人",
    "来源",
    "区县",
    "街道",
    "判定依据",
]


def _rows(n: int, seed: int, *, bad: bool) -> pd.DataFrame:
    """``n`` synthetic sheet rows (texts); with ``bad``, a few rows of every kind of problem."""
    rng = np.random.default_rng(seed)
    cats = ["燃气", "电梯", "消防通道堵塞", "mining", "电气线路", "hazardous_chemicals"]
    out = pd.DataFrame(
        {
            "隐患类别": [cats[k % len(cats)] for k in range(n)],
            "隐患描述": [f"检查发现第{k}处" for k in range(n)],
            "经度": [f"{112.45 + v * 0.2:.6f}" for v in rng.random(n)],
            "纬度": [f"{37.75 + v * 0.2:.6f}" for v in rng.random(n)],
            "坐标系": [["", "gcj02", "BD-09", "wgs84"][k % 4] for k in range(n)],
            "发现时间": [
                [
                    f"2026-03-{1 + k % 28:02d} 09:30",
                    f"2025/12/{1 + k % 28:02d}",
                    f"2026-01-0{1 + k % 9}T08:00",
                ][k % 3]
                for k in range(n)
            ],
            "检查人": [["张三", "李四", "王五"][k % 3] for k in range(n)],
            "来源": [["", "政府检查", "government_inspection"][k % 3] for k in range(n)],
            "区县": [["Xiaodian", "Yingze", ""][k % 3] for k in range(n)],
            "街道": [["街道一", "", "街道二"][k % 3] for k in range(n)],
            "判定依据": [["", "CM-02", ""][k % 3] if k % 6 == 3 else "" for k in range(n)],
        }
    )
    if bad:
        picks = rng.choice(n, 40, replace=False)
        edits = [
            ("隐患类别", "火星"), ("来源", "天眼"), ("坐标系", "utm"), ("经度", "east"), ("纬度", ""),
            ("经度", "39.9"), ("发现时间", "someday"), ("隐患描述", ""), ("检查人", ""),
        ]  # fmt: skip
        for j, k in enumerate(picks):
            col, value = edits[j % len(edits)]
            out.loc[k, col] = value
        out.loc[picks[0], ["隐患类别", "发现时间"]] = ["火星", "never"]  # two problems in one row
    return out


def _same(a: object, b: object) -> None:
    assert a.items == b.items  # type: ignore[attr-defined]
    assert a.events == b.events  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(a.areas, b.areas, check_dtype=False, check_index_type=False)  # type: ignore[attr-defined]


@pytest.mark.parametrize("verify", [False, True])
def test_the_column_wise_import_equals_the_row_by_row_import(verify: bool) -> None:
    rows = _rows(3000, 1, bad=False)
    kw = {"first_counter": {2026: 41}, "actor": "insp-1", "coords": "wgs84", "verify": verify}
    _same(import_rows(rows, **kw), reference_import_rows(rows, **kw))


def test_the_column_wise_checks_word_the_same_message_as_the_row_by_row_ones() -> None:
    rows = _rows(3000, 2, bad=True)
    kw = {"first_counter": {}, "actor": "insp-1", "where": "`inspections.xlsx`"}
    with pytest.raises(RegisterError) as old:
        reference_import_rows(rows, **kw)
    with pytest.raises(SheetError) as new:
        import_rows(rows, **kw)
    assert str(new.value) == str(old.value)
    assert "nothing was imported" in str(new.value)
    # the structured problems the API answers: the rows of each kind, spreadsheet numbering
    first = new.value.problems[0]
    assert first.file == "`inspections.xlsx`" and first.rows == tuple(sorted(first.rows)) and first.fix
    assert sum(len(p.rows) for p in new.value.problems) == int(str(new.value).split("; ")[1].split()[0])


def test_a_row_the_workflow_refuses_is_named_with_the_workflows_fix() -> None:
    rows = _rows(50, 3, bad=False)
    rows.loc[7, "来源"] = "群众举报"  # public reports: not an inspector's source
    kw = {"first_counter": {}, "actor": "insp-1"}
    with pytest.raises(SheetError) as new:
        import_rows(rows, **kw)
    with pytest.raises(RegisterError) as old:
        reference_import_rows(rows, **kw)
    assert str(new.value) == str(old.value)
    assert "rows [9]: role `inspector` may not report from source `public_report`" in str(new.value)


def _edge_sheet(path: Path, *, formula: bool = True) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["隐患类别", "隐患描述", "经度", "纬度", "发现时间", "检查人", "整改期限", "x"])
    ws.append(["燃气", "软管老化", 112.577392, 37.8, datetime(2026, 3, 2, 10, 0), "王", date(2026, 3, 20), 5])
    ws.append([None] * 8)  # an empty row: dropped
    ws.append(["电梯", 123, 112.5, 37, "2026-03-03 09:30", None, None, True])
    ws.append(["消防通道堵塞", "=1+1" if formula else "占用", 112.51, 37.9, time(9, 30), "", "", 1.25])
    wb.save(path)


def test_calamine_and_openpyxl_read_the_same_texts(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    path = tmp_path / "edge.xlsx"
    _edge_sheet(path)
    fast, slow = read_rows(path, engine="calamine"), read_rows(path, engine="openpyxl")
    pd.testing.assert_frame_equal(fast, slow)
    assert fast.loc[0, "整改期限"] == "2026-03-20T00:00:00" and fast.loc[1, "纬度"] == "37" and len(fast) == 3
    # as stop 23 read them, but whole numbers the same way whichever reader wrote them
    pd.testing.assert_frame_equal(slow, reference_read_excel(path))
    with pytest.raises(RegisterError, match="no sheet `nope`"):
        read_rows(path, sheet="nope", engine="calamine")
    with pytest.raises(RegisterError, match="engine `xlrd` is unknown"):
        read_rows(path, engine="xlrd")
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    for engine in ("calamine", "openpyxl"):
        with pytest.raises(RegisterError, match=r"not a readable \.xlsx"):
            read_rows(tmp_path / "bad.xlsx", engine=engine)


def test_both_readers_import_a_synthetic_sheet_alike(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    rows = _rows(2000, 4, bad=False)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("隐患")
    ws.append(HEADER)
    for rec in rows.itertuples(index=False):
        ws.append([float(v) if k in (2, 3) else v for k, v in enumerate(rec)])
    wb.save(tmp_path / "s.xlsx")
    fast, slow = (read_rows(tmp_path / "s.xlsx", engine=e) for e in ("calamine", "openpyxl"))
    pd.testing.assert_frame_equal(fast, slow)
    kw = {"first_counter": {}, "actor": "insp-1", "verify": True}
    _same(import_rows(fast, **kw), reference_import_rows(slow, **kw))


def test_the_fast_rows_are_the_stores_rows() -> None:
    out = import_rows(_rows(300, 5, bad=False), first_counter={}, actor="insp-1", verify=True)
    items = list(out.items.values())
    seqs = import_seqs(out.items, out.events)
    assert [r[:-2] for r in item_rows(items, None)] == [tuple(item_values(i).values()) for i in items]
    assert event_rows(out.events, seqs) == [event_values(e, s) for e, s in zip(out.events, seqs, strict=True)]
    with_areas = item_rows(items, out.areas)
    assert with_areas[0][-2:] == ("Xiaodian", "街道一") and with_areas[1][-2:] == ("Yingze", None)


def _store(tmp_path: Path) -> SQLiteRegister:
    reg = SQLiteRegister(tmp_path / "r.sqlite3")
    reg.report(
        lambda n: report(n, at=datetime(2026, 3, 1, 9), actor="web", role="reporter", category="gas",
                         x=112.5, y=37.8, description="smell", source="public_report"),
        year=2026,
    )  # fmt: skip
    return reg


def _tables(db: Path) -> list[list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return [
            conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("register_items", "register_events", "register_counters", "register_items_rtree")
        ]
    finally:
        conn.close()


def test_the_bulk_import_is_all_or_nothing(tmp_path: Path) -> None:
    reg = _store(tmp_path)
    before = _tables(reg.db_path)
    bad = _rows(500, 6, bad=True)
    with pytest.raises(SheetError):
        reg.import_items(lambda c: import_rows(bad, first_counter=c, actor="insp-1"))
    assert _tables(reg.db_path) == before

    good = _rows(500, 6, bad=False)
    kept = {}

    def make(counters: dict[int, int]) -> object:
        kept["result"] = import_rows(good, first_counter=counters, actor="insp-1", verify=True)
        return kept["result"]

    numbers = reg.import_items(make)  # type: ignore[arg-type]
    assert numbers[0] == "YH-2026-000002" and len(numbers) == 500  # after the stored report
    assert reg.count() == (501, 1001)
    stored = {n: reg.get(n) for n in numbers}
    assert {n: s.item for n, s in stored.items()} == dict(kept["result"].items)
    assert stored[numbers[0]].district == "Xiaodian" and stored[numbers[1]].street is None
    events = list(reg.iter_events())
    assert {n: i for n, i in replay_many(events).items() if n in stored} == dict(kept["result"].items)

    # the same numbers again (a stale copy): refused whole, naming them
    after = _tables(reg.db_path)
    with pytest.raises(RegisterError, match=r"\['YH-202.*already stored; nothing was imported"):
        reg.import_items(lambda c: kept["result"])
    assert _tables(reg.db_path) == after
    # events that do not make the items: refused
    result = kept["result"]
    broken = type(result)(result.items, result.events[1:], result.areas)
    with pytest.raises(RegisterError, match=r"not part of the import's items|one event per version"):
        reg.import_items(lambda c: broken)
    assert _tables(reg.db_path) == after


def test_the_import_feeds_the_rtree_in_one_batch_as_the_trigger_would(tmp_path: Path) -> None:
    """The R*Tree after a bulk import equals one kept row by row by the insert trigger."""
    reg = _store(tmp_path)
    reg.import_items(lambda c: import_rows(_rows(300, 7, bad=False), first_counter=c, actor="insp-1"))
    reg.report(
        lambda n: report(n, at=datetime(2026, 3, 2, 9), actor="web", role="reporter", category="gas",
                         x=112.6, y=37.9, description="after the import", source="public_report"),
        year=2026,
    )  # fmt: skip
    conn = sqlite3.connect(reg.db_path)
    tree = conn.execute("SELECT * FROM register_items_rtree ORDER BY id").fetchall()
    assert conn.execute("SELECT count(*) FROM register_bulk_load").fetchone() == (0,)
    # the same rows put through the trigger, one by one
    conn.execute("CREATE VIRTUAL TABLE temp.by_trigger USING rtree(id, west, east, south, north)")
    conn.executemany(
        "INSERT INTO temp.by_trigger VALUES (?, ?, ?, ?, ?)",
        conn.execute("SELECT row, x, x, y, y FROM register_items ORDER BY row").fetchall(),
    )
    assert tree == conn.execute("SELECT * FROM temp.by_trigger ORDER BY id").fetchall()
    assert len(tree) == reg.count()[0] == 302
    conn.close()


def _grade(hazard_id: str, part: str, grade: str, score: float) -> dict[str, object]:
    return {
        "hazard_id": hazard_id, "part": part, "method": "lec", "factors": {"L": 6.0}, "score": score,
        "basis": "LEC", "grade": grade, "colour": "red", "control_level": "enterprise",
        "control_measures": "stop", "lon": None, "lat": None, "graded_at": "2026-03-01T09:00:00",
        "actor": "a", "role": "admin", "note": "",
    }  # fmt: skip


def test_grades_keep_their_history_and_the_latest_counts(tmp_path: Path) -> None:
    reg = _store(tmp_path)
    ids = reg.add_grades([_grade("H1", "tanks", "major", 540), _grade("H1", "office", "low", 3)])
    reg.add_grades([_grade("H1", "tanks", "high", 180)])  # a re-grade after measures
    latest = reg.grades()
    assert [(g["part"], g["grade"]) for g in latest] == [("office", "low"), ("tanks", "high")]
    assert len(reg.grades(history=True)) == 3 and reg.grades(history=True)[0]["id"] == ids[0]
    assert reg.grades(grade="major") == []  # the latest of tanks is high
    assert reg.grades(hazard_id="H1", history=True, grade="major")[0]["factors"] == {"L": 6.0}
    conn = sqlite3.connect(reg.db_path)
    for sql in ("UPDATE register_risk_grades SET grade = 'low'", "DELETE FROM register_risk_grades"):
        with pytest.raises(sqlite3.IntegrityError, match="keeps its history"):
            conn.execute(sql)
    conn.close()


def test_the_command_line_imports_alike_with_either_reader(tmp_path: Path) -> None:
    pytest.importorskip("python_calamine")
    from service.cli import main

    path = tmp_path / "edge.xlsx"
    _edge_sheet(path, formula=False)
    tables = []
    for engine in ("calamine", "openpyxl"):
        d = tmp_path / engine
        args = ["register", "import", str(d), str(path), "--engine", engine, "--verify"]
        assert main([*args, "--source", "sensor_alarm", "--role", "admin"]) == 0  # sensors: anonymous
        tables.append((d / "items.csv").read_text(encoding="utf-8-sig"))
    assert tables[0] == tables[1] and "2026-03-20" in tables[0]  # 整改期限 from a date cell


def test_an_import_is_numbered_again_when_a_report_came_in_meanwhile(tmp_path: Path) -> None:
    reg = _store(tmp_path)
    rows = _rows(20, 7, bad=False)
    calls: list[dict[int, int]] = []

    def make(counters: dict[int, int]) -> object:
        calls.append(dict(counters))
        if len(calls) == 1:  # someone reports while the sheet is being checked
            reg.report(
                lambda n: report(n, at=datetime(2026, 3, 2, 9), actor="web", role="reporter", category="gas",
                                 x=112.5, y=37.8, description="smell", source="public_report"),
                year=2026,
            )  # fmt: skip
        return import_rows(rows, first_counter=counters, actor="insp-1")

    numbers = reg.import_items(make)  # type: ignore[arg-type]
    assert [c.get(2026) for c in calls] == [2, 3]
    assert "YH-2026-000002" not in numbers and reg.get("YH-2026-000002").item.description == "smell"
    assert reg.count() == (22, 22)
