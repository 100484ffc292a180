"""The register in the pipeline: a scenario's ``[register]``, the demo's synthetic register, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from gis import InputError, load_scenario, write_demo_scenario
from maps import read_map_layers
from service.hazard_register import (
    RegisterSource,
    register_outputs,
    scenario_register,
    write_demo_register,
)
from service.workflow import PipelineResult, run_scenario

LAYERS = ("roads", "hazards", "communities", "fire_stations", "depots", "candidate_sites", "incidents")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small demo scenario (GeoPackage and TOML) and its synthetic register."""
    base = tmp_path_factory.mktemp("demo")
    gpkg = write_demo_scenario(base / "demo_city.gpkg", seed=5, n_road_nodes=2000)
    register = write_demo_register(base / "demo_register", gpkg, seed=5)
    names = {n for n, _ in pyogrio.list_layers(gpkg)}
    tables = "\n".join(
        f'[layers.{name}]\npath = "demo_city.gpkg"\nlayer = "{name}"\n' for name in LAYERS if name in names
    )
    toml = base / "scenario.toml"
    toml.write_text(
        f'[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n{tables}\n'
        '[register]\npath = "demo_register"\nmonth = "2024-11"\n',
        encoding="utf-8",
    )
    return {"gpkg": gpkg, "register": register, "toml": toml, "base": base}


def test_the_demo_register_is_a_register_directory_with_risk_points(demo) -> None:
    reg = demo["register"]
    assert {"register.json", "events.jsonl", "items.csv", "incidents.csv", "risk_points.csv"} <= {
        p.name for p in reg.iterdir()
    }
    meta = json.loads((reg / "register.json").read_text(encoding="utf-8"))
    assert "synthetic" in meta["label"]
    rows = pd.read_csv(reg / "risk_points.csv")
    assert set(rows["method"]) == {"lec", "matrix"} and rows["hazard_id"].nunique() > 100


def test_a_scenario_points_at_its_register(demo, tmp_path: Path) -> None:
    sc = load_scenario(demo["toml"])
    source = scenario_register(sc)
    assert source == RegisterSource(demo["register"], "2024-11", None, None)
    assert scenario_register(load_scenario(demo["gpkg"])) is None  # a GeoPackage names none
    bad = tmp_path / "bad.toml"
    text = demo["toml"].read_text(encoding="utf-8").replace('demo_city.gpkg"', f'{demo["gpkg"]}"')
    bad.write_text(text.replace('path = "demo_register"', 'path = "nowhere"'), encoding="utf-8")
    with pytest.raises(InputError, match=r"`path` .*nowhere.* does not exist"):
        scenario_register(load_scenario(bad))
    bad.write_text(text.replace('month = "2024-11"', 'months = "2024-11"'), encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown: \['months'\]"):
        scenario_register(load_scenario(bad))


def test_register_outputs_write_the_month(demo, tmp_path: Path) -> None:
    sc = load_scenario(demo["toml"])
    result = PipelineResult(tmp_path)
    month = register_outputs(sc, tmp_path, result)
    assert month is not None and month.month == "2024-11" and month.synthetic
    folder = tmp_path / "register"
    names = {p.name for p in folder.iterdir()}
    expected = {
        "disclosure-2024-11.html", "disclosure-2024-11.csv", "disclosure-2024-11.gpkg",
        "assessment-2024-11-by-district.csv", "assessment-2024-11-by-department_unit.csv",
        "assessment-2024-11-by-enterprise_id.csv", "trace-2024-11.csv", "unchecked-sources-2024-11.csv",
        "risk-grades.csv",
    }  # fmt: skip
    assert expected <= names
    assert set(result.outputs.values()) == {folder / n for n in expected}
    html = (folder / "disclosure-2024-11.html").read_text(encoding="utf-8")
    assert "synthetic" in html and "resident " not in html  # no reporter in the public page
    ranking = pd.read_csv(folder / "assessment-2024-11-by-district.csv", index_col=0)
    assert ranking["rank"].is_monotonic_increasing
    # the demo city lies in Shanxi: its register's note in Chinese, as its pages (gis.i18n.resolve_lang)
    assert any(n.startswith("隐患台账2024-11") for n in result.notes)
    # without a register, nothing happens
    assert register_outputs(load_scenario(demo["gpkg"]), tmp_path / "none", PipelineResult(tmp_path)) is None


@pytest.mark.slow
def test_run_on_a_scenario_with_a_register(demo, tmp_path: Path) -> None:
    result = run_scenario(demo["toml"], tmp_path, cache=False)
    assert (tmp_path / "register" / "disclosure-2024-11.gpkg").exists()
    assert "register_disclosure_html" in result.outputs
    specs = read_map_layers((tmp_path / "map.html").read_text(encoding="utf-8"))
    assert {"register", "register_closed", "risk_points"} <= set(specs)
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    # the demo city lies in Shanxi: its report is in Chinese by default (issue 20)
    assert 'id="reg-rank-district"' in report and "合成台账" in report
    # the risk model read the register's month: its open major items and its risk grades
    import geopandas as gpd

    hazards = gpd.read_file(tmp_path / "risk.gpkg", layer="risk_hazards")
    assert {"register_factor", "risk_grade_factor"} <= set(hazards.columns)
    assert (hazards["register_factor"] > 1.0).any()
    notes = gpd.read_file(tmp_path / "risk.gpkg", layer="risk_notes")
    assert notes.iloc[:, 0].astype(str).str.startswith("隐患台账").any()  # the run's words: Chinese by place


def test_cli_import_links_items_to_the_scenario(demo, tmp_path: Path, capsys) -> None:
    from service.cli import main

    sc = load_scenario(demo["gpkg"])
    hazard = sc["hazards"].iloc[[0]]
    gate = hazard.geometry.representative_point().translate(25, 0).to_crs(4326).iloc[0]
    rows = tmp_path / "inspections.csv"
    rows.write_text(
        "隐患类别,隐患描述,经度,纬度,发现时间,检查人\n"
        f"电气线路,bare wiring,{gate.x:.7f},{gate.y:.7f},2026-03-02 10:00,Wang\n",
        encoding="utf-8",
    )
    reg = tmp_path / "reg"
    assert main(["register", "import", str(reg), str(rows), "--scenario", str(demo["gpkg"])]) == 0
    items = pd.read_csv(reg / "items.csv", dtype=str)
    assert items.loc[0, "hazard_id"] == str(hazard.index[0])
    assert items.loc[0, "enterprise_id"] == str(hazard["name"].iloc[0])
    assert isinstance(items.loc[0, "community_id"], str)
    capsys.readouterr()


@pytest.mark.slow
def test_the_demo_writes_the_register_and_its_month(tmp_path: Path) -> None:
    from service.workflow import run_demo

    result = run_demo(tmp_path, n_road_nodes=2000)
    assert (tmp_path / "demo_register" / "events.jsonl").exists()
    month = tmp_path / "register"
    for name in ("disclosure-2024-12.html", "disclosure-2024-12.csv", "disclosure-2024-12.gpkg",
                 "assessment-2024-12-by-district.csv", "trace-2024-12.csv", "risk-grades.csv"):  # fmt: skip
        assert (month / name).exists(), name
    assert "synthetic" in (month / "disclosure-2024-12.html").read_text(encoding="utf-8")
    assert result.outputs["register_disclosure_gpkg"] == month / "disclosure-2024-12.gpkg"
    specs = read_map_layers((tmp_path / "map.html").read_text(encoding="utf-8"))
    assert {"register", "risk_points"} <= set(specs)
    assert "合成台账" in (tmp_path / "report.html").read_text(encoding="utf-8")  # Chinese by place
