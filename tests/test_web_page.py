"""The web page in a real headless browser, served by uvicorn on loopback with a demo city."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import live_server, wait_for

from service.api import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "web-page-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """uvicorn in a thread on 127.0.0.1, with a ~3000-node demo city; yields (url, scenario id)."""
    settings = Settings(tmp_path_factory.mktemp("web"), api_token=TOKEN, demo_max_nodes=5000)
    with live_server(create_app(settings)) as url:
        created = httpx.post(
            f"{url}/api/v1/scenarios/demo", json={"seed": 3, "n_road_nodes": 3000}, headers=AUTH, timeout=120
        )
        assert created.status_code == 201, created.text
        yield url, created.json()["id"]


def test_page_draws_layers_and_answers_a_click(browser: Any, server: tuple[str, str], tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, sid = server
    browser.get(url + "/")
    assert browser.title.startswith("riskplan")
    wait_for(
        browser, f"return !!document.querySelector('#scenario option[value=\"{sid}\"]')", "the scenario list"
    )
    Select(browser.find_element(By.ID, "scenario")).select_by_value(sid)
    wait_for(browser, "return document.body.dataset.coverage === 'ready'", "the coverage layers")

    layers = httpx.get(f"{url}/api/v1/scenarios/{sid}").json()["layers"]
    drawn = browser.execute_script("return document.querySelectorAll('#map path.leaflet-interactive').length")
    assert drawn >= layers["communities"] + layers["hazards"] + layers["fire_stations"]
    fills = browser.execute_script(
        "return Array.from(document.querySelectorAll('#map path.leaflet-interactive'))"
        ".map(p => p.getAttribute('fill'))"
    )
    assert len(set(fills)) >= 3, "communities are coloured by response time"
    assert "Response time" in browser.find_element(By.ID, "legend").text
    assert "communities" in browser.find_element(By.ID, "coverage").text

    # click the map 30 px east of the first fire station: surely on the road network
    station = httpx.get(f"{url}/api/v1/scenarios/{sid}/layers/fire_stations").json()["features"][0]
    lon, lat = station["geometry"]["coordinates"]
    point = browser.execute_script(
        "const p = window.riskplan.map.latLngToContainerPoint([arguments[1], arguments[0]]);"
        "const r = document.getElementById('map').getBoundingClientRect();"
        "return [p.x, p.y, r.width, r.height];",
        lon,
        lat,
    )
    x, y, width, height = point
    element = browser.find_element(By.ID, "map")
    ActionChains(browser).move_to_element_with_offset(
        element, int(x - width / 2 + 30), int(y - height / 2)
    ).click().perform()
    wait_for(
        browser, "return document.querySelectorAll('#response-times .station-time').length >= 3", "times"
    )
    times = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#response-times .response-time")]
    assert len(times) == 3 and all(":" in t for t in times), times
    assert "Covered" in browser.find_element(By.ID, "response-times").text
    lines = browser.execute_script("return document.querySelectorAll('#map path[stroke-dasharray]').length")
    assert lines >= 3, "one dashed line from each of the 3 stations"

    # the risk layer: one polygon per community in the four level colours
    wait_for(browser, "return document.body.dataset.risk === 'ready'", "the risk layer")
    browser.find_element(By.ID, "show-risk").click()
    risk_fills = browser.execute_script(
        "const c = ['#d7191c', '#fdae61', '#ffee58', '#2c7bb6'];"
        "return Array.from(document.querySelectorAll('#map path.leaflet-interactive'))"
        ".map(p => p.getAttribute('fill')).filter(f => c.includes(f));"
    )
    assert len(risk_fills) == layers["communities"]
    assert {"#d7191c", "#2c7bb6"} <= set(risk_fills), "red and blue units both present"

    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_what_if_tool_closes_the_road_clicked(browser: Any, server: tuple[str, str], tmp_path: Path) -> None:
    """whatif.js: with the tool on, a click closes the road there and the change comes back."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    url, sid = server
    browser.get(url + "/")
    wait_for(
        browser, f"return !!document.querySelector('#scenario option[value=\"{sid}\"]')", "the scenario list"
    )
    Select(browser.find_element(By.ID, "scenario")).select_by_value(sid)
    wait_for(browser, "return document.body.dataset.coverage === 'ready'", "the coverage layers")
    browser.find_element(By.ID, "what-if-on").click()
    station = httpx.get(f"{url}/api/v1/scenarios/{sid}/layers/fire_stations").json()["features"][0]
    lon, lat = station["geometry"]["coordinates"]
    roads = httpx.get(f"{url}/api/v1/scenarios/{sid}/layers/roads").json()["features"]
    # the road vertex nearest the first station: a click there closes a road its engines use
    xy = [
        c
        for f in roads
        for c in (f["geometry"]["coordinates"] if f["geometry"]["type"] == "LineString" else [])
    ]
    rlon, rlat = min(xy, key=lambda c: (c[0] - lon) ** 2 + (c[1] - lat) ** 2)
    x, y, width, height = browser.execute_script(
        "const p = window.riskplan.map.latLngToContainerPoint([arguments[1], arguments[0]]);"
        "const r = document.getElementById('map').getBoundingClientRect();"
        "return [p.x, p.y, r.width, r.height];",
        rlon,
        rlat,
    )
    ActionChains(browser).move_to_element_with_offset(
        browser.find_element(By.ID, "map"), int(x - width / 2), int(y - height / 2)
    ).click().perform()
    wait_for(browser, "return document.body.dataset.whatIf === 'ready'", "the what-if answer")
    text = browser.find_element(By.ID, "what-if-result").text
    assert "close the road at 1 point(s)" in text and "resident-seconds lost" in text
    assert browser.find_elements(By.CSS_SELECTOR, "#response-times .station-time") == []  # no point query
    browser.save_screenshot(str(tmp_path / "what_if.png"))
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
