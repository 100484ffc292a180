"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run and machine (tests are deterministic);
# set HYPOTHESIS_PROFILE=explore to search with fresh random examples and a local database.
settings.register_profile("riskplan", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "riskplan"))
# $RISKPLAN_LANG beats a scenario's language (gis.i18n.resolve_lang): a developer's setting must
# not change what the tests read; a test that needs it sets it (monkeypatch.setenv)
os.environ.pop("RISKPLAN_LANG", None)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real-data folder beside the repository (``../shared/data``), or skip the test."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            "../shared/data not found: real-data tests need the shared data folder beside the repository"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_city_osm() -> Path:
    """Hand-written OSM XML: streets, a roundabout, an island, a fire station, hospitals."""
    return FIXTURES / "tiny_city.osm.xml"


def _chromium_paths() -> tuple[str, str] | None:
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser(tmp_path: Path):
    """A headless Chromium driven by Selenium, with console logs; skips when none is installed.

    ``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``, so CI always runs the
    browser tests. Read console messages with ``browser.get_log("browser")``.
    """
    paths = _chromium_paths()
    if paths is None:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver (CI does)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extra")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=paths[1]))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def pg_server():
    """One throwaway PostgreSQL + PostGIS + pgRouting server for the session (:mod:`_pg`).

    Skips with the reason when none can be started (no binaries, no extension, no psycopg),
    except under ``RISKPLAN_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where that is a failure.
    """
    from _pg import ServerUnavailableError, start_server

    try:
        server = start_server()
    except ServerUnavailableError as exc:
        if os.environ.get("RISKPLAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"no PostgreSQL test server, and RISKPLAN_REQUIRE_POSTGRES=1: {exc}")
        pytest.skip(f"no PostgreSQL test server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_dsn(pg_server) -> str:
    """The DSN of a fresh database (with PostGIS and pgRouting) on the session's server."""
    dsn = pg_server.new_database()
    yield dsn
    pg_server.drop_database(dsn)
