"""What if in ``riskplan run`` (issue 17): ``[what_if]``, ``--close``, the closure layers and section.

The run's difference equals :func:`planning.what_if` on the same change and the same hour's
graph; its isochrones and districts after the change equal those of the changed scenario; the
station plan reads the run's hour; the map draws the closure impact and the closed roads (in a
real browser too), the report has "Road closures" in both languages; a bad ``[what_if]`` stops
the run with exit 2 and nothing written; ``coverage --close`` draws the changed stations' districts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from scenario_factory import write_toml

from gis.errors import InputError

HOUR = 18
CLOSE_CSV = "name\nr2\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of the tiny scenario at 18:00 with a road closed by name (``[what_if]``)."""
    from service import cli
    from service.workflow import run_scenario

    base = tmp_path_factory.mktemp("run_what_if")
    toml = write_toml(base, f'[time_of_day]\nhour = {HOUR}\n\n[what_if]\nclose = "closures.csv"\n')
    (base / "closures.csv").write_text(CLOSE_CSV)
    (base / "out").mkdir()  # `riskplan criticality` wrote its ranking into the run's folder before
    assert cli.main(["-q", "criticality", str(toml), "--out", str(base / "out" / "criticality.gpkg")]) == 0
    run_scenario(toml, base / "out", cache=False, n_new=1, lang="en")
    return base


def _reference(base: Path):
    """The scenario, its graph at the run's hour and planning.what_if of the same change on it."""
    from gis import load_scenario, scenario_graph
    from gis.network import graph_at_hour
    from planning.change import read_change
    from planning.what_if import what_if, what_if_baseline

    sc = load_scenario(base / "scenario.toml")
    g = graph_at_hour(scenario_graph(sc, cache=False), HOUR)
    change = read_change(base / "closures.csv")
    base_ = what_if_baseline(g, sc["fire_stations"], sc["communities"])
    return sc, g, change, what_if(base_, change)


def test_the_run_writes_the_difference_planning_what_if_gives(run_dir: Path) -> None:
    _, _, _, ref = _reference(run_dir)
    gpkg = run_dir / "out" / "coverage.gpkg"
    got = pyogrio.read_dataframe(gpkg, layer="what_if_communities").set_index("id")
    exp = ref.communities
    assert got.index.tolist() == exp.index.astype(str).tolist()
    for col in ("response_before_s", "response_after_s", "seconds_lost"):
        np.testing.assert_allclose(got[col].to_numpy(float), exp[col].to_numpy(float), rtol=1e-9)
    for col in ("loses_coverage", "cut_off", "covered_after"):
        assert got[col].astype(bool).tolist() == exp[col].astype(bool).tolist()
    assert (got["seconds_lost"].fillna(np.inf) > 0).any()  # the closure costs someone something
    roads = pyogrio.read_dataframe(gpkg, layer="closed_roads")
    assert sorted(roads["edge"]) == sorted(ref.closed_edges["edge"]) and set(roads["name"]) == {"r2"}
    summary = json.loads((run_dir / "out" / "summary.json").read_text())["coverage"]["what_if"]
    for key in ("residents_losing_coverage", "residents_cut_off", "resident_seconds_lost"):
        assert summary[key] == pytest.approx(ref.summary[key])
    assert "r2" in summary["change"]


def test_the_run_writes_isochrones_and_districts_after_the_change(run_dir: Path) -> None:
    from planning import analyse_coverage

    sc, g, change, _ = _reference(run_dir)
    changed, closed = change.apply(sc, g)
    after = analyse_coverage(changed, closed)
    gpkg = run_dir / "out" / "coverage.gpkg"
    iso = pyogrio.read_dataframe(gpkg, layer="isochrones_after_change")
    base_iso = pyogrio.read_dataframe(gpkg, layer="isochrones")
    np.testing.assert_allclose(
        iso.sort_values("break_s")["area_km2"], after.isochrones.sort_values("break_s")["area_km2"], rtol=1e-6
    )
    assert iso["area_km2"].sum() < base_iso["area_km2"].sum()  # a road closed: less is reached
    districts = pyogrio.read_dataframe(gpkg, layer="districts_after_change")
    assert len(districts) == len(after.districts)


def test_the_station_plan_reads_the_run_hour(run_dir: Path) -> None:
    from gis import load_scenario, scenario_graph
    from planning import plan_stations

    sc = load_scenario(run_dir / "scenario.toml")
    free = plan_stations(sc, scenario_graph(sc, cache=False), n_new=1).communities["response_before_s"]
    got = pyogrio.read_dataframe(run_dir / "out" / "stations.gpkg", layer="communities").set_index("id")
    cov = pyogrio.read_dataframe(run_dir / "out" / "coverage.gpkg", layer="communities").set_index("id")
    before = got["response_before_s"].to_numpy(float)
    assert (before > free.to_numpy(float) + 1).all()  # the peak's times, not the build speeds'
    np.testing.assert_allclose(before, cov["response_time_s"].to_numpy(float), rtol=1e-6)


def test_the_map_and_report_of_the_run_show_the_closure(run_dir: Path) -> None:
    from maps import read_map_layers

    page = (run_dir / "out" / "map.html").read_text(encoding="utf-8")
    specs = read_map_layers(page)
    assert {"closure_impact", "closed_roads"} <= set(specs)
    control = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.DOTALL).group(1)
    assert '"Closure impact"' in control and '"Closed roads"' in control
    classes = {f["properties"]["k"] for f in specs["closure_impact"]["data"]["features"]}
    assert classes and classes <= {"cut", "lost", "s120", "s30", "s0", "faster", "gain"}
    assert len(specs["closed_roads"]["data"]["features"]) > 0
    ranking = pyogrio.read_dataframe(run_dir / "out" / "criticality.gpkg", layer="criticality")
    assert len(specs["criticality"]["data"]["features"]) == len(ranking) > 0
    assert '"Criticality ranking"' in control
    report = (run_dir / "out" / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="road-closures">Road closures</h2>' in report
    assert "residents losing coverage" in report and 'id="closure-communities"' in report


def test_the_closure_section_and_layers_in_chinese(tmp_path: Path) -> None:
    import geopandas as gpd
    import shapely

    from gis import load_scenario, scenario_graph
    from maps import read_map_layers, report_html
    from planning import analyse_coverage
    from planning.change import ScenarioChange
    from risk_models import score_scenario
    from service.what_if_run import attach_what_if

    sc = load_scenario(write_toml(tmp_path))
    g = scenario_graph(sc, cache=False)
    cov = analyse_coverage(sc, g, breaks_s=[300])
    temporary = gpd.GeoDataFrame(
        {"id": ["T1"]}, geometry=[shapely.Point(112.56, 37.86)], crs=4326, index=pd.Index(["T1"], name="id")
    )
    change = ScenarioChange(closed_names=("r2",), stations_out=("FS1",), temporary_stations=temporary)
    cov, diff = attach_what_if(cov, sc, g, change, standard="cn-gb51080")
    risk = score_scenario(sc, learn=False, response_time_s=cov.communities["response_time_s"])
    page = report_html(sc, risk=risk, coverage=cov, lang="zh")
    assert '<h2 id="road-closures">道路封闭</h2>' in page and "失去响应时间覆盖的居民" in page
    assert "Road closures" not in page
    assert "停勤消防站：FS1" in page and "临时执勤点：T1" in page  # noqa: RUF001 - Chinese colon
    specs = read_map_layers(page)
    assert len(specs["closure_impact"]["data"]["features"]) == int(
        (diff.communities["seconds_lost"].fillna(np.inf) != 0).sum()
    )
    assert "道路封闭影响" in page and "封闭道路" in page


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ('[what_if]\nclose = "nowhere.csv"\n', r"what_if.*nowhere\.csv.*does not exist"),
        ('[what_if]\nclosed = "closures.csv"\n', "unknown keys"),
        ("[what_if]\n", "changes nothing"),
        ('[what_if]\nclose = "bad.csv"\n', "No road of the graph is named"),
        ('[what_if]\nstations_out = ["FS9"]\n', "FS9"),
        ('[what_if]\nstations_out = ["FS1"]\n', "every station"),
        ("[what_if]\n[[what_if.temporary_stations]]\nx = 1\ny = 2\n", "needs `crs`"),
    ],
)
def test_a_bad_what_if_exits_2_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, match: str
) -> None:
    from service import cli

    toml = write_toml(tmp_path, table)
    (tmp_path / "closures.csv").write_text(CLOSE_CSV)
    (tmp_path / "bad.csv").write_text("name\nNo Such Bridge\n")
    out = tmp_path / "out"
    assert cli.main(["-q", "run", str(toml), "--out", str(out), "--no-cache", "--new", "1"]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err, re.DOTALL) and "Fix" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_what_if_options_merge_the_table_and_close(tmp_path: Path) -> None:
    from gis import load_scenario, scenario_graph
    from planning.change import ScenarioChange
    from service.what_if_run import check_what_if, what_if_options

    table = (
        '[what_if]\nclose = "closures.csv"\nstations_out = ["FS1"]\ncrs = "EPSG:4326"\n'
        '[[what_if.temporary_stations]]\nid = "T1"\nx = 112.56\ny = 37.86\n'
    )
    toml = write_toml(tmp_path, table)
    (tmp_path / "closures.csv").write_text(CLOSE_CSV)
    (tmp_path / "more.csv").write_text("name\nr3\n")
    sc = load_scenario(toml)
    change = what_if_options(sc, close=tmp_path / "more.csv")
    assert change is not None
    assert change.closed_names == ("r2", "r3") and change.stations_out == ("FS1",)
    assert change.temporary_station_ids() == ["T1"]
    check_what_if(change, sc, scenario_graph(sc, cache=False))  # FS1 out, T1 in: fine
    with pytest.raises(InputError, match="every station"):
        check_what_if(ScenarioChange(stations_out=("FS1",)), sc, scenario_graph(sc, cache=False))


def test_coverage_close_draws_the_changed_stations_districts_and_isochrones(tmp_path: Path) -> None:
    from service import cli

    toml = write_toml(tmp_path)
    change = tmp_path / "change.toml"
    change.write_text(
        'crs = "EPSG:4326"\n[stations]\nout = ["FS1"]\n'
        '[[stations.temporary]]\nid = "T1"\nx = 112.56\ny = 37.86\n'
    )
    out = tmp_path / "cov.gpkg"
    assert (
        cli.main(["-q", "coverage", str(toml), "--out", str(out), "--no-cache", "--close", str(change)]) == 0
    )
    districts = pyogrio.read_dataframe(out, layer="districts")
    iso = pyogrio.read_dataframe(out, layer="isochrones")
    assert set(districts["station"] if "station" in districts else districts.iloc[:, 0]) == {"T1"}
    assert set(iso["station"]) == {"T1"}
    diff = pyogrio.read_dataframe(out, layer="what_if_communities")
    assert set(diff["nearest_after"]) == {"T1"}


@pytest.mark.slow
def test_the_closure_layers_draw_in_a_browser(browser, run_dir: Path) -> None:
    import time

    browser.get((run_dir / "out" / "map.html").as_uri())
    start = time.perf_counter()
    while not browser.execute_script("return window.riskplanReady === true"):
        assert time.perf_counter() - start < 30, browser.get_log("browser")
        time.sleep(0.05)
    browser.execute_script("riskplan.showAll()")
    drawn = browser.execute_script("return riskplan.drawn()")
    for key in ("closure_impact", "closed_roads", "criticality"):
        assert drawn[key]["drawn"] == drawn[key]["expected"] > 0, (key, drawn[key])
    legend = browser.execute_script("return document.querySelector('.rp-legend').innerText")
    assert "Closure impact" in legend and "Closed roads" in legend
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--close", "nowhere.csv"], r"nowhere\.csv.*does not exist"),
        (["--close", "bad.csv"], "No road of the graph is named"),
        (["--hour", "25"], "0-23"),
    ],
)
def test_bad_run_flags_exit_2_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], match: str
) -> None:
    from service import cli

    toml = write_toml(tmp_path)
    (tmp_path / "bad.csv").write_text("name\nNo Such Bridge\n")
    flags = [str(tmp_path / f) if f.endswith(".csv") else f for f in flags]
    out = tmp_path / "out"
    assert cli.main(["-q", "run", str(toml), "--out", str(out), "--no-cache", "--new", "1", *flags]) == 2
    err = capsys.readouterr().err
    assert re.search(match, err, re.DOTALL) and "Fix" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_a_criticality_file_that_cannot_be_read_is_left_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from service.what_if_run import CRITICALITY_FILE, with_criticality

    coverage = object()  # never touched when the file is left out
    assert with_criticality(coverage, tmp_path) is coverage  # no file: nothing to draw
    (tmp_path / CRITICALITY_FILE).write_text("not a GeoPackage")
    with caplog.at_level("WARNING"):
        assert with_criticality(coverage, tmp_path) is coverage  # type: ignore[arg-type]
    assert "leaves the criticality ranking out" in caplog.text
