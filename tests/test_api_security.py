"""Security headers on every answer, and ``/docs`` from local files (issue 12).

Every response, JSON, GeoJSON, the web page, the map and report pages, static files, errors,
carries a Content-Security-Policy, ``X-Frame-Options`` and ``nosniff``. ``/docs`` loads Swagger
UI from this server only, so it works offline; the browser tests render ``/docs`` and a map
page under their policies and find no violation.
"""

from __future__ import annotations

import gzip
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from census_factory import census_layers
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

from service.api import Settings, create_app
from service.api.security import SWAGGER_DIR

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-security-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_gpkg(tmp_path_factory.mktemp("src") / "census.gpkg", census_layers()).read_bytes()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(tmp_path_factory.mktemp("api"), api_token=TOKEN))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sid(client: TestClient, gpkg: bytes) -> str:
    r = client.post(f"{API}/scenarios", files={"file": ("c.gpkg", gpkg)}, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _paths(sid: str) -> list[tuple[str, str, int]]:
    base = f"{API}/scenarios/{sid}"
    return [
        ("get", "/", 200),
        ("get", "/docs", 200),
        ("get", "/openapi.json", 200),
        ("get", "/static/app.js", 200),
        ("get", "/static/vendor/leaflet/leaflet.js", 200),
        ("get", f"{API}/health", 200),
        ("get", f"{API}/scenarios", 200),
        ("get", f"{base}/layers/hazards", 200),
        ("get", f"{base}/coverage", 200),
        ("get", f"{base}/map", 200),
        ("get", f"{base}/report", 200),
        ("get", f"{API}/scenarios/{'0' * 32}", 404),
        ("get", f"{base}/risk?units=hexagons", 422),
        ("put", f"{API}/scenarios", 405),
        ("post", f"{API}/scenarios/demo", 401),
        ("get", "/no-such-page", 404),
    ]


def test_every_answer_carries_the_security_headers(client: TestClient, sid: str) -> None:
    for method, path, status in _paths(sid):
        r = getattr(client, method)(
            path, headers=AUTH if path.endswith(("map", "report", "coverage")) else {}
        )
        assert r.status_code == status, (path, r.text[:200])
        headers = r.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["referrer-policy"] == "no-referrer", path
    json_csp = client.get(f"{API}/health").headers["content-security-policy"]
    assert json_csp.startswith("default-src 'none'")
    page_csp = client.get(f"{API}/scenarios/{sid}/map", headers=AUTH).headers["content-security-policy"]
    assert "connect-src 'none'" in page_csp and "https://tile.openstreetmap.org" in page_csp


def test_the_405_lists_every_method_of_the_path(client: TestClient) -> None:
    r = client.put(f"{API}/scenarios")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    r = client.post(f"{API}/jobs/{'0' * 32}")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_docs_load_nothing_from_another_host(client: TestClient) -> None:
    page = client.get("/docs")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text  # no inline script: the policy allows none
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(ref.startswith("/static/swagger/") for ref in refs), refs
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    bundle = "/static/swagger/swagger-ui-bundle.js"
    packed = client.get(bundle, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.headers["content-type"].startswith(
        "text/javascript"
    )
    raw = client.get(bundle, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and b"SwaggerUIBundle" in raw.content
    assert (
        gzip.decompress((SWAGGER_DIR / "swagger-ui-bundle.js.gz").read_bytes())
        == raw.content
        == packed.content
    )
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not served
    for path in SWAGGER_DIR.iterdir():
        assert path.stat().st_size < 1_000_000, path
    assert "Apache License" in (SWAGGER_DIR / "LICENSE").read_text()


# -- in a real browser: the policies do not break the pages ----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, gpkg: bytes) -> Iterator[tuple[str, str]]:
    uvicorn = pytest.importorskip("uvicorn")
    app = create_app(Settings(tmp_path_factory.mktemp("web"), api_token=TOKEN))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    sid = httpx.post(
        f"{url}{API}/scenarios", files={"file": ("c.gpkg", gpkg)}, headers=AUTH, timeout=60
    ).json()["id"]
    try:
        yield url, sid
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _wait(browser: Any, script: str, what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _resources_outside(browser: Any, url: str) -> list[str]:
    names = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not n.startswith(url) and not n.startswith("data:")]


def test_docs_render_offline_under_their_policy(browser: Any, served: tuple[str, str]) -> None:
    url, _ = served
    browser.get(url + "/docs")
    count = _wait(browser, "return document.querySelectorAll('.opblock').length", "the operations")
    assert count >= 20
    assert _resources_outside(browser, url) == []
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_the_map_page_renders_under_its_policy(browser: Any, served: tuple[str, str]) -> None:
    url, sid = served
    # the page is built once with the token; the browser (no token) reads it from the cache
    assert httpx.get(f"{url}{API}/scenarios/{sid}/map", headers=AUTH, timeout=120).status_code == 200
    browser.get(f"{url}{API}/scenarios/{sid}/map")
    _wait(browser, "return document.querySelectorAll('.leaflet-interactive').length > 3", "the map layers")
    assert _resources_outside(browser, url) == []
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
