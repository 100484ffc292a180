"""The worst hour's isochrones and districts next to the free-flow ones (issue 17): run, coverage, map.

At the worst hour the coverage's ``isochrones`` and ``districts`` are those of the build speeds
(equal to a coverage on the free-flow graph) and ``isochrones_worst_hour`` / ``districts_worst_hour``
those of the worst hour, with the hour; the map draws them as layers of their own whose names and
legend name the hour, in English and Chinese, and a real browser draws every feature.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from scenario_factory import write_toml


@pytest.fixture(scope="module")
def worst(tmp_path_factory: pytest.TempPathFactory):
    """The tiny scenario, its free-flow graph and coverage, and the worst hour's coverage with both."""
    from gis import load_scenario, scenario_graph
    from planning import analyse_coverage
    from planning.hours import TimeOfDay
    from service.hours_run import prepare_hours

    base = tmp_path_factory.mktemp("worst_hour")
    sc = load_scenario(write_toml(base))
    g = scenario_graph(sc, cache=False)
    hours = prepare_hours(sc, g, TimeOfDay(hour="worst"), table=False)
    assert hours.worst and hours.hour is not None
    at_worst = analyse_coverage(sc, hours.graph)
    both = hours.with_free_flow(at_worst, sc, g)
    return sc, analyse_coverage(sc, g), at_worst, both, hours.hour


def test_the_worst_hour_coverage_holds_the_free_flow_and_the_worst_hour_layers(worst) -> None:
    _, free, at_worst, both, hour = worst
    areas = both.isochrones.sort_values(["station", "break_s"])["area_km2"].to_numpy()
    np.testing.assert_allclose(areas, free.isochrones.sort_values(["station", "break_s"])["area_km2"])
    assert both.districts.index.tolist() == free.districts.index.tolist()
    iso = both.extra_layers["isochrones_worst_hour"]
    assert set(iso["hour"]) == {hour} and len(iso) == len(at_worst.isochrones)
    assert iso["area_km2"].sum() < both.isochrones["area_km2"].sum()  # the peak reaches less
    assert set(both.extra_layers["districts_worst_hour"]["hour"]) == {hour}
    # the places keep the worst hour's response times
    pd.testing.assert_series_equal(
        both.communities["response_time_s"], at_worst.communities["response_time_s"]
    )


@pytest.mark.parametrize(
    ("lang", "iso_name", "legend"),
    [
        ("en", "Isochrones at the worst hour ({h})", "Worst hour {h}"),
        ("zh", "最不利时段等时圈（{h}）", "最不利时段 {h}"),  # noqa: RUF001 - Chinese brackets
    ],
)
def test_the_map_draws_the_worst_hour_layers_named_by_the_hour(worst, lang: str, iso_name: str, legend: str):
    from maps import read_map_layers, risk_map

    sc, _, _, both, hour = worst
    page = risk_map(sc, coverage=both, lang=lang).get_root().render()
    h = f"{hour:02d}:00"
    control = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.DOTALL).group(1)
    assert json.dumps(iso_name.format(h=h)) in control  # folium writes names \u-escaped
    specs = read_map_layers(page)
    assert {"isochrones", "isochrones_worst_hour", "districts", "districts_worst_hour"} <= set(specs)
    bands = {f["properties"]["b"] for f in specs["isochrones_worst_hour"]["data"]["features"]}
    assert bands == {f"{b:g}" for b in both.extra_layers["isochrones_worst_hour"]["break_min"]}
    assert legend.format(h=h) in page


def test_coverage_worst_hour_writes_both(tmp_path: Path) -> None:
    from service import cli

    toml = write_toml(tmp_path)
    out = tmp_path / "cov.gpkg"
    assert cli.main(["-q", "coverage", str(toml), "--out", str(out), "--worst-hour", "--no-cache"]) == 0
    table = pd.read_csv(tmp_path / "cov_response_by_hour.csv", index_col="hour")
    hour = int(table.index[table["worst"]][0])
    layers = {str(n) for n, _ in pyogrio.list_layers(out)}
    assert {"isochrones", "districts", "isochrones_worst_hour", "districts_worst_hour"} <= layers
    iso = pyogrio.read_dataframe(out, layer="isochrones_worst_hour")
    assert set(iso["hour"]) == {hour}
    assert iso["area_km2"].sum() < pyogrio.read_dataframe(out, layer="isochrones")["area_km2"].sum()


@pytest.mark.slow
def test_a_worst_hour_run_writes_and_draws_the_worst_hour_layers(tmp_path: Path, browser) -> None:
    from service.workflow import run_scenario

    out = tmp_path / "out"
    run_scenario(
        write_toml(tmp_path, '[time_of_day]\nhour = "worst"\n'), out, cache=False, n_new=1, lang="en"
    )
    layers = {str(n) for n, _ in pyogrio.list_layers(out / "coverage.gpkg")}
    assert {"isochrones_worst_hour", "districts_worst_hour"} <= layers
    browser.get((out / "map.html").as_uri())
    start = time.perf_counter()
    while not browser.execute_script("return window.riskplanReady === true"):
        assert time.perf_counter() - start < 30, browser.get_log("browser")
        time.sleep(0.05)
    browser.execute_script("riskplan.showAll()")
    drawn = browser.execute_script("return riskplan.drawn()")
    for key in ("isochrones", "isochrones_worst_hour", "districts_worst_hour"):
        assert drawn[key]["drawn"] == drawn[key]["expected"] > 0, (key, drawn[key])
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".map(function (l) { return l.innerText.trim(); })"
    )
    assert any(re.fullmatch(r"Isochrones at the worst hour \(\d\d:00\)", t) for t in labels), labels
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
