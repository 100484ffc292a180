"""Time of day: speed profiles by hour, observed speeds, coverage by hour, the worst hour, the CLI."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_factory import write_toml

from gis import InputError, RoadGraph, RoadsSource, Scenario, demo_city, graph_from_lines
from gis.network import (
    check_hour,
    edge_factors,
    graph_at_hour,
    read_observed_speeds,
    speed_profile_table,
)
from gis.tables import load_table


@pytest.fixture(scope="module")
def city() -> tuple[Scenario, RoadGraph]:
    raw = demo_city(n_road_nodes=2000)
    sc = Scenario("Demo City (synthetic)", raw, raw["roads"].crs, RoadsSource("layer"), synthetic=True)
    return sc, graph_from_lines(raw["roads"])


def _rebuilt_at(roads: object, hour: int) -> RoadGraph:
    """The graph built from scratch with every class speed times its factor at ``hour``."""
    speeds = load_table("road_speeds")["highway"]
    table = speed_profile_table()
    profiles, classes = table["profiles"], table["classes"]
    default = table["defaults"]["profile"]
    over = {
        cls: {"speed_kph": e["speed_kph"] * profiles[classes.get(cls, default)]["factors"][hour]}
        for cls, e in speeds.items()
        if e["drivable"]
    }
    return graph_from_lines(roads, road_speeds={"highway": over})  # type: ignore[arg-type]


@pytest.mark.parametrize("hour", [8, 18])
def test_hour_graph_equals_a_rebuilt_graph(city: tuple[Scenario, RoadGraph], hour: int) -> None:
    sc, G = city
    at = graph_at_hour(G, hour)
    rebuilt = _rebuilt_at(sc["roads"], hour)
    assert np.array_equal(rebuilt.targets, at.targets) and np.array_equal(rebuilt.indptr, at.indptr)
    assert np.array_equal(at.speed_kph, rebuilt.speed_kph)
    assert np.array_equal(at.travel_time_s, rebuilt.travel_time_s)  # exactly, not approximately
    # the same arrays, not copies: only the weights are new
    for name in ("node_xy", "indptr", "targets", "length_m", "geometry_xy", "osm_way_id"):
        assert getattr(at, name) is getattr(G, name)
    assert at.edge_tree() is G.edge_tree()
    assert not np.array_equal(at.travel_time_s, G.travel_time_s)


def test_factors_of_one_change_nothing(city: tuple[Scenario, RoadGraph]) -> None:
    _, G = city
    ones = {"profiles": {name: {"factors": [1.0] * 24} for name in ("expressway", "arterial", "local")}}
    for hour in (0, 8, 18):
        at = graph_at_hour(G, hour, speed_profiles=ones)
        assert np.array_equal(at.travel_time_s, G.travel_time_s)
        assert np.array_equal(at.speed_kph, G.speed_kph)
    assert np.array_equal(graph_at_hour(G, 3).travel_time_s, G.travel_time_s)  # night: free flow


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 23),
    st.lists(st.floats(0.05, 1.0), min_size=24, max_size=24),
    st.lists(st.floats(0.05, 1.0), min_size=24, max_size=24),
)
def test_a_peak_never_shortens_a_travel_time(hour: int, arterial: list[float], local: list[float]) -> None:
    G = _small_graph()
    at = graph_at_hour(
        G, hour, speed_profiles={"profiles": {"arterial": {"factors": arterial}, "local": {"factors": local}}}
    )
    assert (at.travel_time_s >= G.travel_time_s).all()
    from planning.travel import travel_times

    assert (travel_times(at, [0, 5]) >= travel_times(G, [0, 5])).all()


@functools.cache
def _small_graph() -> RoadGraph:
    """The 4 x 4 street grid of tests/scenario_factory.py (primary and residential roads)."""
    from scenario_factory import grid_roads

    return graph_from_lines(grid_roads())


def test_classes_take_their_profile() -> None:
    G = _small_graph()
    f = edge_factors(G, 8)
    table = speed_profile_table()["profiles"]
    primary = np.asarray(G.highway) == "primary"
    assert set(f[primary]) == {table["arterial"]["factors"][8]}
    assert set(f[~primary]) == {table["local"]["factors"][8]}


@pytest.mark.parametrize("bad", [24, -1, 7.5, "noon", True, None])
def test_bad_hour(bad: object) -> None:
    with pytest.raises(InputError, match="0-23"):
        check_hour(bad)


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"profiles": {"local": {"factors": [1.0] * 23}}}, "profiles.local.factors"),
        ({"profiles": {"local": {"factors": [0.0] * 24}}}, "profiles.local.factors"),
        ({"classes": {"primary": "nowhere"}}, "unknown profiles"),
        ({"defaults": {"profile": "nowhere"}}, "defaults.profile"),
    ],
)
def test_bad_tables_name_the_entry(table: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        speed_profile_table(table)


def test_observed_speeds_by_edge_and_way(tmp_path: Path) -> None:
    G = _small_graph()
    p = tmp_path / "edges.csv"
    p.write_text("edge,hour,speed_kph\n0,8,10\n3,8,12.5\n0,9,20\n")
    obs = read_observed_speeds(p, G)
    at = graph_at_hour(G, 8, observed=obs)
    assert at.speed_kph[0] == 10.0 and at.speed_kph[3] == 12.5
    assert at.travel_time_s[0] == G.length_m[0] / (10.0 / 3.6)
    assert graph_at_hour(G, 9, observed=obs).speed_kph[0] == 20.0


def test_observed_speeds_by_osm_way(tiny_city_osm: Path, tmp_path: Path) -> None:
    from gis.network import graph_from_osm

    G = graph_from_osm(tiny_city_osm)
    way = int(G.osm_way_id[0])
    q = tmp_path / "ways.csv"
    q.write_text(f"osm_way_id,hour,speed_kph\n{way},17,9\n")
    obs = read_observed_speeds(q, G)
    on_way = G.osm_way_id == way
    assert sorted(obs.edge.tolist()) == np.flatnonzero(on_way).tolist() and on_way.sum() >= 2
    at17 = graph_at_hour(G, 17, observed=obs)
    assert (at17.speed_kph[on_way] == 9.0).all()
    assert (at17.speed_kph[~on_way] == graph_at_hour(G, 17).speed_kph[~on_way]).all()
    with pytest.raises(InputError, match="matched to a graph"):
        graph_at_hour(_small_graph(), 17, observed=obs)


def test_bad_observed_rows_name_the_file_lines_and_fix(tmp_path: Path) -> None:
    G = _small_graph()
    p = tmp_path / "bad.csv"
    p.write_text("edge,hour,speed_kph\n0,8,10\n1,25,10\n2,8,-3\n999999,8,10\n0,8,11\n")
    with pytest.raises(InputError) as err:
        read_observed_speeds(p, G)
    text = str(err.value)
    assert "bad.csv" in text and "Fix" in text
    assert "lines 3" in text and "lines 4" in text and "lines 5" in text  # hour, speed, edge
    assert "repeat" in text and "lines 2, 6" in text
    q = tmp_path / "cols.csv"
    q.write_text("edge,speed\n0,10\n")
    with pytest.raises(InputError, match="hour"):
        read_observed_speeds(q, G)
    with pytest.raises(InputError, match="does not exist"):
        read_observed_speeds(tmp_path / "none.csv", G)


# ------------------------------------------------------------------ planning.hours and the chart


def test_worst_hour_on_a_hand_made_table() -> None:
    from planning.hours import worst_hour

    t = pd.DataFrame(
        {
            "median_response_s": [200.0, 260.0, 250.0, 270.0],
            "p90_response_s": [300.0, 450.0, 450.0, 440.0],
            "share_covered": [0.95, 0.70, 0.65, 0.72],
        },
        index=pd.Index([3, 8, 18, 12], name="hour"),
    )
    assert worst_hour(t) == 18  # tied P90 450 s: the smaller covered share wins
    assert worst_hour(t, column="median_response_s") == 12
    inf = t.assign(p90_response_s=[300.0, float("inf"), 450.0, 440.0])
    assert worst_hour(inf) == 8  # unreached residents are the worst
    with pytest.raises(InputError, match="p95"):
        worst_hour(t, column="p95_response_s")


def test_weighted_quantile_against_repetition() -> None:
    from planning.hours import weighted_quantile

    rng = np.random.default_rng(7)
    values = rng.uniform(60, 900, 40)
    weights = rng.integers(1, 20, 40)
    repeated = np.sort(np.repeat(values, weights))
    for q in (0.5, 0.9):
        expected = repeated[int(np.ceil(q * len(repeated))) - 1]
        assert weighted_quantile(values, weights, q) == expected


def test_response_by_hour_on_the_demo_city(city: tuple[Scenario, RoadGraph]) -> None:
    from planning import analyse_coverage
    from planning.hours import BY_HOUR_COLUMNS, coverage_at_hour, response_by_hour, worst_hour

    sc, G = city
    table = response_by_hour(sc, G, hours=[3, 8, 12, 18])
    assert list(table.columns) == list(BY_HOUR_COLUMNS) and table.index.tolist() == [3, 8, 12, 18]
    assert (table["p90_response_s"] >= table.loc[3, "p90_response_s"]).all()
    assert (table["share_covered"] <= table.loc[3, "share_covered"]).all()
    assert table.loc[18, "share_covered"] < table.loc[3, "share_covered"]
    assert worst_hour(table) in (8, 18)
    # the night runs at the build speeds: its figures are those of the plain coverage
    plain = analyse_coverage(sc, G, breaks_s=None, districts=False)
    assert table.loc[3, "share_covered"] == pytest.approx(plain.summary.loc["communities", "share_weight"])
    grouped = response_by_hour(sc, G, hours=[3, 18], by="district")
    assert grouped.index.names == ["hour", "district"]
    for hour in (3, 18):
        part = grouped.xs(hour, level="hour")
        assert part["residents_covered"].sum() == pytest.approx(table.loc[hour, "residents_covered"])
        assert part["communities"].sum() == table.loc[hour, "communities"]
    with pytest.raises(InputError, match="grouped"):
        worst_hour(grouped)
    with pytest.raises(InputError, match="no column `ward`"):
        response_by_hour(sc, G, hours=[3], by="ward")
    peak = coverage_at_hour(sc, G, 18, breaks_s=None, districts=False)
    assert peak.hour == 18 and "18:00" in peak.report() and "18:00" in peak.notes[-1]
    assert peak.summary.loc["communities", "share_weight"] == pytest.approx(table.loc[18, "share_covered"])


def test_isochrones_and_districts_at_an_hour(city: tuple[Scenario, RoadGraph]) -> None:
    from planning.hours import districts_at_hour, isochrones_at_hour
    from planning.snapping import snap_stations

    sc, G = city
    st = sc["fire_stations"].assign(node=snap_stations(G, sc["fire_stations"])["node"])
    night = isochrones_at_hour(G, st["node"].iloc[:2], 3, breaks_s=[300])
    peak = isochrones_at_hour(G, st["node"].iloc[:2], 18, breaks_s=[300])
    assert (peak["area_km2"].to_numpy() < night["area_km2"].to_numpy()).all()
    assert set(peak["hour"]) == {18}
    d = districts_at_hour(G, st, 18)
    assert len(d.districts) == len(st)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_chart_renders(lang: str, tmp_path: Path) -> None:
    from maps.figures import save_figure
    from maps.hours_figure import response_by_hour_figure

    t = pd.DataFrame(
        {
            "median_response_s": np.linspace(200, 320, 24),
            "p90_response_s": np.r_[np.linspace(300, 480, 23), np.inf],
            "share_covered": np.linspace(0.95, 0.6, 24),
        },
        index=pd.Index(range(24), name="hour"),
    )
    t.attrs["response_s"] = 300.0
    fig = response_by_hour_figure(t, worst=23, lang=lang)  # type: ignore[arg-type]
    out = save_figure(fig, tmp_path / "by_hour.png")
    assert out.stat().st_size > 5_000
    with pytest.raises(InputError, match="share_covered"):
        response_by_hour_figure(t.drop(columns="share_covered"))


def test_time_of_day_table(tmp_path: Path) -> None:
    from planning.hours import time_of_day_from_toml

    toml = tmp_path / "scenario.toml"
    (tmp_path / "speeds.csv").write_text("edge,hour,speed_kph\n0,8,10\n")
    (tmp_path / "profiles.toml").write_text("[profiles.local]\nfactors = [" + ", ".join(["0.9"] * 24) + "]\n")
    tod = time_of_day_from_toml(
        {"hour": "worst", "speed_profiles": "profiles.toml", "observed_speeds": "speeds.csv"}, toml
    )
    assert tod.hour == "worst" and tod.observed_speeds == tmp_path / "speeds.csv"
    assert tod.speed_profiles == tmp_path / "profiles.toml"
    inline = time_of_day_from_toml(
        {"hour": 8, "speed_profiles": {"profiles": {"local": {"factors": [1.0] * 24}}}}, toml
    )
    assert inline.hour == 8 and isinstance(inline.speed_profiles, dict)
    for bad, match in (
        ({"hour": 24}, "0-23"),
        ({"hour": "rush"}, "0-23"),
        ({"hours": 8}, "unknown keys"),
        ({"observed_speeds": "none.csv"}, "does not exist"),
        ({"speed_profiles": {"profiles": {"local": {"factors": [2.0] * 24}}}}, "profiles.local.factors"),
    ):
        with pytest.raises(InputError, match=match) as err:
            time_of_day_from_toml(bad, toml)
        assert "scenario.toml" in str(err.value)


# ------------------------------------------------------------------ the CLI, the run


def test_cli_coverage_at_the_worst_hour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyogrio

    from service import cli

    toml = write_toml(tmp_path)
    worst = tmp_path / "worst.gpkg"
    args = ["-q", "coverage", str(toml), "--out", str(worst), "--worst-hour", "--no-cache", "--no-districts"]
    assert cli.main([*args, "--breaks", ""]) == 0
    table = pd.read_csv(tmp_path / "worst_response_by_hour.csv", index_col="hour")
    assert table.index.tolist() == list(range(24)) and table["worst"].sum() == 1
    hour = int(table.index[table["worst"]][0])
    assert set(pyogrio.read_dataframe(worst, layer="summary", read_geometry=False)["hour"]) == {hour}
    assert (tmp_path / "worst_response_by_hour.png").stat().st_size > 5_000
    assert f"Worst hour {hour:02d}:00" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "csv", "match"),
    [
        (["--hour", "24"], None, "0-23"),
        (["--hour", "rush"], None, "0-23"),
        (
            ["--hour", "8", "--observed-speeds", "speeds.csv"],
            "edge,hour,speed_kph\n0,8,10\n1,31,10\n",
            "lines 3",
        ),
        (["--worst-hour", "--observed-speeds", "speeds.csv"], "way,hour,speed_kph\n1,8,10\n", "osm_way_id"),
        (["--hour", "8", "--observed-speeds", "none.csv"], None, "do not exist"),
    ],
)
def test_cli_bad_hour_or_speeds_exit_2_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], csv: str | None, match: str
) -> None:
    from service import cli

    toml = write_toml(tmp_path)
    if csv is not None:
        (tmp_path / "speeds.csv").write_text(csv)
    flags = [str(tmp_path / f) if f.endswith(".csv") else f for f in flags]
    out = tmp_path / "out" / "cov.gpkg"
    out.parent.mkdir()
    assert cli.main(["-q", "coverage", str(toml), "--out", str(out), "--no-cache", *flags]) == 2
    err = capsys.readouterr().err
    assert match in err and "Fix" in err
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "csv", "match"),
    [
        ("[time_of_day]\nhour = 25\n", None, r"time_of_day.*scenario\.toml.*0-23"),
        (
            '[time_of_day]\nhour = 8\nobserved_speeds = "speeds.csv"\n',
            "edge,hour,speed_kph\n0,8,0\n",
            "lines 2",
        ),
        ('[time_of_day]\nspeed_profiles = "nowhere.toml"\n', None, "does not exist"),
    ],
)
def test_a_bad_time_of_day_stops_the_run_with_nothing_written(
    tmp_path: Path, extra: str, csv: str | None, match: str
) -> None:
    from service.workflow import run_scenario

    toml = write_toml(tmp_path, extra)
    if csv is not None:
        (tmp_path / "speeds.csv").write_text(csv)
    out = tmp_path / "out"
    with pytest.raises(InputError, match=match):
        run_scenario(toml, out, cache=False, n_new=1)
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.slow
def test_a_run_at_the_worst_hour_writes_the_table_and_the_chart(tmp_path: Path) -> None:
    import json

    import pyogrio

    from service.workflow import run_scenario

    toml = write_toml(tmp_path, '[time_of_day]\nhour = "worst"\n')
    out = tmp_path / "out"
    result = run_scenario(toml, out, cache=False, n_new=1)
    assert {"response_by_hour", "response_by_hour_chart"} <= set(result.outputs)
    table = pd.read_csv(out / "response_by_hour.csv", index_col="hour")
    hour = int(table.index[table["worst"]][0])
    assert table.loc[hour, "p90_response_s"] == table["p90_response_s"].max()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["coverage"]["hour"] == hour
    assert set(
        pyogrio.read_dataframe(out / "coverage.gpkg", layer="summary", read_geometry=False)["hour"]
    ) == {hour}


def test_the_api_coverage_takes_an_hour(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from scenario_factory import write_gpkg

    from gis import load_scenario, scenario_graph
    from planning.hours import coverage_at_hour
    from service.api import Settings, create_app

    token = "hours-api-token-0123456789abcdef"
    auth = {"Authorization": f"Bearer {token}"}
    gpkg = write_gpkg(tmp_path / "small.gpkg")
    with TestClient(create_app(Settings(tmp_path / "data", api_token=token))) as client:
        r = client.post("/api/v1/scenarios", files={"file": ("small.gpkg", gpkg.read_bytes())}, headers=auth)
        assert r.status_code == 201, r.text
        base = f"/api/v1/scenarios/{r.json()['id']}/coverage"
        for bad in ("24", "-1", "noon"):  # refused before anything is computed
            assert client.get(f"{base}?hour={bad}", headers=auth).status_code == 422
        peak = client.get(f"{base}?hour=18", headers=auth)
        assert peak.status_code == 200, peak.text
        assert peak.json()["hour"] == 18
        # the tiny city's figures at 18:00 are those of coverage_at_hour
        sc = load_scenario(gpkg)
        expected = coverage_at_hour(sc, scenario_graph(sc, cache=False), 18, breaks_s=None, districts=False)
        got = peak.json()["layers"]["area_units"]["p90_response_s"]
        assert got == pytest.approx(expected.summary.loc["area_units", "p90_response_s"])
