"""What one request without the API token may cost, and the risk units in canonical form (issue 12).

* ``units`` is parsed into a canonical form (``grid:0100`` is ``grid:100``), range-checked after
  parsing, and every cache is keyed on the canonical form;
* a request without the token is bounded in units built, bytes sent and seconds waited; over a
  bound it gets a 4xx problem naming the limit and how to get more (the token, or a job);
* bbox-filtered GeoJSON is sliced from features rendered once, never re-serialised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from api_factory import create_demo
from census_factory import census_layers
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

from service.api import Settings, create_app
from service.api.budget import AnonymousLimits
from service.api.routes import risk as risk_routes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-limits-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_gpkg(tmp_path_factory.mktemp("src") / "small.gpkg", census_layers()).read_bytes()


def _client(data_dir: Path, **kwargs: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir, api_token=TOKEN, demo_max_nodes=2000, **kwargs)))


def _upload(client: TestClient, gpkg: bytes) -> str:
    r = client.post(f"{API}/scenarios", files={"file": ("small.gpkg", gpkg)}, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _anonymous_limit(r: Any, status: int, limit: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = dict(r.json())
    assert body["type"].endswith("anonymous-limit") and body["errors"][0]["column"] == limit
    assert "API token" in body["detail"] and "Fix:" in body["detail"]
    return body


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, gpkg: bytes) -> Iterator[tuple[TestClient, str]]:
    """A client whose anonymous readers may build at most 100 units, and the small scenario."""
    with _client(tmp_path_factory.mktemp("api"), anonymous=AnonymousLimits(max_units=100)) as client:
        yield client, _upload(client, gpkg)


# -- units in canonical form ----------------------------------------------------------------------


def test_leading_zeros_name_the_same_layer(small: tuple[TestClient, str]) -> None:
    client, sid = small
    risks = client.app.state.analysis.coverage  # type: ignore[attr-defined]
    before = risks.builds
    a = client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:0500"}, headers=AUTH)
    b = client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:500"}, headers=AUTH)
    assert a.status_code == b.status_code == 200 and a.content == b.content
    assert a.headers["x-riskplan-units"] == "grid:500"
    assert risks.builds - before <= 2  # the coverage and one risk layer, not two


@pytest.mark.parametrize(
    "units", ["grid:050", "grid:0050", "grid:99", "grid:10000", "h3:4", "h3:011", "grid:1e3"]
)
def test_units_outside_the_documented_range_are_refused(small: tuple[TestClient, str], units: str) -> None:
    client, sid = small
    r = client.get(f"{API}/scenarios/{sid}/risk", params={"units": units}, headers=AUTH)
    assert r.status_code == 422, r.text


# -- units: what an anonymous request may have built ---------------------------------------------


def test_anonymous_request_over_the_unit_limit_is_refused_before_building(
    small: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, sid = small
    calls: list[str] = []
    real = risk_routes.score_scenario
    monkeypatch.setattr(
        risk_routes, "score_scenario", lambda *a, **k: calls.append(k["units"]) or real(*a, **k)
    )
    r = client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:100"})
    body = _anonymous_limit(r, 403, "units")
    assert "100" in body["detail"] and '"kind": "risk"' in body["detail"] and calls == []
    # the token lifts the limit; once built, anonymous readers get it from the cache
    assert (
        client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:100"}, headers=AUTH).status_code
        == 200
    )
    assert client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:0100"}).status_code == 200
    assert calls == ["grid:100"]


def test_demo_city_grid_of_100_m_is_refused_with_default_limits(tmp_path: Path) -> None:
    """The issue's finding: ``grid:050`` built 90,000 cells for anyone; ``grid:100`` makes 22,500."""
    with _client(tmp_path) as client:
        sid = create_demo(client, TOKEN, seed=1, n_road_nodes=2000)
        _anonymous_limit(
            client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:100"}), 403, "units"
        )
        assert client.get(f"{API}/scenarios/{sid}/risk", params={"units": "grid:050"}).status_code == 422


def test_a_risk_job_gives_token_holders_any_layer_for_anonymous_readers(
    small: tuple[TestClient, str],
) -> None:
    client, sid = small
    job = client.post(
        f"{API}/scenarios/{sid}/jobs", json={"kind": "risk", "params": {"units": "grid:0100"}}, headers=AUTH
    )
    assert job.status_code == 202, job.text
    assert job.json()["params"] == {"units": "grid:100", "standard": "cn-gb51080"}
    deadline = time.monotonic() + 60
    while (status := client.get(f"{API}/jobs/{job.json()['id']}").json()["status"]) not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert status == "succeeded"
    units = client.get(f"{API}/jobs/{job.json()['id']}/result/layers/units").json()["features"]
    assert len(units) > 100 and {f["properties"]["level"] for f in units} <= {
        "blue",
        "yellow",
        "orange",
        "red",
    }


# -- bytes ------------------------------------------------------------------------------------------


def test_anonymous_answers_are_bounded_in_bytes(tmp_path: Path, gpkg: bytes) -> None:
    with _client(tmp_path, anonymous=AnonymousLimits(max_body_bytes=1500)) as client:
        sid = _upload(client, gpkg)
        url = f"{API}/scenarios/{sid}/layers/roads"
        body = _anonymous_limit(client.get(url), 403, "bytes")
        assert "1,500 bytes" in body["detail"] and "`limit`" in body["detail"]
        assert client.get(url, headers=AUTH).status_code == 200
        assert client.get(url, params={"limit": 1}).status_code == 200  # asking for less is the fix


# -- seconds ----------------------------------------------------------------------------------------


def test_anonymous_builds_wait_a_bounded_time_then_come_from_the_cache(
    tmp_path: Path, gpkg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = risk_routes.score_scenario

    def slow(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(risk_routes, "score_scenario", slow)
    limits = AnonymousLimits(max_compute_s=0.2)
    with _client(tmp_path, anonymous=limits) as client:
        sid = _upload(client, gpkg)
        assert client.get(f"{API}/scenarios/{sid}/coverage", headers=AUTH).status_code == 200
        url = f"{API}/scenarios/{sid}/risk"
        r = client.get(url)
        _anonymous_limit(r, 429, "seconds")
        assert int(r.headers["retry-after"]) >= 1
        release.set()  # the build goes on after the request gave up, into the cache
        deadline = time.monotonic() + 60
        while (again := client.get(url)).status_code == 429:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert again.status_code == 200 and again.json()["features"]


def test_a_server_may_compute_nothing_for_anonymous_readers(tmp_path: Path, gpkg: bytes) -> None:
    with _client(tmp_path, anonymous=AnonymousLimits(max_compute_s=0)) as client:
        sid = _upload(client, gpkg)
        url = f"{API}/scenarios/{sid}/coverage"
        _anonymous_limit(client.get(url), 403, "seconds")
        assert client.get(url, headers=AUTH).status_code == 200
        assert client.get(url).status_code == 200  # now it comes from the cache
        assert client.get(f"{API}/scenarios/{sid}/layers/roads").status_code == 200  # layers need no build


def test_a_wrong_token_on_a_public_read_is_a_403(small: tuple[TestClient, str]) -> None:
    client, sid = small
    r = client.get(f"{API}/scenarios/{sid}", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert r.status_code == 403 and "not-the-token" not in r.text


# -- bbox requests slice pre-rendered features -------------------------------------------------------


def test_bbox_requests_do_not_serialise_again(
    small: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, sid = small
    url = f"{API}/scenarios/{sid}/risk"
    whole = client.get(url, params={"units": "grid:250"}, headers=AUTH).json()["features"]
    calls: list[int] = []
    for name in ("to_json", "to_geo_dict"):
        real = getattr(gpd.GeoDataFrame, name)
        monkeypatch.setattr(
            gpd.GeoDataFrame, name, lambda self, *a, _real=real, **k: calls.append(1) or _real(self, *a, **k)
        )
    west, south, east, north = 112.55, 37.85, 112.5575, 37.8575  # the south-west quarter
    for _ in range(3):
        part = client.get(url, params={"units": "grid:250", "bbox": f"{west},{south},{east},{north}"})
        assert part.status_code == 200
    features = part.json()["features"]
    assert 0 < len(features) < len(whole) and part.headers["x-total-count"] == str(len(features))
    assert {f["id"] for f in features} <= {f["id"] for f in whole}
    red = client.get(
        url, params={"units": "grid:250", "level": "red", "bbox": f"{west},{south},{east},{north}"}
    )
    assert all(f["properties"]["level"] == "red" for f in red.json()["features"])
    assert calls == []  # sliced from features rendered once, never serialised again
