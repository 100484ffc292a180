"""The API's hour, worst hour, closures and reliability (issue 17): each route equals the library.

``hour`` / ``worst_hour`` on ``/coverage``, ``/coverage/{layer}``, ``/isochrones``, ``/districts`` and
``/violations`` against :func:`planning.coverage_at_hour` and :func:`planning.worst_hour`;
``/reliability`` and its layers (and the ``reliability`` job) against
:func:`planning.reliability.analyse_reliability` on the graph of the hour; the what-if's
``layers`` against :func:`planning.analyse_coverage` of the changed scenario. Each is computed
once per key (concurrent first requests too), refuses bad parameters with a 422 that names the
parameter and the fix, and keeps to the anonymous limits.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from api_factory import API, auth, create_demo
from fastapi.testclient import TestClient

import planning
from gis.network import graph_at_hour
from planning.change import ScenarioChange
from planning.reliability import analyse_reliability
from service.api import Settings, create_app
from service.api import hours as hour_routes
from service.api.budget import AnonymousLimits
from service.api.routes import coverage as coverage_routes
from service.api.routes import reliability as reliability_routes
from service.api.routes import what_if as what_if_routes
from service.api.routes.query import stations_indexed

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOKEN = "api-hours-token-0123456789"
AUTH = auth(TOKEN)
UNKNOWN = "0" * 32


def _app(data_dir: Path, **kwargs: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir, api_token=TOKEN, demo_max_nodes=2000, **kwargs)))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, Any, Any]]:
    """A client, the small demo city's id, and the scenario and graph the server holds for it."""
    with _app(tmp_path_factory.mktemp("api")) as client:
        sid = create_demo(client, TOKEN, seed=3, n_road_nodes=2000)
        service = client.app.state.service  # type: ignore[attr-defined]
        scenario = service.scenarios.get(sid)
        yield client, sid, scenario, service.graphs.graph(sid, scenario)


def _problem(r: Any, parameter: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = dict(r.json())
    item = body["errors"][0]
    assert item["column"].split(".")[-1] == parameter and parameter in body["detail"]
    assert item["fix"] and "openapi.json" not in item["fix"], body  # a fix of its own, not "see the schema"
    return body


def _ids(features: list[dict[str, Any]], key: str) -> list[Any]:
    return [f["properties"][key] for f in features]


# -- an hour and the worst hour ------------------------------------------------------------------


def test_every_coverage_route_at_an_hour_equals_coverage_at_hour(
    demo: tuple[TestClient, str, Any, Any],
) -> None:
    client, sid, scenario, graph = demo
    ref = planning.coverage_at_hour(scenario, graph, 8)
    url = f"{API}/scenarios/{sid}"
    r = client.get(f"{url}/coverage", params={"hour": 8})
    assert r.status_code == 200 and r.headers["x-hour"] == "8" and "x-worst-hour" not in r.headers
    body = r.json()
    assert body["hour"] == 8 and body["worst_hour"] is False and body["response_by_hour"] is None
    for layer, row in ref.summary.iterrows():
        got = body["layers"][layer]
        assert (got["features"], got["covered"]) == (row["features"], row["covered"])
        assert got["p90_response_s"] == pytest.approx(row["p90_response_s"])
    free = client.get(f"{url}/coverage").json()["layers"]["communities"]["p90_response_s"]
    assert body["layers"]["communities"]["p90_response_s"] > free  # the morning peak is slower
    iso = client.get(f"{url}/isochrones", params={"hour": 8})
    assert iso.headers["x-hour"] == "8"
    got_iso = sorted((f["properties"]["station"], f["properties"]["break_s"], f["properties"]["area_km2"])
                     for f in iso.json()["features"])  # fmt: skip
    want_iso = sorted(
        zip(ref.isochrones["station"], ref.isochrones["break_s"], ref.isochrones["area_km2"], strict=True)
    )
    assert [g[:2] for g in got_iso] == [w[:2] for w in want_iso]
    assert [g[2] for g in got_iso] == pytest.approx([w[2] for w in want_iso])
    dist = client.get(f"{url}/districts", params={"hour": 8}).json()["features"]
    assert _ids(dist, "station") == list(ref.districts.index)
    assert _ids(dist, "farthest_travel_s") == pytest.approx(list(ref.districts["farthest_travel_s"]))
    violations = client.get(f"{url}/violations", params={"hour": 8})
    assert violations.headers["x-hour"] == "8"
    assert [(v["station"], v["kind"]) for v in violations.json()] == list(
        zip(ref.violations["station"], ref.violations["kind"], strict=True)
    )
    communities = client.get(f"{url}/coverage/communities", params={"hour": 8}).json()["features"]
    times = {f["id"]: f["properties"]["response_time_s"] for f in communities}
    assert [times[str(i)] for i in ref.communities.index] == pytest.approx(
        list(ref.communities["response_time_s"])
    )


def test_the_worst_hour_is_planning_worst_hour_and_the_answer_says_which(
    demo: tuple[TestClient, str, Any, Any],
) -> None:
    client, sid, scenario, graph = demo
    table = planning.response_by_hour(scenario, graph)
    worst = planning.worst_hour(table)
    url = f"{API}/scenarios/{sid}"
    r = client.get(f"{url}/coverage", params={"worst_hour": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hour"] == worst and body["worst_hour"] is True
    assert (r.headers["x-hour"], r.headers["x-worst-hour"]) == (str(worst), "true")
    rows = {row["hour"]: row for row in body["response_by_hour"]}
    assert sorted(rows) == list(range(24))
    assert [rows[h]["p90_response_s"] for h in table.index] == pytest.approx(list(table["p90_response_s"]))
    at = client.get(f"{url}/coverage", params={"hour": worst}).json()
    assert body["layers"] == at["layers"]  # the same coverage as asking for that hour
    for path in ("isochrones", "districts", "violations", "coverage/stations"):
        got = client.get(f"{url}/{path}", params={"worst_hour": True})
        assert got.status_code == 200 and got.headers["x-hour"] == str(worst), path
        assert got.content == client.get(f"{url}/{path}", params={"hour": worst}).content


# -- reliability ----------------------------------------------------------------------------------


def test_reliability_equals_analyse_reliability_on_the_graph_of_the_hour(
    demo: tuple[TestClient, str, Any, Any],
) -> None:
    client, sid, scenario, graph = demo
    ref = analyse_reliability(scenario, graph_at_hour(graph, 8))
    url = f"{API}/scenarios/{sid}/reliability"
    r = client.get(url, params={"hour": 8, "calls_per_year": 5000})
    assert r.status_code == 200 and r.headers["x-hour"] == "8"
    body = r.json()
    assert body["rates_source"] == "incidents" and body["calls_per_year"] is None  # incidents give the rates
    assert any("calls_per_year not used" in n for n in body["notes"])
    for key, value in ref.city.items():
        assert body["city"][key] == pytest.approx(value), key
    busy = {s["station"]: s["busy_fraction"] for s in body["stations"]}
    assert busy == pytest.approx(ref.station_workload["busy_fraction"].to_dict())
    assert [c["hour"] for c in body["concurrency_by_hour"]] == list(range(24))
    assert [c["p_at_least_1"] for c in body["concurrency_by_hour"]] == pytest.approx(
        list(ref.concurrency["p_at_least_1"])
    )
    city_p90 = next(d for d in body["p90_by_hour"] if d["district"] == "city")["p90_s"]
    assert city_p90 == pytest.approx(list(ref.p90_by_hour.loc["city"]))
    communities = client.get(f"{url}/communities", params={"hour": 8})
    assert communities.headers["content-type"] == "application/geo+json"
    props = {f["id"]: f["properties"] for f in communities.json()["features"]}
    for column in ("expected_response_p90_s", "busy_fraction_first_due", "expected_coverage"):
        assert [props[str(i)][column] for i in ref.communities.index] == pytest.approx(
            list(ref.communities[column])
        ), column
    assert [props[str(i)]["first_due"] for i in ref.communities.index] == list(ref.communities["first_due"])
    stations = client.get(f"{url}/station_workload", params={"hour": 8}).json()["features"]
    assert {f["id"]: f["properties"]["peak_hour"] for f in stations} == ref.station_workload[
        "peak_hour"
    ].to_dict()
    free = client.get(url).json()
    assert free["hour"] is None and free["city"]["expected_coverage"] >= body["city"]["expected_coverage"]


def test_the_reliability_job_gives_the_routes_answer(demo: tuple[TestClient, str, Any, Any]) -> None:
    client, sid, _, _ = demo
    r = client.post(
        f"{API}/scenarios/{sid}/jobs",
        json={"kind": "reliability", "params": {"hour": 18}},
        params={"lang": "en"},  # the route's notes are English: the job's in English too
        headers=AUTH,
    )
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    deadline = time.monotonic() + 120
    while (status := client.get(f"{API}/jobs/{job}").json()["status"]) in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == "succeeded"
    result = client.get(f"{API}/jobs/{job}/result").json()
    route = client.get(f"{API}/scenarios/{sid}/reliability", params={"hour": 18}).json()
    assert result["data"] | {"scenario_id": sid} == route
    assert sorted(result["layers"]) == ["communities", "station_workload"]
    for params in ({"hour": 24}, {"hour": 3, "worst_hour": True}, {"calls_per_year": 0}, {"hour": "8"}):
        bad = client.post(
            f"{API}/scenarios/{sid}/jobs", json={"kind": "reliability", "params": params}, headers=AUTH
        )
        assert bad.status_code == 422 and "Fix:" in bad.json()["detail"], (params, bad.text)


# -- closures: isochrones and districts after the change -----------------------------------------


def test_what_if_layers_equal_the_coverage_of_the_changed_scenario(
    demo: tuple[TestClient, str, Any, Any],
) -> None:
    client, sid, scenario, graph = demo
    url = f"{API}/scenarios/{sid}/what-if"
    plain = client.post(url, json={"stations_out": ["FS1"]}, headers=AUTH).json()
    assert plain["isochrones"] is None and plain["districts"] is None  # the fast answer stays fast
    bridge = str(scenario["roads"]["name"].dropna().iloc[0])
    change = {"stations_out": ["FS1"], "closed_names": [bridge]}
    r = client.post(url, json=change | {"layers": ["districts", "isochrones"]}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    stations = stations_indexed(scenario)
    indexed = dataclasses.replace(scenario, layers={**scenario.layers, "fire_stations": stations})
    changed, closed = ScenarioChange(stations_out=("FS1",), closed_names=(bridge,)).apply(indexed, graph)
    ref = planning.analyse_coverage(changed, closed)
    assert body["summary"]["stations_out"] == 1 and body["closed_roads"]["features"]
    assert _ids(body["districts"]["features"], "station") == list(ref.districts.index)
    assert "FS1" not in _ids(body["districts"]["features"], "station")
    assert _ids(body["districts"]["features"], "area_km2") == pytest.approx(list(ref.districts["area_km2"]))
    got = sorted(
        (f["properties"]["station"], f["properties"]["break_s"]) for f in body["isochrones"]["features"]
    )
    assert got == sorted(zip(ref.isochrones["station"], ref.isochrones["break_s"], strict=True))
    only = client.post(url, json=change | {"layers": ["districts"]}, headers=AUTH).json()
    assert only["isochrones"] is None and only["districts"] == body["districts"]


# -- computed once ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_each_answer_is_computed_once_under_concurrent_first_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting(name: str, real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(
        coverage_routes, "coverage_at_hour", counting("hour", coverage_routes.coverage_at_hour)
    )
    monkeypatch.setattr(hour_routes, "response_by_hour", counting("by-hour", hour_routes.response_by_hour))
    monkeypatch.setattr(
        reliability_routes,
        "reliability_output",
        counting("reliability", reliability_routes.reliability_output),
    )
    monkeypatch.setattr(
        what_if_routes, "analyse_coverage", counting("what-if", what_if_routes.analyse_coverage)
    )
    with _app(tmp_path) as client:
        sid = create_demo(client, TOKEN, seed=3, n_road_nodes=2000)
        url = f"{API}/scenarios/{sid}"
        gets = [
            (f"{url}/coverage", {"worst_hour": "true"}),
            (f"{url}/isochrones", {"worst_hour": "true"}),
            (f"{url}/districts", {"hour": 7}),
            (f"{url}/violations", {"hour": 7}),
            (f"{url}/reliability", {"hour": 7}),
            (f"{url}/reliability/communities", {"hour": 7, "calls_per_year": 99}),  # ignored: incidents
        ]
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda g: client.get(g[0], params=g[1]).status_code, gets * 2))
        assert statuses == [200] * len(gets) * 2
        body = {"stations_out": ["FS2"], "layers": ["districts"]}
        for _ in range(2):
            assert client.post(f"{url}/what-if", json=body, headers=AUTH).status_code == 200
        worst = client.get(f"{url}/coverage", params={"worst_hour": "true"}).json()["hour"]
        want = {"by-hour": 1, "hour": 1 + (worst != 7), "reliability": 1, "what-if": 1}
        assert {k: calls.count(k) for k in want} == want, calls
    with _app(tmp_path) as restarted:  # read back from the store, not computed again
        for path, params in gets:
            assert restarted.get(path, params=params).status_code == 200
    assert {k: calls.count(k) for k in want} == want, calls


# -- bad parameters ---------------------------------------------------------------------------------

PATHS = ["coverage", "coverage/communities", "isochrones", "districts", "violations", "reliability",
         "reliability/station_workload"]  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"hour": 24}, "hour"),
        ({"hour": -1}, "hour"),
        ({"hour": "8am"}, "hour"),
        ({"hour": 3, "worst_hour": "true"}, "worst_hour"),
        ({"worst_hour": "maybe"}, "worst_hour"),
    ],
)
def test_a_bad_hour_is_a_422_naming_it_and_the_fix(
    demo: tuple[TestClient, str, Any, Any], path: str, params: dict[str, Any], parameter: str
) -> None:
    client, sid, _, _ = demo
    _problem(client.get(f"{API}/scenarios/{sid}/{path}", params=params), parameter)


@pytest.mark.parametrize("calls", ["0", "-5", "1e9", "many"])
def test_bad_calls_per_year_is_a_422(demo: tuple[TestClient, str, Any, Any], calls: str) -> None:
    client, sid, _, _ = demo
    _problem(
        client.get(f"{API}/scenarios/{sid}/reliability", params={"calls_per_year": calls}), "calls_per_year"
    )


def test_unknown_reliability_layer_standard_and_scenario(demo: tuple[TestClient, str, Any, Any]) -> None:
    client, sid, _, _ = demo
    _problem(client.get(f"{API}/scenarios/{sid}/reliability/roads"), "layer")
    bad = client.get(f"{API}/scenarios/{sid}/reliability", params={"standard": "gb-9999"})
    assert bad.status_code == 422 and "gb-9999" in bad.json()["detail"]
    for path in ("reliability", "reliability/communities", "isochrones?worst_hour=true", "coverage?hour=8"):
        assert client.get(f"{API}/scenarios/{UNKNOWN}/{path}").status_code == 404, path
    r = client.post(
        f"{API}/scenarios/{sid}/what-if", json={"stations_out": ["FS1"], "layers": ["roads"]}, headers=AUTH
    )
    assert r.status_code == 422 and r.json()["errors"][0]["column"] == "body.layers.0"


# -- anonymous limits --------------------------------------------------------------------------------


@pytest.mark.slow
def test_anonymous_readers_get_only_what_is_computed_when_the_server_computes_nothing(tmp_path: Path) -> None:
    with _app(tmp_path, anonymous=AnonymousLimits(max_compute_s=0)) as client:
        sid = create_demo(client, TOKEN, seed=3, n_road_nodes=2000)
        url = f"{API}/scenarios/{sid}"
        asks = [
            (f"{url}/coverage", {"hour": 8}),
            (f"{url}/isochrones", {"worst_hour": "true"}),
            (f"{url}/reliability", {"hour": 8}),
            (f"{url}/reliability/station_workload", {}),
        ]
        for path, params in asks:
            r = client.get(path, params=params)
            assert r.status_code == 403, (path, r.text)
            assert (
                r.json()["type"].endswith("anonymous-limit") and r.json()["errors"][0]["column"] == "seconds"
            )
        what_if = client.post(f"{url}/what-if", json={"layers": ["districts"]})
        assert what_if.status_code == 403 and what_if.json()["type"].endswith("anonymous-limit")
        for path, params in asks:
            assert client.get(path, params=params, headers=AUTH).status_code == 200
        for path, params in asks:
            assert client.get(path, params=params).status_code == 200, path  # now from the cache
