"""What-if closures, stations out and temporary stations; the criticality ranking.

References: a search of the whole changed graph (``method="full"``), the coverage of the graph
rebuilt without the closed edges (:meth:`RoadGraph.without_edges` + :func:`layer_coverage`), and
the naive loop of one whole search per closure for the ranking.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import CRSError, InputError
from gis.network import RoadGraph, as_road_graph
from planning.change import ScenarioChange, read_change
from planning.criticality import bridge_edges, criticality, road_segments
from planning.response import layer_coverage
from planning.what_if import what_if, what_if_baseline

CRS = 32649
X0, Y0 = 500_000.0, 4_000_000.0
STD = {"turnout_s": 60.0, "travel_s": 240.0}


def _grid(n: int, weights: list[float] | None = None, step_m: float = 300.0) -> RoadGraph:
    """A two-way n x n grid; ``weights`` (cycled) are the edges' travel times, else length / 10 m/s."""
    g = nx.MultiDiGraph(crs=f"EPSG:{CRS}")
    for i in range(n):
        for j in range(n):
            g.add_node(i * n + j, x=X0 + i * step_m, y=Y0 + j * step_m)
    k = 0
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j, (i + di) * n + j + dj
                    hw = "primary" if i == n // 2 or j == n // 2 else "residential"
                    name = f"Road {i}-{j}-{di}"
                    for u, v in ((a, b), (b, a)):
                        w = step_m / 10.0 if weights is None else weights[k % len(weights)]
                        k += 1
                        g.add_edge(u, v, length=step_m, travel_time_s=float(w), highway=hw, name=name)
    return as_road_graph(g)


def _points(xy: list[tuple[float, float]], prefix: str, **cols: object) -> gpd.GeoDataFrame:
    ids = [f"{prefix}{i}" for i in range(len(xy))]
    return gpd.GeoDataFrame(
        {"id": ids, **cols},
        geometry=gpd.points_from_xy([X0 + x for x, _ in xy], [Y0 + y for _, y in xy]),
        crs=CRS,
        index=pd.Index(ids, name="id"),
    )


def _places(rng: np.random.Generator, k: int, extent: float) -> gpd.GeoDataFrame:
    xy = [(float(x), float(y)) for x, y in rng.uniform(0, extent, (k, 2))]
    return _points(xy, "C", population=rng.integers(100, 5000, k).astype(float))


@pytest.fixture(scope="module")
def case() -> tuple[RoadGraph, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(7)
    graph = _grid(9, weights=list(rng.uniform(10, 60, 97)))
    stations = _points([(300.0, 300.0), (2100.0, 600.0), (1200.0, 2100.0)], "S")
    return graph, stations, _places(rng, 40, 2400.0)


def _same(a: pd.Series, b: pd.Series) -> bool:
    return bool(np.array_equal(a.to_numpy(float), b.to_numpy(float), equal_nan=True))


# ------------------------------------------------------------------------------ properties


@settings(max_examples=12, deadline=None)
@given(
    weights=st.lists(st.sampled_from([0.0, 5.0, 12.5, 30.0, 61.0]), min_size=5, max_size=40),
    closed=st.lists(st.integers(0, 2 * 2 * 5 * 4 - 1), max_size=12, unique=True),
    seed=st.integers(0, 1000),
)
def test_closures_never_shorten_and_incremental_equals_full(weights, closed, seed) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    graph = _grid(5, weights=weights)
    stations = _points([(0.0, 0.0), (1200.0, 900.0)], "S")
    base = what_if_baseline(graph, stations, _places(rng, 12, 1200.0), standard=STD)
    change = ScenarioChange(closed_edges=tuple(closed))
    inc, full = what_if(base, change), what_if(base, change, method="full")
    c = inc.communities
    assert (c["response_after_s"] >= c["response_before_s"]).all()
    assert _same(c["response_after_s"], full.communities["response_after_s"])
    assert inc.summary["resident_seconds_lost"] == full.summary["resident_seconds_lost"]
    assert inc.summary["resident_seconds_gained"] == 0.0


def test_baseline_and_closure_match_the_coverage_of_the_rebuilt_graph(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    base = what_if_baseline(graph, stations, places, standard=STD)
    today = layer_coverage(graph, stations, places, standard=STD, travel_matrix="full")
    assert np.array_equal(base.response_s, today["response_time_s"].to_numpy())
    segs = road_segments(graph)
    closed = np.concatenate(segs[::3])
    res = what_if(base, ScenarioChange(closed_edges=tuple(closed.tolist())))
    ref = layer_coverage(graph.without_edges(closed), stations, places, standard=STD, travel_matrix="full")
    after = res.communities["response_after_s"]
    assert res.communities["on_closed_road"].any()  # some places snapped again
    np.testing.assert_allclose(after, ref["response_time_s"], rtol=0, atol=1e-9)
    assert (res.communities["covered_after"] == ref["covered"]).all()
    assert res.summary["nodes_searched"] < graph.n_nodes  # only part of the graph searched again


def test_station_out_and_temporary_station(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    base = what_if_baseline(graph, stations, places, standard=STD)
    temp = _points([(2300.0, 2300.0)], "T")
    change = ScenarioChange(stations_out=("S1",), temporary_stations=temp)
    res = what_if(base, change)
    full = what_if(base, change, method="full")
    now = pd.concat([stations.drop(index="S1"), temp])
    ref = layer_coverage(graph, now, places, standard=STD, travel_matrix="full")
    assert np.array_equal(res.communities["response_after_s"], ref["response_time_s"].to_numpy())
    assert _same(res.communities["response_after_s"], full.communities["response_after_s"])
    assert (res.communities["nearest_after"] == ref["nearest_station"]).all()
    assert "S1" not in set(res.communities["nearest_after"])
    assert res.summary["temporary_stations"] == 1 and res.summary["stations_out"] == 1
    out_only = what_if(base, ScenarioChange(stations_out=("S1",))).communities
    assert (out_only["seconds_lost"] >= 0).all() and (out_only["seconds_lost"] > 0).any()
    gained = what_if(base, ScenarioChange(temporary_stations=temp)).communities
    assert (gained["seconds_lost"] <= 0).all() and gained["gains_coverage"].sum() >= 0


def test_city_summary_counts_residents(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    base = what_if_baseline(graph, stations, places, standard={"turnout_s": 60.0, "travel_s": 120.0})
    res = what_if(base, ScenarioChange(stations_out=("S0", "S2")))
    c = res.communities
    assert res.summary["residents_losing_coverage"] == c.loc[c["loses_coverage"], "population"].sum()
    lost = (c["population"] * c["seconds_lost"].where(np.isfinite(c["seconds_lost"]), 0.0)).sum()
    assert res.summary["resident_seconds_lost"] == pytest.approx(lost)
    assert res.summary["residents_losing_coverage"] > 0
    out = res.write(Path(pytest.importorskip("tempfile").mkdtemp()) / "w.gpkg")
    import pyogrio

    assert {"what_if_communities", "what_if_summary"} <= set(pyogrio.list_layers(out)[:, 0])


# --------------------------------------------------------------------------- criticality


def test_criticality_equals_the_naive_loop(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    base = what_if_baseline(graph, stations, places, standard=STD)
    segs = road_segments(graph, classes=("primary",))[::2]
    bridges = {"Road 4-4-1": np.flatnonzero(np.asarray(graph.name, dtype=object) == "Road 4-4-1")}
    ranking = criticality(base, segments=segs, bridges=bridges)
    assert len(ranking) == len(segs) + 1
    for _, row in ranking.iterrows():
        edges = tuple(int(e) for e in row["edges"].split(","))
        s = what_if(base, ScenarioChange(closed_edges=edges), method="full").summary
        assert row["resident_seconds_lost"] == s["resident_seconds_lost"]
        assert row["residents_cut_off"] == s["residents_cut_off"]
        assert row["residents_losing_coverage"] == s["residents_losing_coverage"]
    keys = list(zip(ranking["residents_cut_off"], ranking["resident_seconds_lost"], strict=True))
    assert keys == sorted(keys, reverse=True)
    assert ranking["resident_seconds_lost"].iloc[0] > 0


def test_bridges_from_water_barriers(case) -> None:  # type: ignore[no-untyped-def]
    graph, *_ = case
    river = gpd.GeoDataFrame(
        {"kind": ["river", "railway"]},
        geometry=[
            shapely.box(X0 + 1300, Y0 - 10, X0 + 1400, Y0 + 3000),
            shapely.box(X0, Y0, X0 + 50, Y0 + 50),
        ],
        crs=CRS,
    )
    found = bridge_edges(graph, river)
    assert len(found) == 9  # one east-west road a row crosses the river
    assert all(len(e) == 2 for e in found.values())


# ----------------------------------------------------------------------------- bad input


def test_bad_changes_name_the_rows_and_fix(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    base = what_if_baseline(graph, stations, places, standard=STD)
    with pytest.raises(InputError, match=r"Edges 99999.*edges_gdf"):
        what_if(base, ScenarioChange(closed_edges=(1, 99999)))
    with pytest.raises(InputError, match=r"named Road 4-4-9.*Near"):
        what_if(base, ScenarioChange(closed_names=("Road 4-4-9",)))
    with pytest.raises(InputError, match=r"no OSM way ids"):
        what_if(base, ScenarioChange(closed_ways=(12345,)))
    with pytest.raises(InputError, match=r"Stations S9 .*fire_stations"):
        what_if(base, ScenarioChange(stations_out=("S9",)))
    with pytest.raises(InputError, match=r"every station out"):
        what_if(base, ScenarioChange(stations_out=("S0", "S1", "S2")))
    empty = gpd.GeoSeries([shapely.Polygon()], crs=CRS)
    with pytest.raises(InputError, match=r"empty"):
        what_if(base, ScenarioChange(closed_areas=empty))
    with pytest.raises(CRSError, match=r"no CRS"):
        what_if(base, ScenarioChange(closed_areas=gpd.GeoSeries([shapely.box(0, 0, 1, 1)])))
    swapped = gpd.GeoSeries([shapely.box(37.8, 112.5, 37.9, 112.6)], crs=4326)  # lat / lon swapped
    with pytest.raises(InputError, match=r"close no road.*CRS"):
        what_if(base, ScenarioChange(closed_areas=swapped))
    far = _points([(90_000.0, 0.0)], "T")
    with pytest.raises(InputError, match=r"Temporary stations T0.*snap limit"):
        what_if(base, ScenarioChange(temporary_stations=far))


def test_area_closure_closes_every_edge_it_touches(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    base = what_if_baseline(graph, stations, places, standard=STD)
    flood = gpd.GeoSeries([shapely.box(X0 + 800, Y0 + 800, X0 + 1000, Y0 + 1000)], crs=CRS)
    res = what_if(base, ScenarioChange(closed_areas=flood))
    hit = shapely.intersects(graph.edge_geometries(), flood.iloc[0])
    assert sorted(res.closed_edges["edge"]) == np.flatnonzero(hit).tolist()
    assert (res.communities["seconds_lost"].fillna(0) >= 0).all()


# ------------------------------------------------------------------------------ the files


def test_read_change_files(tmp_path: Path) -> None:
    csv = tmp_path / "close.csv"
    csv.write_text("edge,name\n3,Road 1-1-0\n7,\n", encoding="utf-8")
    ch = read_change(csv)
    assert ch.closed_edges == (3, 7) and ch.closed_names == ("Road 1-1-0",)
    flood = tmp_path / "flood.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(112.5, 37.8, 112.6, 37.9)], crs=4326).to_file(flood)
    assert len(read_change(flood).closed_areas) == 1  # type: ignore[arg-type]
    toml = tmp_path / "change.toml"
    toml.write_text(
        'crs = "EPSG:32649"\n[close]\nedges = [1]\nareas = "flood.geojson"\n'
        'areas_wkt = ["POLYGON ((500000 4000000, 500100 4000000, 500100 4000100, 500000 4000000))"]\n'
        '[stations]\nout = ["S1"]\n[[stations.temporary]]\nid = "T1"\nx = 500300\ny = 4000300\n',
        encoding="utf-8",
    )
    ch = read_change(toml)
    assert ch.closed_edges == (1,) and ch.stations_out == ("S1",)
    assert len(ch.closed_areas) == 2 and ch.temporary_station_ids() == ["T1"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("a.csv", "road\nx\n", r"none of `edge`"),
        ("b.csv", "edge\n1.5\n", r"rows 2 are not whole numbers"),
        ("c.toml", "[close]\nedgez = [1]\n", r"unknown keys \['close.edgez'\]"),
        ("d.toml", "[stations]\n[[stations.temporary]]\nx = 1\ny = 2\n", r"needs `crs`"),
        ("e.toml", "[close\n", r"not valid TOML"),
        ("f.xlsx", "", r"neither"),
        ("g.geojson", '{"type": "FeatureCollection", "features": []}', r"no features"),
    ],
)
def test_bad_change_files(tmp_path: Path, name: str, text: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        read_change(path)


# --------------------------------------------------------------------------- CLI and API


@pytest.fixture(scope="module")
def demo_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gis import write_demo_scenario

    return write_demo_scenario(tmp_path_factory.mktemp("whatif") / "demo.gpkg", n_road_nodes=2000)


@pytest.fixture(scope="module")
def close_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    close = tmp_path_factory.mktemp("close") / "close.csv"
    close.write_text("name\nJianshe Bridge\nXinhua Bridge\n", encoding="utf-8")
    return close


def test_cli_what_if(demo_gpkg: Path, close_csv: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import pyogrio

    from service import cli

    out = tmp_path / "w.gpkg"
    args = ["-q", "what-if", str(demo_gpkg), "--close", str(close_csv), "--out", str(out)]
    assert cli.main([*args, "--lang", "en"]) == 0  # today's English, asked for
    printed = capsys.readouterr().out
    assert (
        "What if: close " in printed
        and "resident-seconds lost" in printed
        and "What-if written to" in printed
    )
    assert cli.main(args) == 0  # the demo city lies in China: Chinese by default (issue 20)
    printed = capsys.readouterr().out
    assert "情景推演：" in printed and "人·秒" in printed and "情景推演结果已写入" in printed  # noqa: RUF001
    assert not re.search(r"resident|lose coverage|What|written|communities", printed)
    layer = pyogrio.read_dataframe(out, layer="what_if_communities")
    assert {"response_before_s", "response_after_s", "seconds_lost", "loses_coverage"} <= set(layer.columns)
    assert len(pyogrio.read_dataframe(out, layer="closed_roads")) > 0


def test_cli_criticality(demo_gpkg: Path, tmp_path: Path) -> None:
    import pyogrio

    from service import cli

    crit = tmp_path / "k.gpkg"
    args = ["-q", "criticality", str(demo_gpkg), "--out", str(crit), "--top", "7", "--classes", "primary"]
    assert cli.main(args) == 0
    ranking = pyogrio.read_dataframe(crit, layer="criticality")
    assert ranking["rank"].tolist() == list(range(1, 8))


def test_cli_coverage_close(demo_gpkg: Path, close_csv: Path, tmp_path: Path) -> None:
    import pyogrio

    from service import cli

    cov = tmp_path / "c.gpkg"
    args = ["-q", "coverage", str(demo_gpkg), "--close", str(close_csv), "--out", str(cov), "--no-districts"]
    assert cli.main([*args, "--breaks", "", "--cell-m", "3000"]) == 0
    names = set(pyogrio.list_layers(cov)[:, 0])
    assert {"communities", "summary", "what_if_communities", "what_if_summary"} <= names


@pytest.mark.parametrize(
    ("command", "name", "text"),
    [
        ("what-if", "bad.csv", "name\nNo Such Bridge\n"),
        ("what-if", "bad.toml", "[stations]\nout = ['FS99']\n"),
        ("coverage", "bad.geojson", '{"type": "FeatureCollection", "features": []}'),
        ("coverage", "missing.csv", None),
    ],
)
def test_cli_bad_change_file_exits_2_and_writes_nothing(  # noqa: PLR0917 - pytest fixtures
    demo_gpkg: Path,
    tmp_path: Path,
    command: str,
    name: str,
    text: str | None,
    capsys,  # type: ignore[no-untyped-def]
) -> None:
    from service import cli

    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    out = tmp_path / f"{command}.gpkg"
    assert cli.main(["-q", command, str(demo_gpkg), "--close", str(path), "--out", str(out)]) == 2
    assert not out.exists()
    assert "Fix:" in capsys.readouterr().err


def test_api_what_if(tmp_path: Path) -> None:
    from api_factory import API, auth, create_demo, demo_client

    token = "what-if-token-0123456789"
    with demo_client(tmp_path, token) as client:
        sid = create_demo(client, token, seed=3, n_road_nodes=2000)
        roads = client.get(f"{API}/scenarios/{sid}/layers/roads", headers=auth(token)).json()
        lon, lat = roads["features"][0]["geometry"]["coordinates"][0]
        url = f"{API}/scenarios/{sid}/what-if"
        body = {
            "closed_at": [{"lon": lon, "lat": lat}],
            "closed_areas": [
                {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [lon - 0.002, lat - 0.002],
                            [lon + 0.002, lat - 0.002],
                            [lon, lat + 0.002],
                            [lon - 0.002, lat - 0.002],
                        ]
                    ],
                }
            ],
            "temporary_stations": [{"id": "T1", "lon": lon, "lat": lat}],
        }
        r = client.post(url, json=body, headers=auth(token))
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["summary"]["closed_edges"] >= 2 and data["summary"]["temporary_stations"] == 1
        assert data["closed_roads"]["type"] == "FeatureCollection" and data["closed_roads"]["features"]
        same = client.post(url, json={}, headers=auth(token)).json()  # no change: no difference
        assert same["summary"]["resident_seconds_lost"] == 0 and same["communities"] == []
        out = client.post(url, json={"stations_out": ["FS1"]}, headers=auth(token)).json()
        assert out["summary"]["stations_out"] == 1
        assert all(c["seconds_lost"] is None or c["seconds_lost"] >= 0 for c in out["communities"])
        for bad, status in [
            ({"closed_names": ["No Such Road"]}, 422),
            ({"stations_out": ["FS99"]}, 422),
            ({"closed_edges": [10**9]}, 422),
            ({"closed_at": [{"lon": 0.0, "lat": 0.0}]}, 422),
            ({"closed_areas": [{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}]}, 422),
            ({"standard": "nope", "stations_out": ["FS1"]}, 422),
        ]:
            r = client.post(url, json=bad, headers=auth(token))
            assert r.status_code == status, (bad, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert (
            client.post(
                f"{API}/scenarios/nope/what-if", json={"stations_out": ["FS1"]}, headers=auth(token)
            ).status_code
            == 404
        )
