"""Result endpoints (coverage, districts, violations, isochrones), the point query and the page files.

The answers are checked against the library called directly (``planning.analyse_coverage``)
and against networkx shortest paths on the small hand-made grid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pyproj
import pytest
from fastapi.testclient import TestClient
from scenario_factory import write_gpkg

import planning
from gis import load_scenario, scenario_graph
from service.api import STATIC_DIR, VENDOR_DIR, Settings, create_app
from service.api.caches import BuildCache
from service.api.routes import coverage as coverage_routes
from service.api.routes import query as query_routes

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-results-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = "/api/v1"
UNKNOWN = "0" * 32
STANDARDS = ["cn-gb51080", "cn-micro-135", "nfpa-1710"]
TURNOUT_S = 60.0  # GB 51080


def _settings(data_dir: Path, **kwargs: Any) -> Settings:
    base: dict[str, Any] = {"api_token": TOKEN, "demo_max_nodes": 2000}
    return Settings(data_dir, **(base | kwargs))


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return dict(r.json())


@pytest.fixture(scope="module")
def gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gpkg(tmp_path_factory.mktemp("src") / "small.gpkg")


def _upload(client: TestClient, gpkg: Path) -> str:
    r = client.post(f"{API}/scenarios", files={"file": ("small.gpkg", gpkg.read_bytes())}, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path_factory.mktemp("api")))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def sid(client: TestClient, gpkg: Path) -> str:
    return _upload(client, gpkg)


@pytest.fixture(scope="module")
def demo_sid(client: TestClient) -> str:
    r = client.post(f"{API}/scenarios/demo", json={"seed": 5}, headers=AUTH)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


# -- coverage -----------------------------------------------------------------------------------


def test_coverage_summary_matches_the_library(client: TestClient, sid: str, gpkg: Path) -> None:
    body = client.get(f"{API}/scenarios/{sid}/coverage").json()
    scenario = load_scenario(gpkg)
    reference = planning.analyse_coverage(scenario, scenario_graph(scenario, cache=False))
    assert body["standard"]["name"] == "cn-gb51080" and body["standard"]["response_s"] == 300
    assert set(body["layers"]) == {"communities", "hazards", "area_units"}
    for layer, row in reference.summary.iterrows():
        got = body["layers"][layer]
        assert (got["features"], got["covered"]) == (row["features"], row["covered"])
        assert got["share_covered"] == pytest.approx(row["share_weight"])
        assert got["p95_response_s"] == pytest.approx(row["p95_response_s"])
    assert body["violations"] == len(reference.violations) == 0
    assert body["hazards_by_grade"] and body["synthetic"] is False
    results = client.get(f"{API}/scenarios/{sid}").json()["results"]
    assert {"coverage_cn_gb51080", "coverage_cn_gb51080_summary"} <= set(results)
    other = client.get(f"{API}/scenarios/{sid}/coverage", params={"standard": "nfpa-1710"}).json()
    assert other["standard"]["name"] == "nfpa-1710" and other["standard"]["response_s"] == 320


@pytest.mark.parametrize("layer", ["communities", "hazards", "area_units", "stations"])
def test_coverage_layers_are_geojson_in_degrees(client: TestClient, sid: str, layer: str) -> None:
    r = client.get(f"{API}/scenarios/{sid}/coverage/{layer}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    features = r.json()["features"]
    assert features and r.headers["x-total-count"] == str(len(features))
    for feature in features:
        coords = np.array(re.findall(r"-?\d+\.\d+", str(feature["geometry"]["coordinates"])), float)
        assert ((coords > 37) & (coords < 113)).all()  # lon ~112.5, lat ~37.8
        if layer != "stations":
            props = feature["properties"]
            assert props["response_time_s"] >= TURNOUT_S and isinstance(props["covered"], bool)
            assert props["travel_time_s"] == pytest.approx(props["response_time_s"] - TURNOUT_S)


def test_coverage_bbox_filter(client: TestClient, sid: str) -> None:
    url = f"{API}/scenarios/{sid}/coverage/hazards"
    near_h1 = client.get(url, params={"bbox": "112.55,37.85,112.552,37.852"})
    assert [f["id"] for f in near_h1.json()["features"]] == ["H1"]
    assert client.get(url, params={"bbox": "0,0,1,1"}).json()["features"] == []
    _problem(client.get(url, params={"bbox": "1,2,3"}), 422)


def test_isochrones_districts_and_violations(client: TestClient, sid: str) -> None:
    iso = client.get(f"{API}/scenarios/{sid}/isochrones").json()["features"]
    assert {f["properties"]["break_min"] for f in iso} <= {3.0, 5.0, 8.0} and iso
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in iso)
    districts = client.get(f"{API}/scenarios/{sid}/districts").json()["features"]
    assert [f["properties"]["station"] for f in districts] == ["FS1"]
    assert client.get(f"{API}/scenarios/{sid}/violations").json() == []


def test_demo_city_violations_and_summary(client: TestClient, demo_sid: str) -> None:
    summary = client.get(f"{API}/scenarios/{demo_sid}/coverage").json()
    assert summary["synthetic"] and "synthetic" in summary["scenario"]
    violations = client.get(f"{API}/scenarios/{demo_sid}/violations").json()
    assert len(violations) == summary["violations"] > 0
    assert sum(summary["violations_by_kind"].values()) == len(violations)
    assert all(v["station"].startswith("FS") and v["message"] for v in violations)
    share = summary["layers"]["communities"]["share_covered"]
    assert 0 < share < 1  # the east of the demo city is poorly covered, on purpose


def test_coverage_is_computed_once_under_concurrent_first_requests(
    tmp_path: Path, gpkg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = coverage_routes.analyse_coverage

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["standard"])
        return real(*args, **kwargs)

    monkeypatch.setattr(coverage_routes, "analyse_coverage", counting)
    with TestClient(create_app(_settings(tmp_path))) as c:
        scenario_id = _upload(c, gpkg)
        urls = [
            f"{API}/scenarios/{scenario_id}/{p}" for p in ("coverage", "coverage/communities", "districts")
        ]
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda u: c.get(u).status_code, urls * 2))
        assert statuses == [200] * 6 and calls == ["cn-gb51080"]
    with TestClient(create_app(_settings(tmp_path))) as restarted:  # read back from the store
        assert restarted.get(f"{API}/scenarios/{scenario_id}/coverage").status_code == 200
    assert calls == ["cn-gb51080"]


ENDPOINTS = ["coverage", "coverage/communities", "isochrones", "districts", "violations"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unknown_standard_names_the_valid_ones(client: TestClient, sid: str, path: str) -> None:
    body = _problem(client.get(f"{API}/scenarios/{sid}/{path}", params={"standard": "gb-9999"}), 422)
    assert "gb-9999" in body["detail"] and all(name in body["detail"] for name in STANDARDS)


@pytest.mark.parametrize("path", [*ENDPOINTS, "response-times?lon=112.55&lat=37.85"])
def test_unknown_scenario_is_404(client: TestClient, path: str) -> None:
    _problem(client.get(f"{API}/scenarios/{UNKNOWN}/{path}"), 404)


def test_unknown_coverage_layer(client: TestClient, sid: str) -> None:
    _problem(client.get(f"{API}/scenarios/{sid}/coverage/roads"), 422)


# -- point query ----------------------------------------------------------------------------------


def _lonlat(gpkg: Path, node: Any) -> tuple[float, float]:
    graph = scenario_graph(load_scenario(gpkg), cache=False)
    to_wgs84 = pyproj.Transformer.from_crs(graph.crs, 4326, always_xy=True)
    lon, lat = to_wgs84.transform(*graph.node_xy[node])
    return float(lon), float(lat)


def test_point_query_matches_networkx(client: TestClient, sid: str, gpkg: Path) -> None:
    scenario = load_scenario(gpkg)
    graph = scenario_graph(scenario, cache=False)
    station = scenario["fire_stations"].geometry.iloc[0]
    source = int((((graph.node_xy - (station.x, station.y)) ** 2).sum(axis=1)).argmin())
    travel = nx.single_source_dijkstra_path_length(graph.to_networkx(), source, weight="travel_time_s")
    for target in graph.nodes.tolist()[:: max(1, graph.n_nodes // 5)]:
        lon, lat = _lonlat(gpkg, target)
        body = client.get(f"{API}/scenarios/{sid}/response-times", params={"lon": lon, "lat": lat}).json()
        assert body["snap_distance_m"] < 1 and len(body["stations"]) == 1  # k clamps to 1 station
        best = body["stations"][0]
        assert best["station"] == "FS1" and best["name"] == "Station 1"
        assert best["travel_time_s"] == pytest.approx(travel[target], abs=0.1)
        assert best["response_time_s"] == pytest.approx(travel[target] + TURNOUT_S, abs=0.1)
        assert best["covered"] == body["covered"] == (travel[target] + TURNOUT_S <= 300)


def test_point_query_k_nearest_on_the_demo_city(client: TestClient, demo_sid: str) -> None:
    stations = client.get(f"{API}/scenarios/{demo_sid}/layers/fire_stations").json()["features"]
    lon, lat = stations[0]["geometry"]["coordinates"]
    body = client.get(
        f"{API}/scenarios/{demo_sid}/response-times", params={"lon": lon, "lat": lat, "k": 3}
    ).json()
    ranks = body["stations"]
    assert [s["rank"] for s in ranks] == [1, 2, 3] and ranks[0]["station"] == stations[0]["id"]
    times = [s["response_time_s"] for s in ranks]
    assert times == sorted(times) and times[0] == pytest.approx(TURNOUT_S, abs=30)
    assert len({s["station"] for s in ranks}) == 3 and body["covered"]
    nfpa = client.get(
        f"{API}/scenarios/{demo_sid}/response-times",
        params={"lon": lon, "lat": lat, "k": 1, "standard": "nfpa-1710"},
    ).json()
    assert nfpa["turnout_s"] == 80 and nfpa["stations"][0]["response_time_s"] == pytest.approx(
        times[0] + 20, abs=0.1
    )


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"lon": 200, "lat": 37.85}, "query.lon"),
        ({"lon": 112.55, "lat": -91}, "query.lat"),
        ({"lon": "east", "lat": 37.85}, "query.lon"),
        ({"lon": "nan", "lat": 37.85}, "lon"),
        ({"lat": 37.85}, "query.lon"),
        ({"lon": 112.55, "lat": 37.85, "k": 0}, "query.k"),
        ({"lon": 112.55, "lat": 37.85, "k": 21}, "query.k"),
        ({"lon": 112.55, "lat": 37.85, "standard": "nope"}, "cn-gb51080"),
        ({"lon": 37.85, "lat": 112.55}, "query.lat"),  # swapped
    ],
)
def test_point_query_bad_input(client: TestClient, sid: str, params: dict[str, Any], needle: str) -> None:
    body = _problem(client.get(f"{API}/scenarios/{sid}/response-times", params=params), 422)
    assert needle in str(body)


@pytest.mark.parametrize(("lon", "lat"), [(112.0, 37.85), (18.4, 1e-196)])
def test_a_point_off_the_network_has_no_answer(client: TestClient, sid: str, lon: float, lat: float) -> None:
    body = _problem(client.get(f"{API}/scenarios/{sid}/response-times", params={"lon": lon, "lat": lat}), 404)
    assert "outside the road network" in body["detail"] and "inf m" not in body["detail"]


def test_point_query_is_built_once(tmp_path: Path, gpkg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[str] = []
    real = planning.ResponseQuery.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type, *args: Any, **kwargs: Any) -> Any:
        builds.append(kwargs["standard"])
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(query_routes.ResponseQuery, "build", classmethod(counting))
    with TestClient(create_app(_settings(tmp_path))) as c:
        scenario_id = _upload(c, gpkg)
        url = f"{API}/scenarios/{scenario_id}/response-times"
        with ThreadPoolExecutor(4) as pool:
            statuses = list(
                pool.map(lambda _: c.get(url, params={"lon": 112.555, "lat": 37.855}).status_code, range(8))
            )
        assert statuses == [200] * 8 and builds == ["cn-gb51080"]
        c.get(url, params={"lon": 112.556, "lat": 37.856, "standard": "nfpa-1710"})
        c.get(url, params={"lon": 112.557, "lat": 37.857})
        assert builds == ["cn-gb51080", "nfpa-1710"]
        assert c.app.state.analysis.queries.builds == 2  # type: ignore[attr-defined]


def test_build_cache_is_bounded_and_builds_each_key_once() -> None:
    cache = BuildCache[int](size=2)
    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(lambda i: cache.get(i % 3, lambda: i % 3 * 10), range(30)))
    assert sorted(set(values)) == [0, 10, 20] and len(cache) == 2

    def fail() -> int:
        raise RuntimeError

    with pytest.raises(RuntimeError):
        cache.get("x", fail)
    assert cache.get("x", lambda: 7) == 7  # a failed build is not cached


# -- access and the page ------------------------------------------------------------------------


def test_reads_need_the_token_when_protected(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path, protect_reads=True))) as c:
        for path in ENDPOINTS:
            _problem(c.get(f"{API}/scenarios/{UNKNOWN}/{path}"), 401)
        _problem(c.get(f"{API}/scenarios/{UNKNOWN}/response-times?lon=1&lat=1"), 401)
        _problem(c.get(f"{API}/scenarios/{UNKNOWN}/coverage", headers=AUTH), 404)
        assert c.get("/").status_code == 200  # the page itself is public; its data is not


def test_openapi_lists_the_result_routes(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    base = f"{API}/scenarios/{{scenario_id}}"
    assert {f"{base}/{p}" for p in ("coverage", "coverage/{layer}", "districts", "response-times")} <= paths
    assert "/" not in paths


def test_page_and_vendored_leaflet_are_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert ref.startswith("/static/") or ref == "data:,", ref
        if ref.startswith("/static/"):
            assert client.get(ref).status_code == 200, ref
    assert client.get("/static/vendor/leaflet/images/marker-icon.png").status_code == 200
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 1_000_000, path
    script = (STATIC_DIR / "app.js").read_text()
    assert "innerHTML" not in script.replace("never innerHTML", "")
    assert re.findall(r"https?://[^\"' ]+", script) == ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert (VENDOR_DIR / "leaflet" / "LICENSE").is_file()


# -- risk units -----------------------------------------------------------------------------------


def test_risk_units_levels_bbox_and_top(client: TestClient, demo_sid: str) -> None:
    url = f"{API}/scenarios/{demo_sid}/risk"
    every = client.get(url)
    assert every.status_code == 200 and every.headers["content-type"] == "application/geo+json"
    units = every.json()["features"]
    assert len(units) == client.get(f"{API}/scenarios/{demo_sid}").json()["layers"]["communities"]
    levels = {f["properties"]["level"] for f in units}
    assert levels <= {"blue", "yellow", "orange", "red"} and "red" in levels
    red = client.get(url, params={"level": "red"}).json()["features"]
    assert red and {f["properties"]["level"] for f in red} == {"red"}
    both = client.get(url, params=[("level", "red"), ("level", "orange")]).json()["features"]
    assert len(both) == sum(f["properties"]["level"] in ("red", "orange") for f in units)
    assert client.get(url, params={"bbox": "0,0,1,1"}).json()["features"] == []
    top = client.get(f"{url}/top", params={"n": 5}).json()
    assert [t["rank"] for t in top] == [1, 2, 3, 4, 5] and all(t["reasons"] for t in top)
    best = max(units, key=lambda f: f["properties"]["score"])
    assert top[0]["unit_id"] == str(best["id"])
    _problem(client.get(url, params={"level": "purple"}), 422)
    _problem(client.get(url, params={"units": "hexagons"}), 422)
    _problem(client.get(url, params={"standard": "nope"}), 422)
    _problem(client.get(f"{API}/scenarios/{UNKNOWN}/risk"), 404)


def test_risk_h3_units_under_concurrent_first_requests(client: TestClient, demo_sid: str) -> None:
    # the first h3 requests of a scenario, at once, as the page asks for a layer and its top list;
    # they used to stall in the worker threads, so a hang fails here instead of stalling the suite
    url = f"{API}/scenarios/{demo_sid}/risk"
    asks = [(url, "h3:8"), (f"{url}/top", "h3:8"), (url, "h3:7"), (url, "h3:8")]
    with ThreadPoolExecutor(len(asks)) as pool:
        futures = [pool.submit(client.get, u, params={"units": units}) for u, units in asks]
        answers = [f.result(timeout=120) for f in futures]
    assert [r.status_code for r in answers] == [200] * len(asks), [r.text[:200] for r in answers]
    cells = answers[0].json()["features"]
    assert cells and all(len(f["id"]) == 15 and f["id"].startswith("88") for f in cells)
    assert answers[3].json() == answers[0].json()  # the same cached layer
    assert {t["unit_id"] for t in answers[1].json()} <= {f["id"] for f in cells}
    coarse = answers[2].json()["features"]
    assert coarse and all(f["id"].startswith("87") for f in coarse) and len(coarse) < len(cells)
    assert sum(f["properties"]["area_km2"] for f in cells) == pytest.approx(
        sum(f["properties"]["area_km2"] for f in coarse), rel=1e-6
    )  # both tile the same study area
    _problem(client.get(url, params={"units": "h3:16"}), 422)
    _problem(client.get(url, params={"units": "h3:3"}), 422)  # too coarse for a city
