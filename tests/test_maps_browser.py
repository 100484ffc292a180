"""The map and the report in a real headless Chromium: every layer draws, no console errors."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from map_factory import map_inputs

from maps import COMMUNITY_LAYERS, LAYER_NAMES, REGISTER_LAYERS, write_map, write_report
from maps.interactive import FLOOD_MAP_LAYERS

TRADEOFF = pd.DataFrame(
    {"n_new": [0, 1, 2], "coverage_share": [0.55, 0.7, 0.8], "mean_response_s": [420, 360, 320]}
)


@pytest.fixture(scope="module")
def inputs():
    sc, risk, cov, stations, depots = map_inputs(
        ["covers the <b>east</b> bank", "industrial park", "new district"], TRADEOFF
    )
    return {"risk": risk, "coverage": cov, "station_plan": stations, "depot_plan": depots}, sc


def _wait_ready(driver, timeout_s: float = 20.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if driver.execute_script("return window.riskplanReady === true"):
            return time.perf_counter() - start
        time.sleep(0.05)
    logs = driver.get_log("browser")
    pytest.fail(f"the map never became ready; console: {logs}")
    return 0.0


def _check_all_layers(driver) -> dict:
    drawn = driver.execute_script("return riskplan.drawn()")
    shown = {k for k, v in drawn.items() if v["shown"]}
    assert {"units", "hazards", "stations", "uncovered", "proposed", "depots"} <= shown
    for key in shown:
        assert drawn[key]["drawn"] == drawn[key]["expected"], (key, drawn[key])
    driver.execute_script("riskplan.showAll()")
    drawn = driver.execute_script("return riskplan.drawn()")
    for key, v in drawn.items():
        assert v["drawn"] == v["expected"] > 0, (key, v)
    # Independent count of the DOM: SVG paths by class, marker icons and cluster totals.
    paths = driver.execute_script("return document.querySelectorAll('path.rp-units').length")
    assert paths == drawn["units"]["expected"]
    icons = driver.execute_script(
        "var n = document.querySelectorAll('.rp-marker.rp-hazard').length;"
        "document.querySelectorAll('.rp-cluster span').forEach(function (s) { n += +s.dataset.count; });"
        "return n;"
    )
    assert icons == drawn["hazards"]["expected"]
    return drawn


def _severe(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_map_draws_every_layer(browser, inputs, tmp_path: Path):
    kwargs, sc = inputs
    out = write_map(sc, tmp_path / "map.html", **kwargs, lang="en")
    browser.get(out.as_uri())
    _wait_ready(browser)
    drawn = _check_all_layers(browser)
    assert drawn["hazards"]["clusters"] > 0
    assert browser.execute_script("return document.querySelectorAll('.rp-legend .rp-row').length") > 10
    assert (
        browser.execute_script(
            "return document.querySelectorAll('.leaflet-control-layers-overlays label').length"
        )
        # every layer but the register's, the survey's, the uncertainty's and a comparison's
        # (`uncertain` needs an analysis, `change` is the compare map's, `station_workload` a
        # reliability run, the flood's a run's flood closures), and the tiles
        == len(
            set(LAYER_NAMES)
            - {
                *REGISTER_LAYERS,
                *COMMUNITY_LAYERS,
                *FLOOD_MAP_LAYERS,
                "uncertain",
                "change",
                "station_workload",
            }
        )
        + 1
    )
    assert browser.execute_script("return !!document.querySelector('.leaflet-control-scale')")
    assert browser.execute_script("return !!document.querySelector('.leaflet-fullscreen-icon')")
    # A tooltip escapes data text.
    html = browser.execute_script(
        "var l = riskplan.layers.proposed.geo.getLayers()[0]; l.openTooltip();"
        "return l.getTooltip().getElement().innerHTML;"
    )
    assert "&lt;b&gt;east" in html and "Demand added" in html
    browser.save_screenshot(str(tmp_path / "map.png"))
    assert (tmp_path / "map.png").stat().st_size > 20_000
    assert _severe(browser) == []


def test_report_opens_with_figures_and_map(browser, inputs, tmp_path: Path):
    kwargs, sc = inputs
    out = write_report(sc, tmp_path / "report.html", **kwargs, lang="en")
    browser.get(out.as_uri())
    widths = browser.execute_script(
        "return Array.from(document.images).map(function (i) { return i.naturalWidth; })"
    )
    assert len(widths) == 4 and min(widths) > 500
    frame = browser.find_element("id", "rp-map")
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    browser.switch_to.frame(frame)
    _wait_ready(browser)
    _check_all_layers(browser)
    browser.switch_to.default_content()
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert _severe(browser) == []
