"""The synthetic demo province: files, determinism, figures, labels, one road network, validate, errors."""

from __future__ import annotations

import contextlib
import io
import json
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from scipy import sparse
from scipy.sparse import csgraph

from gis import demo_province, load_scenario, write_demo_province
from gis.demo import load_province_params, province_summary
from gis.demo.province import LAYER_NAMES
from gis.errors import InputError
from gis.schema import DEPOT_TIERS, LAYERS
from service.cli import main

pytestmark = pytest.mark.slow

SMALL = 30_000  # the smallest province: about 10 s to generate
SEED = 7
GPKG = "demo_province.gpkg"
POINTS_AND_POLYGONS = (
    "hazards",
    "communities",
    "fire_stations",
    "depots",
    "candidate_sites",
    "sensitive_sites",
    "incidents",
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The small province written by the command line, and what it printed."""
    out = tmp_path_factory.mktemp("province") / "demo"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(
            [
                "-q",
                "demo",
                "--province",
                "--out",
                str(out),
                "--nodes",
                str(SMALL),
                "--seed",
                str(SEED),
                "--lang",
                "en",
            ]
        )
    assert code == 0
    return out, stdout.getvalue()


@pytest.fixture(scope="module")
def layers(folder: tuple[Path, str]) -> dict[str, gpd.GeoDataFrame]:
    gpkg = folder[0] / GPKG
    return {name: pyogrio.read_dataframe(gpkg, layer=name) for name in LAYER_NAMES}


@pytest.fixture(scope="module")
def meta(folder: tuple[Path, str]) -> dict[str, str]:
    table = pyogrio.read_dataframe(folder[0] / GPKG, layer="metadata", read_geometry=False)
    return dict(zip(table["key"], table["value"], strict=True))


# ----------------------------------------------------------------------------- files


def test_folder_holds_a_scenario_toml_and_a_geopackage(folder):
    out, printed = folder
    assert sorted(p.name for p in out.iterdir()) == [GPKG, "scenario.toml"]
    assert [str(n) for n, _ in pyogrio.list_layers(out / GPKG)] == [*LAYER_NAMES, "metadata"]
    doc = tomllib.loads((out / "scenario.toml").read_text(encoding="utf-8"))
    assert doc["scenario"]["synthetic"] is True
    assert set(doc["layers"]) == set(LAYERS)  # the scenario layers; `cities` stays in the GeoPackage
    assert all(t == {"path": GPKG, "layer": name} for name, t in doc["layers"].items())
    for word in ("cities", "road nodes", "people", "fire stations", "depots", "mines", "chemical parks"):
        assert word in printed
    assert "synthetic" in printed


def test_same_seed_gives_identical_files(folder, tmp_path):
    again = write_demo_province(tmp_path / "again", seed=SEED, n_road_nodes=SMALL)
    for name in (GPKG, "scenario.toml"):
        assert (again.parent / name).read_bytes() == (folder[0] / name).read_bytes(), name


def test_validate_passes(folder, capsys):
    assert main(["validate", str(folder[0] / "scenario.toml"), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Demo Province (synthetic) is valid" in out
    assert "IMPLAUSIBLE" not in out
    sc = load_scenario(folder[0] / "scenario.toml")
    assert sc.synthetic and sc.crs.to_epsg() == 32649
    assert any("SYNTHETIC" in note for note in sc.notes)


# ----------------------------------------------------------------------------- labels


def test_every_layer_and_file_says_synthetic(folder, layers, meta):
    for name, gdf in layers.items():
        assert len(gdf), name
        assert gdf["source"].str.contains("synthetic").all(), name
        assert gdf.crs.to_epsg() == 32649, name
    assert meta["synthetic"] == "true" and "synthetic" in meta["name"].lower()
    assert "not a real place" in meta["description"]
    assert layers["cities"]["name"].str.endswith("(synthetic)").all()
    text = (folder[0] / "scenario.toml").read_text(encoding="utf-8")
    assert text.startswith("# SYNTHETIC") and "synthetic = true" in text


def test_in_memory_layers_are_marked_synthetic():
    small = demo_province(seed=SEED, n_road_nodes=SMALL)
    assert list(small) == list(LAYER_NAMES)
    assert all(g.attrs["synthetic"] is True and g.attrs["seed"] == SEED for g in small.values())
    summary = province_summary(small)
    assert summary["cities"] == 10 and summary["population"] == 30_000_000


# ----------------------------------------------------------------------------- figures


def test_counts_and_tiers_are_plausible(layers, meta):
    s = json.loads(meta["summary"])
    cities = layers["cities"]
    assert s["cities"] == len(cities) == 10
    assert sorted(cities["tier"].value_counts().items()) == [("capital", 1), ("prefecture", 9)]
    assert cities["urban_population"].nunique() == 10  # cities of different sizes
    assert cities["urban_area_km2"].nunique() >= 5
    capital = cities.loc[cities["tier"] == "capital"].iloc[0]
    assert capital["urban_population"] == cities["urban_population"].max()
    people = layers["communities"]["population"]
    assert s["population"] == round(people.sum()) == 30_000_000
    assert cities["population"].sum() == pytest.approx(30_000_000)
    assert 0.85 * SMALL <= s["road_nodes"] <= 1.15 * SMALL
    assert 200 <= s["fire_stations"] == len(layers["fire_stations"]) <= 600  # a few hundred
    tiers = layers["depots"]["tier"].value_counts()
    assert set(tiers.index) == set(DEPOT_TIERS)
    counts = [int(tiers[t]) for t in ("province", "city", "county", "township")]
    assert counts == sorted(counts) and counts[0] >= 1 and counts[1] >= 10  # a pyramid
    assert s["depots"] == {t: int(tiers[t]) for t in DEPOT_TIERS}
    assert s["mines"] >= 300 and s["chemical_parks"] >= 5
    clusters = layers["hazards"]["cluster"].dropna()
    assert clusters.str.contains("Coalfield").sum() >= 300
    assert clusters.str.contains("Park").sum() >= 100


def test_features_carry_the_city_whose_territory_holds_them(layers):
    cities = layers["cities"]
    names = set(cities["name"])
    area = shapely.union_all(cities.geometry.to_numpy())
    study = layers["study_area"].geometry.iloc[0]
    assert area.symmetric_difference(study).area < 1e-6 * study.area  # the territories tile it
    terr = dict(zip(cities["name"], cities.geometry, strict=True))
    for name in POINTS_AND_POLYGONS:
        gdf = layers[name]
        assert gdf["city"].notna().all() and set(gdf["city"]) <= names, name
        pts = gdf.geometry.representative_point()
        inside = [shapely.intersects(terr[c], p) for c, p in zip(gdf["city"], pts, strict=True)]
        assert np.mean(inside) > 0.99, name
    assert (layers["fire_stations"].groupby("city").size() >= 6).all()  # every city has stations


def test_roads_carry_the_city_holding_the_largest_part_of_their_length(layers):
    cities, roads = layers["cities"], layers["roads"]
    assert roads["city"].notna().all() and set(roads["city"]) == set(cities["name"])
    terr = dict(zip(cities["name"], cities.geometry, strict=True))
    share = [
        shapely.length(shapely.intersection(line, terr[c])) / line.length
        for c, line in zip(roads["city"], roads.geometry, strict=True)
    ]
    assert np.mean(share) > 0.99
    for k in np.flatnonzero(np.asarray(share) < 0.999):  # roads across a border: the largest part
        line = roads.geometry.iloc[k]
        parts = {c: shapely.length(shapely.intersection(line, t)) for c, t in terr.items()}
        assert parts[roads["city"].iloc[k]] >= max(parts.values()) - 1e-6, k


# ----------------------------------------------------------------------------- roads


def _road_graph(roads: gpd.GeoDataFrame, *, directed: bool) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The road graph from the line layer: nodes are vertices (1 cm), edges consecutive pairs."""
    xy, line = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    cm = np.rint(xy * 100).astype(np.int64)
    _, key = np.unique(cm, axis=0, return_inverse=True)
    key = key.ravel()
    same = line[1:] == line[:-1]
    u, v = key[:-1][same], key[1:][same]
    if directed:
        oneway = roads["oneway"].to_numpy()[line[:-1][same]] == "yes"
        u, v = np.concatenate([u, v[~oneway]]), np.concatenate([v, u[~oneway]])
    n = int(key.max()) + 1
    g = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)).tocsr()
    return g, key


def test_roads_connect_every_city_into_one_network(layers):
    roads = layers["roads"]
    g, _ = _road_graph(roads, directed=False)
    n_parts, _ = csgraph.connected_components(g, directed=False)
    assert n_parts == 1
    gd, _ = _road_graph(roads, directed=True)
    n_strong, _ = csgraph.connected_components(gd, directed=True, connection="strong")
    assert n_strong == 1
    # expressways and national roads run between the cities, winding roads in the mountains
    kinds = set(roads["highway"])
    assert {"motorway", "trunk", "secondary", "tertiary", "unclassified", "residential"} <= kinds
    ways = roads[roads["highway"] == "motorway"]
    assert ways["name"].str.contains("Expressway").all() and len(ways) >= 10


def test_every_city_reaches_the_others(layers):
    """Each city's territory holds many roads, all in the one network."""
    roads, cities = layers["roads"], layers["cities"]
    g, key = _road_graph(roads, directed=False)
    _, label = csgraph.connected_components(g, directed=False)
    xy = shapely.get_coordinates(roads.geometry.to_numpy())
    parts = set()
    for terr in cities.geometry:
        inside = shapely.contains_xy(terr, xy[:, 0], xy[:, 1])
        assert inside.sum() > 1000
        parts |= set(label[key[inside]].tolist())
    assert parts == {0}


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"n_road_nodes": 10}, "n_road_nodes"),
        ({"n_road_nodes": 10_000_000}, "n_road_nodes"),
        ({"n_road_nodes": 3.5}, "n_road_nodes"),
        ({"seed": -1}, "seed"),
        ({"province_params": {"province": {"crs": "EPSG:4326"}}}, "province.crs"),
        ({"province_params": {"province": {"population_total": 1000}}}, "population"),
    ],
)
def test_bad_arguments_say_what_to_fix(kwargs, word):
    with pytest.raises(InputError, match="Fix:") as err:
        demo_province(**kwargs)
    assert word in str(err.value)


def test_overlapping_cities_are_refused():
    cities = load_province_params()["cities"]
    cities[1]["centre_km"] = cities[0]["centre_km"]
    with pytest.raises(InputError, match="overlaps another city"):
        load_province_params({"cities": cities})


def test_out_dir_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "taken"
    file.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        write_demo_province(file, n_road_nodes=SMALL)


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--province", "--nodes", "10"],
        ["demo", "--province", "--seed", "-3"],
        ["demo", "--province", "--osm", "x.osm.pbf"],  # --out with --osm
    ],
)
def test_cli_bad_arguments_exit_2(argv, tmp_path, capsys):
    assert main(["-q", *argv, "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Fix:" in err
    assert not (tmp_path / "p").exists()
