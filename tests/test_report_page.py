"""The one-click report page on a phone-sized Chromium: GPS, a category, a photo, the number."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import live_server, wait_for
from PIL import Image

from service.api import Settings, create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "report-page-test-token-0123456789"
LON, LAT = 112.548765, 37.870123
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """uvicorn in a thread on 127.0.0.1; yields (url, the app's register store)."""
    app = create_app(Settings(tmp_path_factory.mktemp("report"), api_token=TOKEN))
    with live_server(app) as url:
        yield url, app.state.service.store.register


def _photo(path: Path) -> Path:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (37.0, 52.0, 12.0), 3: "E", 4: (112.0, 33.0, 1.0)})
    Image.new("RGB", (800, 600), (30, 90, 200)).save(path, "JPEG", exif=exif)
    return path


def test_report_page_on_a_phone(browser: Any, server: tuple[str, Any], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    url, register = server
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True},
    )
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    browser.execute_cdp_cmd(
        "Emulation.setUserAgentOverride",
        {"userAgent": PHONE_UA},
    )
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": url, "permissions": ["geolocation"]})
    browser.execute_cdp_cmd(
        "Emulation.setGeolocationOverride", {"latitude": LAT, "longitude": LON, "accuracy": 8}
    )
    browser.get(url + "/report")
    assert browser.execute_script("return window.innerWidth") == 390
    wait_for(browser, "return document.body.dataset.ready === 'true'", "the category list")
    # mobile-first: nothing wider than the screen
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    browser.find_element(By.ID, "locate").click()
    wait_for(browser, "return document.getElementById('lon').value !== ''", "the GPS position")
    assert abs(float(browser.find_element(By.ID, "lon").get_attribute("value")) - LON) < 1e-5
    browser.find_element(By.CSS_SELECTOR, "[data-category='ebike_indoor_charging']").click()
    browser.find_element(By.ID, "photos").send_keys(str(_photo(tmp_path / "stairwell.jpg")))
    browser.find_element(By.ID, "description").send_keys("楼道内电动车充电")
    browser.find_element(By.ID, "send").click()
    number = wait_for(browser, "return document.body.dataset.number", "the item number")
    assert browser.find_element(By.ID, "number").text == number
    stored = register.get(number)
    assert stored.item.category == "ebike_indoor_charging" and stored.item.source == "public_report"
    assert abs(stored.item.x - LON) < 1e-5 and abs(stored.item.y - LAT) < 1e-5
    (ref,) = register.events(number)[0].attachments
    assert not Image.open(io.BytesIO(register.attachment(ref).data)).getexif()
    # the follow link shows the item's progress
    browser.find_element(By.ID, "follow").click()
    wait_for(browser, "return document.getElementById('f-status').textContent !== ''", "the follow page")
    assert browser.find_element(By.ID, "f-number").text == number
    # the page speaks the browser's language (tests/test_i18n_web.py: Chinese, and the switch)
    reported = "已上报" if browser.execute_script("return document.body.dataset.lang") == "zh" else "reported"
    assert reported in browser.find_element(By.ID, "f-status").text
    assert httpx.get(url + "/report").headers["content-security-policy"].startswith("default-src 'none'")
