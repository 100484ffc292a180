"""The community safety survey in ``riskplan run``: risk, register, communities.gpkg, map, report.

A small demo city (2,000 road nodes) run three times: without a survey, with a scenario TOML's
``[community_safety]`` survey (budget and demonstration) and ``[register]``, and again with the
same survey (the register takes nothing twice). A bad survey exits 2 with nothing written.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from gis import InputError, load_scenario, write_demo_scenario
from gis.demo import write_synthetic_survey
from maps import COMMUNITY_LAYERS, read_map_layers
from maps._communities import grade_colours, grade_labels
from maps._style import load_style
from risk_models.community_safety import load_safety_standard
from risk_models.register import synthetic_register
from risk_models.vulnerability import indicator_columns
from risk_models.weights import load_weights
from service.community_outputs import (
    COMMUNITIES_FILE,
    SurveySource,
    scenario_survey,
    survey_source,
    write_demo_survey,
)
from service.hazard_register import save_synthetic_register
from service.register_files import open_register
from service.workflow import run_scenario

LAYERS = ("roads", "hazards", "communities", "fire_stations", "depots", "candidate_sites", "incidents")
BUDGET = 5_000_000
DEMONSTRATION = 6


def _toml(base: Path, survey: str | None, *, extra: str = "") -> str:
    names = {n for n, _ in pyogrio.list_layers(base / "demo_city.gpkg")}
    tables = "\n".join(
        f'[layers.{name}]\npath = "demo_city.gpkg"\nlayer = "{name}"\n' for name in LAYERS if name in names
    )
    text = f'[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n{tables}\n'
    text += '[register]\npath = "demo_register"\n'
    if survey is not None:
        text += (
            f'\n[community_safety]\nsurvey = "{survey}"\nbudget = {BUDGET}\n'
            f"demonstration = {DEMONSTRATION}\n{extra}"
        )
    return text


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo scenario (GeoPackage, and a TOML with a register and a survey), its survey CSV."""
    base = tmp_path_factory.mktemp("city")
    gpkg = write_demo_scenario(base / "demo_city.gpkg", seed=5, n_road_nodes=2000)
    sc = load_scenario(gpkg)
    # a small synthetic register (the demo's has 1,500 items): the run reads its month twice
    save_synthetic_register(synthetic_register(sc.layers, seed=5, n_items=150), base / "demo_register")
    write_synthetic_survey(base / "survey.csv", sc["communities"], seed=5, resurvey_share=0.2)
    toml = base / "scenario.toml"
    toml.write_text(_toml(base, "survey.csv"), encoding="utf-8")
    return {"base": base, "gpkg": gpkg, "toml": toml, "survey": base / "survey.csv"}


@pytest.fixture(scope="module")
def plain(city, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run without a survey (the GeoPackage: no register either)."""
    out = tmp_path_factory.mktemp("plain")
    run_scenario(city["gpkg"], out, cache=False)
    return out


@pytest.fixture(scope="module")
def surveyed(city, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A run of the TOML: survey, budget, demonstration and register."""
    out = tmp_path_factory.mktemp("surveyed")
    before = len(open_register(city["base"] / "demo_register").events)
    result = run_scenario(city["toml"], out, cache=False, lang="en")  # the city is in Shanxi: else Chinese
    return out, SimpleNamespace(result=result, events_before=before)


def _gpkg(path: Path, layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=False)


# ------------------------------------------------------------------------------ the table


def test_the_scenario_names_its_survey(city, tmp_path: Path) -> None:
    sc = load_scenario(city["toml"])
    source = scenario_survey(sc)
    assert source == SurveySource(city["survey"], budget=BUDGET, demonstration=DEMONSTRATION)
    assert scenario_survey(load_scenario(city["gpkg"])) is None  # a GeoPackage names none
    assert survey_source(load_scenario(city["gpkg"]), city["survey"]) == SurveySource(city["survey"])
    for extra, match in (
        ("surveys = 1\n", r"unknown: \['surveys'\]"),
        ('safety_standard = "nowhere.toml"\n', r"`safety_standard` .*nowhere.toml.* does not exist"),
        ("register = 1\n", r"`register` is 1"),
        ("time_limit_s = -1\n", r"`time_limit_s` is -1"),
    ):
        bad = tmp_path / "bad.toml"
        text = _toml(city["base"], str(city["survey"]), extra=extra).replace(
            'path = "demo_city.gpkg"', f'path = "{city["gpkg"]}"'
        )
        bad.write_text(text.replace('path = "demo_register"', f'path = "{city["base"] / "demo_register"}"'))
        with pytest.raises(InputError, match=match):
            scenario_survey(load_scenario(bad))
    with pytest.raises(InputError, match=r"`demonstration` = 5 needs a `budget`"):
        SurveySource(city["survey"], demonstration=5)
    with pytest.raises(InputError, match=r"`budget` is -1"):
        SurveySource(city["survey"], budget=-1)


def test_the_demo_survey_is_synthetic_with_the_demo_budget(city, tmp_path: Path) -> None:
    source = write_demo_survey(tmp_path / "demo_survey.csv", city["gpkg"], seed=5)
    assert isinstance(source.survey, Path) and source.survey.exists()
    assert source.budget == 20_000_000 and source.demonstration == 18 and source.register is False
    rows = pd.read_csv(source.survey, encoding="utf-8-sig")
    assert rows["data_source"].str.contains("synthetic").all()
    assert rows["community_id"].duplicated().sum() == 30  # a fifth of the 150 communities re-surveyed


# ------------------------------------------------------------------------------ the run


@pytest.mark.slow
def test_without_a_survey_nothing_changes(plain) -> None:
    summary = json.loads((plain / "summary.json").read_text(encoding="utf-8"))
    assert "community_safety" not in summary and "communities" not in summary["outputs"]
    assert not (plain / COMMUNITIES_FILE).exists()
    units = gpd.read_file(plain / "risk.gpkg", layer="risk_units")
    assert "vuln_safety_shortfall" not in units.columns
    assert not set(COMMUNITY_LAYERS) & set(read_map_layers((plain / "map.html").read_text(encoding="utf-8")))
    assert 'id="community-safety"' not in (plain / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_survey_feeds_the_risk_model(plain, surveyed) -> None:
    out, _ = surveyed
    before = gpd.read_file(plain / "risk.gpkg", layer="risk_units").set_index("unit_id")
    after = gpd.read_file(out / "risk.gpkg", layer="risk_units").set_index("unit_id")
    scores = _gpkg(out / COMMUNITIES_FILE, "community_safety").set_index("community_id")["score"]
    w = load_weights()
    census = sum(float(w["vulnerability"]["indicators"][c]["weight"]) for c in indicator_columns(w))
    ws = float(w["vulnerability"]["community_safety"]["weight"])
    short = (100.0 - scores.reindex(after.index)) / 100.0
    expected = (before["vulnerability_index"] * census + ws * short) / (census + ws)
    np.testing.assert_allclose(after["vuln_safety_shortfall"], short, rtol=1e-12)
    np.testing.assert_allclose(after["vulnerability_index"], expected, rtol=1e-9)
    assert not np.allclose(after["score"], before["score"])  # the risk stage ran after the survey
    notes = _gpkg(out / "risk.gpkg", "risk_notes").iloc[:, 0].astype(str)
    assert notes.str.startswith("Community safety survey: 150 of 150 communities surveyed").any()


@pytest.mark.slow
def test_the_run_writes_communities_and_the_summary(surveyed, city) -> None:
    out, run = surveyed
    path = out / COMMUNITIES_FILE
    assert run.result.outputs["communities"] == path
    layers = {n for n, _ in pyogrio.list_layers(path)}
    expected = {
        "community_safety", "community_surveys", "community_failed", "community_summary",
        "community_changes", "district_changes", "upgrade_plan", "upgrade_by_community",
        "scores_after_upgrades", "demonstration", "demonstration_quotas",
    }  # fmt: skip
    assert expected <= layers
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    cs = summary["community_safety"]
    latest = _gpkg(path, "community_safety")
    assert cs["synthetic"] is True and cs["communities"] == len(latest) == 150
    assert cs["surveys"] == 180 and cs["resurveyed"] == 30
    assert cs["passed"] == int(latest["passed"].sum())
    assert sum(cs["grades"].values()) == 150
    plan = _gpkg(path, "upgrade_plan")
    assert cs["upgrades"]["budget_cny"] == BUDGET
    assert cs["upgrades"]["spent_cny"] == pytest.approx(plan["cost_cny"].sum())
    assert cs["upgrades"]["spent_cny"] <= BUDGET
    assert cs["upgrades"]["measures"] == len(plan) and cs["upgrades"]["gap"] <= 0.005
    demo = _gpkg(path, "demonstration")
    assert cs["demonstration"]["chosen"] == demo["community_id"].astype(str).tolist()
    assert len(demo) == DEMONSTRATION
    assert summary["outputs"]["communities"] == COMMUNITIES_FILE
    notes = run.result.notes
    assert any(n.startswith("Community safety survey (SYNTHETIC survey") for n in notes)
    assert any("Upgrade plan within 5,000,000 CNY" in n for n in notes)


@pytest.mark.slow
def test_failed_items_join_the_register_once(surveyed, city, tmp_path: Path) -> None:
    out, run = surveyed
    reg = open_register(city["base"] / "demo_register")
    failed = _gpkg(out / COMMUNITIES_FILE, "community_failed")
    events = reg.events[run.events_before :]
    line = next(n for n in run.result.notes if n.startswith("Register "))
    found = re.search(r"(\d+) failed items added", line)
    assert found is not None
    n_new = int(found.group(1))
    # each new item reported and verified; a re-surveyed item still failing is noted on the open
    # item of the first survey, not reported twice (risk_models.community_safety.register)
    assert sum(e.action == "report" for e in events) == sum(e.action == "verify" for e in events) == n_new
    still = sum(e.action == "comment" and "still failing" in e.note for e in events)
    assert still > 0 and n_new + still == len(failed)
    assert "earlier items followed up by re-surveys" in line
    # the register's month, read by the same run after them, holds them: they are on its map
    first = re.search(r"added: (\S+) \.\. (\S+);", line)
    assert first is not None
    specs = read_map_layers((out / "map.html").read_text(encoding="utf-8"))
    drawn = {f["properties"]["id"] for f in specs["register"]["data"]["features"]}
    assert {first.group(1), first.group(2)} <= drawn
    # a re-run adds nothing
    again = run_scenario(city["toml"], tmp_path / "again", cache=False)
    assert len(open_register(city["base"] / "demo_register").events) == len(reg.events)
    line = next(n for n in again.notes if n.startswith("Register "))
    assert "0 failed items added" in line and "already there" in line


def test_a_bad_survey_exits_2_with_nothing_written(city, tmp_path: Path, capsys) -> None:
    from service.cli import main

    rows = pd.read_csv(city["survey"], dtype=str, encoding="utf-8-sig", keep_default_na=False)
    rows.loc[3, "community_id"] = "C999"
    rows.loc[7, "hydrant_pressure"] = "42"
    base = tmp_path / "bad"
    shutil.copytree(city["base"], base, ignore=shutil.ignore_patterns("*.toml"))
    bad_survey = base / "bad_survey.csv"
    rows.to_csv(bad_survey, index=False, encoding="utf-8-sig")
    (base / "scenario.toml").write_text(_toml(base, "bad_survey.csv"), encoding="utf-8")
    events = (base / "demo_register" / "events.jsonl").read_bytes()
    out = tmp_path / "out"
    assert main(["-q", "run", str(base / "scenario.toml"), "--out", str(out), "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "bad_survey.csv" in err and "2 problems" in err
    assert "rows [5]: community codes ['C999']" in err  # spreadsheet rows: the header is row 1
    assert "rows [9]: `hydrant_pressure`" in err and "outside 0..2 MPa" in err
    assert not out.exists() or not any(out.iterdir())  # nothing written
    assert (base / "demo_register" / "events.jsonl").read_bytes() == events  # the register untouched


# ------------------------------------------------------------------------------ the map


@pytest.mark.slow
def test_map_layers_follow_the_grades(surveyed) -> None:
    out, _ = surveyed
    page = (out / "map.html").read_text(encoding="utf-8")
    specs = read_map_layers(page)
    assert set(COMMUNITY_LAYERS) <= set(specs)
    std = load_safety_standard()
    colours = grade_colours(std, load_style())
    assert list(colours.values()) == load_style()["community_safety"]["grade_colours"]  # best first
    spec = specs["community_safety"]
    assert {k: v["fillColor"] for k, v in spec["styleBy"]["values"].items()} == colours
    latest = _gpkg(out / COMMUNITIES_FILE, "community_safety").set_index("community_id")
    features = spec["data"]["features"]
    assert len(features) == len(latest) == 150
    for f in features:
        p = f["properties"]
        row = latest.loc[p["id"]]
        assert p["gr"] == row["grade"] and p["sc"] == pytest.approx(row["score"], abs=0.05)
        if not row["veto_failed"]:
            assert p["gr"] == std.grade_of(float(row["score"]))
    # the popup breaks the failed items down by section, as the file does
    failed = _gpkg(out / COMMUNITIES_FILE, "community_failed")
    dates = latest["survey_date"].astype(str).str[:10]
    failed = failed[
        failed["survey_date"].astype(str).str[:10].to_numpy()
        == dates.reindex(failed["community_id"]).to_numpy()
    ]
    counts = failed.groupby(["community_id", "section"]).size()
    popup = {f[0] for f in spec["popup"]["fields"]}
    assert {f"s_{s}" for s in std.sections.index} <= popup
    for f in features[:40]:
        p = f["properties"]
        for s in std.sections.index:
            n = int(counts.get((p["id"], s), 0))
            assert (f"; {n} failed:" in p[f"s_{s}"]) if n else p[f"s_{s}"].endswith("none failed"), (
                p["id"],
                s,
            )
    ups = _gpkg(out / COMMUNITIES_FILE, "upgrade_by_community")
    assert {f["properties"]["id"] for f in specs["upgrades"]["data"]["features"]} == set(ups["community_id"])
    demo = _gpkg(out / COMMUNITIES_FILE, "demonstration")
    shown = {f["properties"]["id"]: f["properties"] for f in specs["demonstration"]["data"]["features"]}
    assert set(shown) == set(demo["community_id"])
    assert all(p["why"] and p["needs"] for p in shown.values())
    # the legend names every grade in its colour (in the map's language), with the pass mark
    legend = json.loads(re.search(r"'rp-legend', (\".*?\")\);\n", page).group(1))
    for grade, label in grade_labels(std).items():
        assert f"background:{colours[grade]};" in legend.split(label)[0].rsplit("rp-row", 1)[-1]
    assert "safety demonstration community" in legend and "pass mark 80" in legend
    assert "Planned upgrade measures" in legend


def test_grade_colours_spread_over_other_standards() -> None:
    style = load_style()
    ramp = style["community_safety"]["grade_colours"]
    three = SimpleNamespace(grades=(("a", 85.0, "甲"), ("b", 60.0, "乙"), ("c", 0.0, "丙")))
    assert grade_colours(three, style) == {"a": ramp[0], "b": ramp[2], "c": ramp[-1]}  # type: ignore[arg-type]
    assert grade_labels(three)["c"] == "C (below 60)"  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ the report


class _Tables(HTMLParser):
    """The text of every cell of the tables with an id (the top-level page only)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: set[str] = set()
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "table" and a.get("id"):
            self._table = str(a["id"])
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _frame(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows[1:], columns=rows[0])


@pytest.mark.slow
def test_report_section_tables(surveyed) -> None:
    out, _ = surveyed
    text = (out / "report.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(text)
    assert "community-safety" in parser.ids and "SYNTHETIC survey" in text
    path = out / COMMUNITIES_FILE
    districts = _frame(parser.tables["cs-districts"])
    summary = _gpkg(path, "community_summary")
    assert districts["District"].tolist() == summary["district"].tolist()
    assert districts["Pass"].astype(int).tolist() == summary["passed"].astype(int).tolist()
    by = _gpkg(path, "upgrade_by_community").sort_values("risk_reduction", ascending=False, kind="stable")
    priority = _frame(parser.tables["cs-priority"])
    assert len(priority) == min(len(by), 50)
    assert priority["Community"].tolist() == by["community_id"].head(50).tolist()
    cost = priority["Cost CNY"].str.replace(",", "").astype(float)
    np.testing.assert_allclose(cost, by["cost_cny"].head(50).round(), atol=0.5)
    assert priority["Priority"].astype(int).tolist() == list(range(1, len(priority) + 1))
    budget = dict(parser.tables["cs-budget"][1:])  # type: ignore[arg-type]
    plan = _gpkg(path, "upgrade_plan")
    assert budget["Budget (CNY)"] == f"{BUDGET:,.0f}"
    assert budget["Spent (CNY)"].startswith(f"{plan['cost_cny'].sum():,.0f}")
    assert budget["Proven gap"].endswith("%") and "Greedy ratio heuristic, side by side" in budget
    demo = _frame(parser.tables["cs-demonstration"])
    chosen = _gpkg(path, "demonstration")
    assert demo["Community"].tolist() == chosen["community_id"].tolist()
    assert (demo["Why chosen"].str.len() > 0).all() and (demo["Still needs"].str.len() > 0).all()
    quotas = _frame(parser.tables["cs-quotas"])
    assert (quotas["Chosen"].astype(int) >= quotas["Minimum"].astype(int)).all()
    changes = _frame(parser.tables["cs-changes-district"])
    assert changes["Re-surveyed"].astype(int).sum() == 30
    assert 'alt="Community safety scores"' in text and 'alt="Failed items by section"' in text


def test_the_layers_draw_in_a_browser_in_their_grade_colours(browser, city, tmp_path: Path) -> None:
    import time

    from maps import write_map
    from service.communities import assess_communities

    sc = load_scenario(city["gpkg"])
    run = assess_communities(sc["communities"], city["survey"], budget=BUDGET, demonstration=DEMONSTRATION)
    out = write_map(sc, tmp_path / "map.html", community_safety=run, lang="en")
    browser.get(out.as_uri())
    deadline = time.monotonic() + 30
    while not browser.execute_script("return window.riskplanReady === true"):
        assert time.monotonic() < deadline, browser.get_log("browser")
        time.sleep(0.05)
    browser.execute_script("riskplan.showAll()")
    drawn = browser.execute_script("return riskplan.drawn()")
    for key in COMMUNITY_LAYERS:
        assert drawn[key]["drawn"] == drawn[key]["expected"] > 0, (key, drawn[key])
    colours = grade_colours(run.standard, load_style())
    fills = browser.execute_script(
        "var out = {}; riskplan.layers.community_safety.geo.eachLayer(function (l) {"
        "out[l.feature.properties.id] = l._path.getAttribute('fill'); }); return out;"
    )
    grades = run.safety.latest()["grade"].astype(str)
    assert fills == {cid: colours[grades[cid]] for cid in grades.index}
    popup = browser.execute_script(
        "var l = riskplan.layers.community_safety.geo.getLayers()[0]; l.openPopup(l.getBounds().getCenter());"
        "return document.querySelector('.rp-popup').innerText;"
    )
    for label in run.standard.sections["label"]:
        assert label in popup
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
