"""Before and after (issue 19): the report section, and the plans that use the comparison.

The section's figures are checked against a hand-made comparison; each "used by" path (the
station plan, the register's open majors, the safe communities' measures) runs on the tiny
3 x 3 street grid of ``scenario_factory`` (a few seconds each).
"""

# ruff: noqa: RUF001 - the Chinese texts under test use Chinese (full-width) punctuation

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scenario_factory import LAT0, LON0, STEP, small_layers, write_gpkg

from maps.compare_map import compare_section, level_table, write_compare_report
from maps.words import speaking
from planning.compare import Changes, compare_units


@pytest.fixture
def comparison():
    """Six communities: C0 red -> orange by a measure, C1 newly covered, C2 losing coverage, C5 worse."""
    n = 6
    before = gpd.GeoDataFrame(
        {
            "name": [f"Community {i}" for i in range(n)],
            "score": [6.0, 3.0, 2.0, 1.0, 1.5, 2.5],
            "level": ["red", "orange", "yellow", "blue", "blue", "yellow"],
            "vulnerability_factor": np.ones(n),
        },
        index=[f"C{i}" for i in range(n)],
        geometry=[shapely.box(i * 100, 0, i * 100 + 100, 100) for i in range(n)],
        crs=32650,
    )
    after = before.copy()
    after.loc["C0", ["score", "level", "vulnerability_factor"]] = [4.0, "orange", 0.8]
    after.loc["C5", ["score", "level"]] = [3.5, "orange"]
    cover = pd.DataFrame(
        {
            "response_time_s": [200.0, 400.0, 250.0, 100.0, 100.0, 100.0],
            "covered": [True, False, True, True, True, True],
            "nearest_station": ["S1"] * n,
            "population": [1000, 2000, 3000, 400, 500, 600],
        },
        index=before.index,
    )
    cover_after = cover.copy()
    cover_after.loc["C1", ["response_time_s", "covered", "nearest_station"]] = [250.0, True, "S9"]
    cover_after.loc["C2", ["response_time_s", "covered"]] = [400.0, False]
    measures = pd.DataFrame({"community_id": ["C0"], "measure": ["fire_lane_clearing"]})
    return compare_units(
        before,
        after,
        coverage_before=cover,
        coverage_after=cover_after,
        changes=Changes(measures=measures, stations_added=("S9",)),
        labels=("today", "the plan"),
    )


def test_the_level_table_counts_moves_and_residents(comparison) -> None:
    t = level_table(comparison.units)
    assert t.loc["red", ["units", "down", "better"]].tolist() == [1, 1, 1]
    assert t.loc["yellow", ["units", "up", "worse", "losing_coverage"]].tolist() == [2, 1, 2, 3000]
    assert t.loc["orange", ["newly_covered", "losing_coverage"]].tolist() == [2000, 0]
    assert t.loc["all", ["units", "up", "down", "newly_covered", "losing_coverage"]].tolist() == [
        6,
        1,
        1,
        2000,
        3000,
    ]


def _cells(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table class="rp" id="{table_id}">(.*?)</table>', page, re.S)
    assert body, table_id
    return [
        re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))
    ]


def test_the_section_in_both_languages(comparison) -> None:
    with speaking("en"):
        en = compare_section(comparison)
    with speaking("zh"):
        zh = compare_section(comparison)
    assert "Before and after" in en and "实施前后对比" in zh
    levels = _cells(en, "compare-levels")
    assert levels[0][:3] == ["Level before", "Units", "Up a level"] and levels[-1][:2] == ["All", "6"]
    top = _cells(en, "compare-top")
    units = [row[0] for row in top[1:]]
    assert units[0] == "C0 Community 0" and set(units) == {f"C{i} Community {i}" for i in (0, 1, 2, 5)}
    row = {r[0]: r for r in top[1:]}
    assert "measures: fire lane cleared" in row["C0 Community 0"][-1]
    assert "served by the new station S9 (was S1)" in row["C1 Community 1"][-1]
    assert "no longer covered" in row["C2 Community 2"][-1]
    zh_top = {r[0]: r for r in _cells(zh, "compare-top")[1:]}
    assert "整改措施：消防车通道清理" in zh_top["C0 Community 0"][-1]
    assert zh_top["C2 Community 2"][1] == "变差"
    assert 'id="compare-map"' in en and "srcdoc=" in en  # the diff map as a figure
    assert "新增覆盖2,000人" in zh and "失去覆盖3,000人" in zh


def test_identical_sides_say_no_change(comparison, tmp_path: Path) -> None:
    same = compare_units(
        comparison.units.assign(score=1.0, level="blue"), comparison.units.assign(score=1.0, level="blue")
    )
    page = write_compare_report(same, tmp_path / "same.html", lang="zh").read_text(encoding="utf-8")
    assert "没有单元发生变化。" in page and 'id="compare-top"' in page
    assert _cells(page, "compare-levels")[-1][1:6] == ["6", "0", "0", "0", "0"]


def test_cli_compare_writes_the_report(comparison, tmp_path: Path, capsys) -> None:
    from gis.atomic import write_gpkg as write
    from service.cli import main

    u = comparison.units
    before = u.assign(score=u["score_before"], level=u["level_before"])[["score", "level", "geometry"]]
    after = u.assign(score=u["score_after"], level=u["level_after"])[["score", "level", "geometry"]]
    a = write(tmp_path / "a.gpkg", {"risk_units": before.rename_axis("unit_id")}, {})
    b = write(tmp_path / "b.gpkg", {"risk_units": after.rename_axis("unit_id")}, {})
    page = tmp_path / "before_after.html"
    args = [
        "-q",
        "compare",
        str(a),
        str(b),
        "--out",
        str(tmp_path / "c.gpkg"),
        "--report",
        str(page),
        "--lang",
        "zh",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "对比报告已写入" in printed and "C0：变好，风险值 -2.00：风险等级 红色 → 橙色" in printed
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in text and "按原风险等级统计" in text


# ------------------------------------------------------------------------------------ used by


def _plan_layers() -> dict[str, gpd.GeoDataFrame]:
    """The tiny grid with its one station in the south-west corner and a candidate in the north-east."""
    layers = small_layers()
    layers["fire_stations"] = layers["fire_stations"].set_geometry([shapely.Point(LON0, LAT0)], crs=4326)
    layers["candidate_sites"] = gpd.GeoDataFrame(
        {"id": ["K1"], "name": ["North-east corner"]},
        geometry=[shapely.Point(LON0 + 3 * STEP, LAT0 + 3 * STEP)],
        crs=4326,
    )
    return layers


@pytest.mark.slow  # the place command end to end: graph, p-median trade-off, two scorings
def test_the_station_plan_before_and_after_names_the_new_station(tmp_path: Path, capsys) -> None:
    from service.cli import main

    scenario = write_gpkg(tmp_path / "grid.gpkg", _plan_layers())
    out, page = tmp_path / "stations_compare.gpkg", tmp_path / "stations_compare.html"
    args = ["-q", "place", str(scenario), "--model", "p-median", "--new", "1", "--demand", "population"]
    args += ["--out", str(tmp_path / "stations.gpkg"), "--compare", str(out), "--compare-report", str(page)]
    assert main([*args, "--lang", "en", "--no-cache"]) == 0
    got = gpd.read_file(out, layer="compare_units").set_index("unit_id")
    assert got.loc["C1", "station_before"] == "FS1" and got.loc["C1", "station_after"] == "K1"
    assert "served by the new station K1 (was FS1)" in got.loc["C1", "reasons"]
    assert got.loc["C1", "response_time_s_change"] < 0 and got.loc["C1", "change"] == "better"
    assert got.loc["C2", "station_after"] == "FS1" and "K1" not in got.loc["C2", "reasons"]
    assert "with the proposed stations against baseline" in capsys.readouterr().out
    assert "served by the new station K1" in page.read_text(encoding="utf-8")
    assert main([*args[:-4], "--compare-report", str(page)]) == 2  # a report without --compare


def test_closing_the_open_majors_names_their_source(tmp_path: Path, capsys) -> None:
    from service.cli import main

    scenario = write_gpkg(tmp_path / "grid.gpkg")
    rows = (
        "隐患类别,隐患描述,隐患来源,经度,纬度,发现时间,检查人,企业,危险源编号,区县,判定依据\n"
        f"危险化学品,罐区紧急切断阀失效,政府检查,{LON0 + 0.001},{LAT0 + 0.001},"
        "2026-03-02 10:00,王,E1,H1,小店区,HC-05\n"
        f"矿山,巷道支护不足,政府检查,{LON0 + 0.014},{LAT0 + 0.014},2026-03-02 11:00,李,E2,H2,小店区,\n"
    )
    (tmp_path / "inspections.csv").write_text(rows, encoding="utf-8")
    reg = tmp_path / "reg"
    assert (
        main(["register", "import", str(reg), str(tmp_path / "inspections.csv"), "--verify", "--actor", "i"])
        == 0
    )
    capsys.readouterr()
    out = tmp_path / "register_compare.gpkg"
    args = ["-q", "register", "compare", str(reg), str(scenario), "--out", str(out), "--no-cache"]
    assert main([*args, "--lang", "zh", "--report", str(tmp_path / "r.html")]) == 0
    printed = capsys.readouterr().out
    assert "重大事故隐患整改销号后对比隐患台账现状" in printed
    got = gpd.read_file(out, layer="compare_units").set_index("unit_id")
    assert (got["change"] == "better").all() and (got["score_change"] < 0).all()
    for uid in ("C1", "C2"):
        assert "H1 Plant：1项重大事故隐患整改销号" in got.loc[uid, "reasons"]
        assert "H2" not in got.loc[uid, "reasons"]  # a general item: nothing to close


def test_the_chosen_measures_before_and_after(tmp_path: Path) -> None:
    from gis.demo import synthetic_survey
    from gis.errors import InputError
    from service.communities import assess_communities

    layers = small_layers()
    survey = synthetic_survey(layers["communities"].set_index("id", drop=False), seed=1)
    run = assess_communities(layers["communities"], survey, budget=500_000)
    assert run.plan is not None and len(run.plan.chosen)
    c = run.compare(layers)
    chosen = run.plan.chosen
    for uid in ("C1", "C2"):
        row = c.units.loc[uid]
        assert row["change"] == "better" and row["score_change"] < 0
        assert row["reasons"].startswith("measures: ")
    from gis.i18n import load_glossary

    g = load_glossary()
    first = chosen[chosen["community_id"] == "C1"]["measure"].iloc[0]
    assert g.text(f"cmp_m_{first}", "en") in c.units.loc["C1", "reasons"]
    assert g.text(f"cmp_m_{first}", "zh") in c.in_lang("zh").units.loc["C1", "reasons"]
    with pytest.raises(InputError, match="budget"):
        assess_communities(layers["communities"], survey).compare(layers)


def test_every_shipped_measure_has_its_name_in_both_languages() -> None:
    from gis.i18n import load_glossary
    from planning.upgrades import load_upgrade_measures

    g = load_glossary()
    measures = load_upgrade_measures(None).table.index
    missing = [m for m in measures if f"cmp_m_{m}" not in g.texts]
    assert not missing
