"""Loading scenarios from a GeoPackage or a TOML, validation across layers, atomic writes."""

import textwrap

import numpy as np
import pyogrio
import pytest
from scenario_factory import small_layers, write_gpkg

from gis.errors import InputError, ScenarioError
from gis.scenario import load_scenario, write_scenario


def test_gpkg_scenario_projected_to_local_utm(tmp_path):
    sc = load_scenario(write_gpkg(tmp_path / "city.gpkg"))
    assert sc.crs.to_epsg() == 32649  # UTM 49N for Taiyuan
    assert set(sc.layers) == {"roads", "hazards", "communities", "fire_stations"}
    assert all(g.crs == sc.crs for g in sc.layers.values())
    assert list(sc["hazards"].index) == ["H1", "H2"]
    assert sc["hazards"].loc["H2", "rectification"] == "none"  # default filled
    assert sc["communities"]["population"].dtype == float
    assert sc.roads.kind == "layer"
    assert not sc.synthetic


def test_toml_scenario_mixes_formats(tmp_path):
    layers = small_layers()
    layers["roads"].to_file(tmp_path / "roads.geojson", engine="pyogrio")
    layers["communities"].to_crs(3857).to_file(tmp_path / "comm.gpkg", layer="社区", engine="pyogrio")
    hz = layers["hazards"]
    (tmp_path / "hz.csv").write_text(
        "code,名称,kind,lon,lat\n"
        + "".join(
            f"{i},{n},{c},{p.x},{p.y}\n"
            for i, n, c, p in zip(hz["id"], hz["name"], ["危化品", "矿山"], hz.geometry, strict=True)
        ),
        encoding="utf-8",
    )
    layers["fire_stations"].to_file(tmp_path / "fs.geojson", engine="pyogrio")
    toml = tmp_path / "city.toml"
    toml.write_text(
        textwrap.dedent("""
        [scenario]
        name = "Tiny"
        [layers]
        roads = "roads.geojson"
        fire_stations = "fs.geojson"
        [layers.communities]
        path = "comm.gpkg"
        layer = "社区"
        [layers.hazards]
        path = "hz.csv"
        id = "code"
        rename = { "名称" = "name", "kind" = "category" }
        values = { category = { "危化品" = "hazardous_chemicals", "矿山" = "mining" } }
    """),
        encoding="utf-8",
    )
    sc = load_scenario(toml)
    assert sc.name == "Tiny"
    assert sc["hazards"]["category"].tolist() == ["hazardous_chemicals", "mining"]
    ref = load_scenario(write_gpkg(tmp_path / "ref.gpkg"))
    # the same places whatever CRS they arrived in
    np.testing.assert_allclose(sc["communities"].area, ref["communities"].area, rtol=1e-9)
    np.testing.assert_allclose(sc["hazards"].geometry.x, ref["hazards"].geometry.x, atol=1e-6)
    assert sc.files["hazards"].endswith("hz.csv")


def test_all_layers_problems_reported_together(tmp_path):
    layers = small_layers()
    layers["hazards"].loc[0, "category"] = "chem"
    layers["fire_stations"] = layers["fire_stations"].assign(grade="huge")
    del layers["communities"]
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_gpkg(tmp_path / "bad.gpkg", layers))
    err = info.value
    found = {(p.layer, p.column) for p in err.problems}
    assert ("hazards", "category") in found
    assert ("fire_stations", "grade") in found
    assert ("communities", None) in found
    assert str(tmp_path / "bad.gpkg") in str(err)


def test_toml_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[scenario\nname=1")
    with pytest.raises(InputError, match="is not valid TOML"):
        load_scenario(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text('[scenario]\nname = "x"\ncity = "y"\n')
    with pytest.raises(InputError, match=r"unknown: \['city'\]"):
        load_scenario(empty)
    missing = tmp_path / "missing.toml"
    missing.write_text('[layers]\nhazards = "nope.csv"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(missing)
    text = str(info.value)
    assert "nope.csv" in text and "does not exist" in text
    assert "layer `communities`: required layer is missing" in text
    with pytest.raises(InputError, match="neither a GeoPackage"):
        load_scenario(_touch(tmp_path / "x.shp"))
    with pytest.raises(InputError, match="does not exist"):
        load_scenario(tmp_path / "absent.gpkg")


def _touch(path):
    path.write_text("")
    return path


def test_write_scenario_round_trip_and_metadata(tmp_path):
    sc = load_scenario(write_gpkg(tmp_path / "in.gpkg"))
    out = write_scenario(sc, tmp_path / "out.gpkg", metadata={"synthetic": True, "seed": 7})
    names = {n for n, _ in pyogrio.list_layers(out)}
    assert {"metadata", "hazards", "roads"} <= names
    again = load_scenario(out)
    assert again.synthetic and again.metadata["seed"] == "7"
    assert again["hazards"].index.tolist() == ["H1", "H2"]


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    sc = load_scenario(write_gpkg(tmp_path / "in.gpkg"))
    target = write_scenario(sc, tmp_path / "out.gpkg")
    before = target.read_bytes()
    calls = {"n": 0}
    original = pyogrio.write_dataframe

    def fail_on_metadata(*args, **kwargs):
        calls["n"] += 1
        if kwargs.get("layer") == "metadata":
            raise OSError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", fail_on_metadata)
    with pytest.raises(OSError, match="disk full"):
        write_scenario(sc, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_scenario_graph_cached_and_keyed_by_road_data(tmp_path, monkeypatch):
    from gis import network
    from gis.scenario import scenario_graph

    monkeypatch.setenv("RISKPLAN_CACHE_DIR", str(tmp_path / "cache"))
    sc = load_scenario(write_gpkg(tmp_path / "a.gpkg"))
    calls = []
    real = network.graph_from_lines
    monkeypatch.setattr(network, "graph_from_lines", lambda *a, **k: calls.append(1) or real(*a, **k))
    G1 = scenario_graph(sc)
    G2 = scenario_graph(sc)
    assert len(calls) == 1
    assert (G1.indptr.tolist(), G1.targets.tolist()) == (G2.indptr.tolist(), G2.targets.tolist())
    assert G1.crs == sc.crs
    layers = small_layers()
    layers["roads"].loc[0, "highway"] = "residential"  # a different speed on one road
    scenario_graph(load_scenario(write_gpkg(tmp_path / "b.gpkg", layers)))
    assert len(calls) == 2
    scenario_graph(sc, road_speeds={"highway": {"primary": {"speed_kph": 20.0}}})
    assert len(calls) == 3


def test_roads_from_an_online_query_need_no_roads_file(tmp_path, monkeypatch):
    from gis import network
    from gis.scenario import scenario_graph

    layers = small_layers()
    del layers["roads"]
    write_gpkg(tmp_path / "layers.gpkg", layers)
    toml = tmp_path / "online.toml"
    toml.write_text(
        textwrap.dedent("""
        [layers.roads]
        place = "Xiaodian District, Taiyuan, China"
        [layers.hazards]
        path = "layers.gpkg"
        layer = "hazards"
        [layers.communities]
        path = "layers.gpkg"
        layer = "communities"
        [layers.fire_stations]
        path = "layers.gpkg"
        layer = "fire_stations"
        """),
        encoding="utf-8",
    )
    sc = load_scenario(toml)
    assert sc.roads.kind == "query"
    assert sc.roads.place == "Xiaodian District, Taiyuan, China"
    seen = {}
    monkeypatch.setattr(network, "graph_from_query", lambda **kw: seen.update(kw) or "graph")
    assert scenario_graph(sc) == "graph"
    assert seen["place"] == sc.roads.place
    assert seen["crs"] == sc.crs
