"""The web page's vector-tile path in a real headless browser: risk drawn from ``.mvt`` tiles.

The switch threshold is lowered so a small demo city's communities are drawn from tiles; the
test checks that the page took the tile path, that the canvas tiles hold the four level
colours, and that hovering a community shows its tooltip (name, level, score), as the
GeoJSON path does (the tiles are not interactive: the page asks the server for the feature
under the mouse); then that the roads are drawn from their tiles. One page load.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import shapely
from live_server import live_server, wait_for

from service.api import Settings, create_app
from service.api.routes import tiles as tile_routes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "web-tiles-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

#: The canvas tiles, and how many of their (sampled) pixels have each level's fill colour.
_COUNT_COLOURS = """
const colours = {red: [215, 25, 28], orange: [253, 174, 97], yellow: [255, 238, 88], blue: [44, 123, 182]};
const canvases = Array.from(document.querySelectorAll('#map canvas.leaflet-tile'));
const counts = {red: 0, orange: 0, yellow: 0, blue: 0};
for (const c of canvases) {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < data.length; i += 16) {
    if (data[i + 3] === 0) continue;
    for (const [level, rgb] of Object.entries(colours)) {
      if (rgb.every((v, k) => Math.abs(data[i + k] - v) <= 3)) counts[level]++;
    }
  }
}
return [canvases.length, counts];
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """uvicorn in a thread on 127.0.0.1 with a small demo city; yields (url, scenario id)."""
    settings = Settings(tmp_path_factory.mktemp("web-tiles"), api_token=TOKEN, demo_max_nodes=5000)
    with live_server(create_app(settings)) as url:
        created = httpx.post(
            f"{url}/api/v1/scenarios/demo", json={"seed": 5, "n_road_nodes": 2000}, headers=AUTH, timeout=120
        )
        assert created.status_code == 201, created.text
        yield url, created.json()["id"]


@pytest.mark.slow  # a browser, a demo city and its coverage: about 15 s
def test_the_page_draws_risk_from_vector_tiles_with_tooltips(
    browser: Any, server: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    monkeypatch.setattr(tile_routes, "GEOJSON_MAX_FEATURES", 0)  # every layer is "big"
    url, sid = server
    browser.get(url + "/")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    wait_for(
        browser, f"return !!document.querySelector('#scenario option[value=\"{sid}\"]')", "the scenarios"
    )
    for name in ("communities", "hazards", "stations"):  # the risk layer alone under the mouse
        browser.find_element(By.ID, f"show-{name}").click()
    browser.find_element(By.ID, "show-risk").click()
    Select(browser.find_element(By.ID, "scenario")).select_by_value(sid)
    wait_for(browser, "return document.body.dataset.riskTiles === 'loaded'", "the risk tiles", timeout_s=60)
    assert browser.execute_script("return document.body.dataset.riskSource") == "tiles"

    canvases, counts = browser.execute_script(_COUNT_COLOURS)
    assert canvases > 0 and counts["red"] > 50 and counts["blue"] > 50, (canvases, counts)

    # hover the inside of the highest-risk community: the tile feature's tooltip names it
    top = httpx.get(f"{url}/api/v1/scenarios/{sid}/risk/top?n=1", headers=AUTH).json()[0]
    communities = httpx.get(f"{url}/api/v1/scenarios/{sid}/layers/communities", headers=AUTH).json()
    feature = next(f for f in communities["features"] if str(f["id"]) == top["unit_id"])
    inside = shapely.geometry.shape(feature["geometry"]).representative_point()
    browser.execute_script(
        "window.riskplan.map.setView([arguments[1], arguments[0]], 15, {animate: false});", inside.x, inside.y
    )
    wait_for(browser, "return document.body.dataset.riskTiles === 'loaded'", "the tiles at zoom 15")
    x, y, width, height = browser.execute_script(
        "const p = window.riskplan.map.latLngToContainerPoint([arguments[1], arguments[0]]);"
        "const r = document.getElementById('map').getBoundingClientRect();"
        "return [p.x, p.y, r.width, r.height];",
        inside.x,
        inside.y,
    )
    element = browser.find_element(By.ID, "map")
    actions = ActionChains(browser)
    actions.move_to_element_with_offset(element, int(x - width / 2) - 3, int(y - height / 2))
    actions.move_to_element_with_offset(element, int(x - width / 2), int(y - height / 2)).perform()
    text = wait_for(
        browser,
        "const t = document.querySelector('.leaflet-tooltip'); return t ? t.textContent : '';",
        "the tooltip",
        timeout_s=10,
    )
    name = top["name"] or top["unit_id"]
    assert name in text and f"risk {top['level']}" in text and "vs the median unit" in text, text
    # the roads above the (lowered) threshold: drawn from /tiles/roads, below the risk layer
    browser.find_element(By.ID, "show-roads").click()
    wait_for(browser, "return document.body.dataset.roadTiles === 'loaded'", "the road tiles", timeout_s=60)
    assert browser.execute_script("return document.body.dataset.roadsSource") == "tiles"
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
