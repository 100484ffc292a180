"""``riskplan communities`` on the demo city with its synthetic survey."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest

import gis
from gis.demo import write_synthetic_survey
from service.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("communities")
    scenario = gis.write_demo_scenario(d / "demo.gpkg", n_road_nodes=2000)
    communities = gis.load_scenario(scenario)["communities"]
    survey = write_synthetic_survey(d / "survey.csv", communities, seed=3, resurvey_share=0.3)
    return scenario, survey


def test_scores_items_failed_summary_and_changes_are_written(
    demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, survey = demo
    out = tmp_path / "communities.gpkg"
    assert main(["communities", str(scenario), "--survey", str(survey), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "SYNTHETIC survey" in text and "195 surveys of 150 communities" in text and "(all)" in text
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {
        "community_safety",
        "community_surveys",
        "community_items",
        "community_failed",
        "community_summary",
        "community_standard",
        "community_notes",
        "community_changes",
        "district_changes",
        "district_item_changes",
        "community_item_changes",
    } <= layers
    scores = pyogrio.read_dataframe(out, layer="community_safety")
    assert len(scores) == 150 and scores["score"].between(0, 100).all()
    assert scores["community_id"].str.startswith("C").all()
    items = pyogrio.read_dataframe(out, layer="community_items", read_geometry=False)
    assert len(items) == 195 * 18
    notes = pyogrio.read_dataframe(out, layer="community_notes", read_geometry=False)
    assert notes["note"].str.contains("SYNTHETIC").any()


def test_excel_output_and_register_import_once(
    demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, survey = demo
    reg = tmp_path / "reg"
    args = [
        "communities",
        str(scenario),
        "--survey",
        str(survey),
        "--out",
        str(tmp_path / "c.xlsx"),
        "--register",
        str(reg),
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    n = len((reg / "events.jsonl").read_text(encoding="utf-8").splitlines())
    assert n > 0 and "0 already there" in first
    assert main(args) == 0
    assert "0 failed items added" in capsys.readouterr().out
    assert len((reg / "events.jsonl").read_text(encoding="utf-8").splitlines()) == n
    book = pd.read_excel(tmp_path / "c.xlsx", sheet_name=None, engine="openpyxl")
    assert len(book["community_safety"]) == 150 and "community_failed" in book
    items = pd.read_csv(reg / "items.csv", encoding="utf-8-sig")
    assert items["status"].eq("verified").all() and items["community_id"].notna().all()


def test_bad_survey_exits_2_naming_rows_and_fix(
    demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, survey = demo
    rows = pd.read_csv(survey, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rows.loc[3, "community_id"] = "C999"
    rows.loc[5, "gas_alarm_valve"] = "140"
    bad = tmp_path / "bad.csv"
    rows.to_csv(bad, index=False, encoding="gb18030")
    out = tmp_path / "c.gpkg"
    assert main(["communities", str(scenario), "--survey", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        "rows [5]: community codes ['C999']" in err and "rows [7]: `gas_alarm_valve`" in err and "Fix:" in err
    )
    assert not out.exists()
    standard = tmp_path / "city.toml"
    standard.write_text("[sections.gas]\nweight = 0.5\n", encoding="utf-8")
    assert (
        main(
            [
                "communities",
                str(scenario),
                "--survey",
                str(survey),
                "--out",
                str(out),
                "--safety-standard",
                str(standard),
            ]
        )
        == 2
    )
    assert str(standard) in capsys.readouterr().err
    assert (
        main(["communities", str(scenario), "--survey", str(survey), "--out", str(tmp_path / "c.csv")]) == 2
    )


def test_budget_and_demonstration_plans_are_written(
    demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, survey = demo
    out = tmp_path / "plan.gpkg"
    args = ["communities", str(scenario), "--survey", str(survey), "--out", str(out)]
    assert main([*args, "--budget", "5000000", "--demonstration", "12"]) == 0
    text = capsys.readouterr().out
    assert "Upgrade plan within 5,000,000 CNY" in text and "Demonstration communities:" in text
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {"upgrade_plan", "upgrade_by_community", "scores_after_upgrades", "demonstration"} <= layers
    plan = pyogrio.read_dataframe(out, layer="upgrade_plan")
    assert 0 < plan["cost_cny"].sum() <= 5_000_000
    after = pyogrio.read_dataframe(out, layer="scores_after_upgrades")
    assert (after["score_after"] >= after["score"] - 1e-9).all()
    chosen = pyogrio.read_dataframe(out, layer="demonstration")
    assert len(chosen) == 12 and chosen["reasons"].str.len().gt(0).all()


def test_compare_writes_the_chosen_measures_before_and_after(
    demo: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import geopandas as gpd

    scenario, survey = demo
    base = ["communities", str(scenario), "--survey", str(survey), "--out", str(tmp_path / "c.gpkg")]
    # --compare needs a budget's plan, --compare-report needs --compare: refused before anything is read
    assert main([*base, "--compare", str(tmp_path / "x.gpkg")]) == 2
    assert main([*base, "--budget", "1000000", "--compare-report", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "c.gpkg").exists()
    capsys.readouterr()
    cmp, page = tmp_path / "measures.gpkg", tmp_path / "measures.html"
    args = [*base, "--budget", "1000000", "--compare", str(cmp), "--compare-report", str(page)]
    assert main([*args, "--lang", "en"]) == 0
    changed = gpd.read_file(cmp, layer="compare_units")
    better = changed[changed["change"] == "better"]
    assert len(better) and better["reasons"].str.startswith("measures: ").all()
    assert page.exists() and "Before and after" in page.read_text(encoding="utf-8")
