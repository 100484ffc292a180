"""The synthetic demo city: schema, figures, road topology, determinism, GeoPackage output."""

from __future__ import annotations

import json
from collections import Counter

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from gis.demo import demo_city, load_demo_params, write_demo_scenario
from gis.errors import InputError
from gis.schema import HAZARD_CATEGORIES, LAYERS, RECTIFICATION_STATUSES, SENSITIVE_KINDS
from gis.validate import parse_inventory, validate_layers

SMALL = 5000
SOURCE = "synthetic demo city (riskplan)"


@pytest.fixture(scope="module")
def small() -> dict[str, gpd.GeoDataFrame]:
    return demo_city(seed=7, n_road_nodes=SMALL)


@pytest.fixture(scope="module")
def city() -> dict[str, gpd.GeoDataFrame]:
    return demo_city()


# ----------------------------------------------------------------------------- helpers


def _vertices(roads: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex coordinates, the line of each vertex, and a key per 1 cm-rounded position."""
    xy, line = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    _, key = np.unique(np.round(xy, 2), axis=0, return_inverse=True)
    return xy, line, key.ravel()


def _graph_nodes(roads: gpd.GeoDataFrame) -> np.ndarray:
    """Keys of the vertices that are line ends or shared by two lines (or repeated in one)."""
    _, line, key = _vertices(roads)
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    uses = np.bincount(key)
    return np.unique(np.r_[key[first | last], np.flatnonzero(uses > 1)])


def _digraph(roads: gpd.GeoDataFrame, *, skip_bridges: bool = False) -> nx.DiGraph:
    """Directed graph on the rounded vertices, independent of gis.network."""
    xy, line, key = _vertices(roads)
    same = line[1:] == line[:-1]
    u, v, ln = key[:-1][same], key[1:][same], line[:-1][same]
    oneway = (roads["oneway"] == "yes").to_numpy()[ln]
    keep = np.ones(len(u), bool)
    if skip_bridges:
        keep = (roads["bridge"] != "yes").to_numpy()[ln]
    g = nx.DiGraph()
    g.add_edges_from(zip(u[keep], v[keep], strict=True))
    g.add_edges_from(zip(v[keep & ~oneway], u[keep & ~oneway], strict=True))
    rounded = np.round(xy, 2)
    nx.set_node_attributes(g, {int(k): tuple(rounded[i]) for i, k in enumerate(key)}, "xy")
    return g


def _banks(layers: dict[str, gpd.GeoDataFrame]) -> tuple[shapely.Geometry, shapely.Geometry]:
    river = layers["barriers"].set_index("kind").geometry["river"]
    land = shapely.difference(layers["study_area"].geometry.iloc[0], river)
    parts = sorted(shapely.get_parts(land), key=lambda g: g.centroid.x)
    assert len(parts) == 2
    return parts[0], parts[1]


# ----------------------------------------------------------------------------- schema


def test_layers_follow_the_schema(small):
    assert list(small) == list(LAYERS)
    assert validate_layers(small) == []
    for name, gdf in small.items():
        spec = LAYERS[name]
        assert len(gdf) > 0, name
        assert gdf.crs.to_epsg() == 32649, name
        assert gdf.attrs["synthetic"] is True, name
        assert (gdf["source"] == SOURCE).all(), name
        assert set(spec.required_columns) <= set(gdf.columns), name
        for col in spec.columns:
            if col.values is not None and col.name in gdf:
                assert set(gdf[col.name].dropna()) <= set(col.values), (name, col.name)
            if col.kind == "share" and col.name in gdf:
                assert gdf[col.name].between(0, 1).all(), (name, col.name)
        assert set(gdf.geom_type) <= spec.geometry, name
        assert gdf.geometry.is_valid.all() and not gdf.geometry.is_empty.any(), name
        if spec.has_ids:
            assert gdf["id"].is_unique, name
            # the rule of gis.load_scenario: indexed by id, the column kept, the index unnamed
            assert gdf.index.tolist() == gdf["id"].tolist() and gdf.index.name is None, name
    assert small["study_area"]["name"].iloc[0] == "Demo City (synthetic)"
    assert set(small["barriers"]["kind"]) == {"river", "expressway", "railway"}
    assert small["hazards"]["id"].iloc[0] == "H0001"
    assert small["communities"]["id"].iloc[0] == "C001"
    assert list(small["fire_stations"]["id"]) == [f"FS{i}" for i in range(1, 7)]
    assert list(small["depots"]["id"]) == ["D1", "D2", "D3"]


def test_city_is_15_km_square_near_the_made_up_centre(small):
    minx, miny, maxx, maxy = small["study_area"].total_bounds
    assert (maxx - minx, maxy - miny) == (15000.0, 15000.0)
    centre = gpd.GeoSeries(small["study_area"].centroid, crs=32649).to_crs(4326).iloc[0]
    assert centre.x == pytest.approx(112.9, abs=0.01)
    assert centre.y == pytest.approx(38.3, abs=0.01)
    for gdf in small.values():
        bx = gdf.total_bounds
        assert bx[0] >= minx - 1 and bx[1] >= miny - 1 and bx[2] <= maxx + 1 and bx[3] <= maxy + 1


# ----------------------------------------------------------------------------- people


def test_communities_tile_the_land_with_a_million_people(city):
    c = city["communities"]
    assert 140 <= len(c) <= 160
    assert c["population"].sum() == pytest.approx(1_000_000, rel=0.05)
    assert (c["population"] > 0).all()
    size = c["population"] / c["households"]
    assert size.between(2.2, 3.4).all()
    area = c.geometry.area
    union = shapely.union_all(c.geometry.to_numpy())
    assert union.area == pytest.approx(area.sum(), rel=1e-6)  # no overlaps
    west, east = _banks(city)
    assert union.area == pytest.approx(west.area + east.area, rel=1e-4)  # no gaps
    river = city["barriers"].set_index("kind").geometry["river"]
    assert c.geometry.intersection(river).area.max() < 1.0  # none in the water
    density = (c["population"] / area).groupby(c["district"]).mean()
    assert density.idxmax() == "Old Town"
    assert density["Old Town"] > 5 * density["Industrial Park"]
    old = c["district"] == "Old Town"
    assert c.loc[old, "share_aged_65plus"].mean() > c.loc[~old, "share_aged_65plus"].mean()
    assert c.loc[old, "share_built_pre2000"].mean() > c.loc[~old, "share_built_pre2000"].mean()


def test_sensitive_sites_and_incidents(city):
    s = city["sensitive_sites"]
    assert 70 <= len(s) <= 90
    assert set(s["kind"]) <= set(SENSITIVE_KINDS)
    assert {"school", "kindergarten", "hospital", "mall"} <= set(s["kind"])
    inc = city["incidents"]
    assert 2000 <= len(inc) <= 5000
    times = pd.to_datetime(inc["time"], format="ISO8601")
    assert (times.dt.year == times.dt.year.iloc[0]).all()
    assert set(HAZARD_CATEGORIES) - {"other"} <= set(inc["category"])
    # The intensity follows the hazards: incidents crowd within 150 m of a source.
    hz = shapely.get_coordinates(city["hazards"].geometry.to_numpy())
    near = cKDTree(hz).query(shapely.get_coordinates(inc.geometry.to_numpy()))[0] < 150
    zone = shapely.union_all(city["hazards"].buffer(150).to_numpy())
    share_of_area = zone.area / city["study_area"].area.iloc[0]
    assert near.mean() > 1.5 * share_of_area
    # ... and the population: more incidents per km2 in the old town than elsewhere.
    c = city["communities"]
    joined = gpd.sjoin(inc, c[["district", "geometry"]], predicate="within")
    per_km2 = joined.groupby("district").size() / (c.geometry.area.groupby(c["district"]).sum() / 1e6)
    assert per_km2["Old Town"] > per_km2["Outer District"]


# ----------------------------------------------------------------------------- hazards


def test_hazards_cover_every_category_with_plausible_inventories(city):
    h = city["hazards"]
    assert len(h) >= 200
    assert set(h["category"]) == set(HAZARD_CATEGORIES)
    counts = Counter(h["rectification"])
    assert counts.most_common(1)[0][0] == "none"
    assert len(counts) == len(RECTIFICATION_STATUSES)
    with_inv = h[h["inventory"].notna()]
    assert set(with_inv["category"]) == {"hazardous_chemicals", "fuel_gas", "fireworks_explosives"}
    for cat in ("mining", "metallurgy", "construction"):
        rows = h[h["category"] == cat]
        assert rows["inventory"].isna().all() and rows["size_class"].notna().all()
    index = []
    for text in with_inv["inventory"]:
        items = parse_inventory(text)
        assert items, text
        index.append(sum(i["q_t"] / i["Q_t"] for i in items))
    s = pd.Series(index, index=with_inv.index)
    chem = s[with_inv["category"] == "hazardous_chemicals"]
    assert (chem >= 1).any() and (chem < 1).any()  # some major hazard sources, some not
    q = {i["substance"]: i["Q_t"] for text in with_inv["inventory"] for i in json.loads(text)}
    assert q["chlorine"] == 5.0 and q["ammonia"] == 10.0 and q["gasoline"] == 200.0


def test_hazards_cluster_where_they_belong(city):
    h = city["hazards"]
    x0, y0, *_ = city["study_area"].total_bounds
    xy = shapely.get_coordinates(h.geometry.to_numpy()) - [x0, y0]
    p = load_demo_params()  # the zones as gis/data/demo_city.toml draws them
    (px0, px1), (py0, py1) = p["industrial_park"]["x_m"], p["industrial_park"]["y_m"]
    chem = (h["category"] == "hazardous_chemicals").to_numpy()
    assert ((px0 <= xy[chem, 0]) & (xy[chem, 0] <= px1) & (py0 <= xy[chem, 1]) & (xy[chem, 1] <= py1)).all()
    mines = (h["category"] == "mining").to_numpy()
    hills = p["hills"]  # the hills' east edge wanders by its amplitude around its mean
    assert (xy[mines, 0] < hills["edge_x_m"] + hills["edge_amplitude_m"]).all()
    fuel = h[h["category"] == "fuel_gas"]
    arterials = city["roads"][city["roads"]["highway"].isin(["primary", "secondary"])]
    assert fuel.distance(shapely.union_all(arterials.geometry.to_numpy())).max() < 30


def test_resources(city):
    fs = city["fire_stations"]
    assert len(fs) == 6
    assert set(fs["grade"]) == {"grade1", "grade2", "small"}
    west, east = _banks(city)
    assert fs.within(west).all()  # nobody east of the river: a badly covered district
    d = city["depots"]
    assert sorted(d["tier"]) == ["city", "county", "county"]
    stock = [c for c in d.columns if c.startswith("stock_")]
    assert set(stock) >= {
        "stock_rice_kg",
        "stock_water_l",
        "stock_tents",
        "stock_quilts",
        "stock_family_kits",
    }
    assert (d[stock] > 0).all().all()
    cs = city["candidate_sites"]
    assert 35 <= len(cs) <= 40
    assert cs.within(east).any()
    arterials = city["roads"][city["roads"]["highway"].isin(["primary", "secondary"])]
    art_xy = {tuple(p) for p in shapely.get_coordinates(arterials.geometry.to_numpy())}
    for pts in (cs, fs, d):
        assert all(tuple(p) in art_xy for p in shapely.get_coordinates(pts.geometry.to_numpy()))


# ----------------------------------------------------------------------------- roads


def test_road_columns(small):
    r = small["roads"]
    assert set(r["highway"]) == {"motorway", "primary", "secondary", "tertiary", "residential", "service"}
    assert set(r["oneway"]) == {"yes", "no"}
    assert set(r["bridge"].dropna()) == {"yes"}
    assert r["maxspeed"].dropna().str.isdigit().all()
    assert (r.loc[r["highway"] == "motorway", "name"].str.startswith("Ring Expressway")).all()
    assert set(r.geom_type) == {"LineString"}


def test_shared_vertices_are_bit_identical(small):
    xy, _, key = _vertices(small["roads"])
    # One raw coordinate per 1 cm cell ...
    raw = pd.DataFrame({"key": key, "x": xy[:, 0], "y": xy[:, 1]}).drop_duplicates()
    assert raw["key"].is_unique
    # ... and no near misses: distinct vertices are more than 5 cm apart.
    unique = raw[["x", "y"]].to_numpy()
    assert len(cKDTree(unique).query_pairs(0.05)) == 0


@pytest.mark.parametrize("n", [2000, SMALL])
def test_node_count_is_respected(n, small):
    roads = small["roads"] if n == SMALL else demo_city(seed=3, n_road_nodes=n)["roads"]
    assert len(_graph_nodes(roads)) == pytest.approx(n, rel=0.15)


def test_default_size(city):
    assert len(_graph_nodes(city["roads"])) == pytest.approx(30_000, rel=0.15)


def test_network_is_strongly_connected_with_old_town_one_ways(small):
    g = _digraph(small["roads"])
    assert nx.is_strongly_connected(g)
    assert (small["roads"]["oneway"] == "yes").sum() >= 3


def test_river_splits_the_network_except_at_bridges(small):
    r = small["roads"]
    bridges = r[r["bridge"] == "yes"]
    assert 3 <= len(bridges) <= 4
    assert set(bridges["highway"]) == {"motorway", "primary"}
    assert nx.is_weakly_connected(_digraph(r))
    g = _digraph(r, skip_bridges=True).to_undirected()
    west, east = _banks(small)
    sides = []
    for comp in nx.connected_components(g):
        pts = shapely.points([g.nodes[n]["xy"] for n in comp])
        sides.append((shapely.within(pts, west).any(), shapely.within(pts, east).any()))
    assert not any(w and e for w, e in sides)  # no component reaches both banks
    assert any(w for w, _ in sides) and any(e for _, e in sides)


def test_roads_stay_out_of_the_water_except_bridges(small):
    r = small["roads"]
    water = small["barriers"].set_index("kind").geometry["river"].buffer(-1.0)
    wet = r.intersects(water)
    assert (wet == (r["bridge"] == "yes")).all()


def test_ring_meets_only_primary_arterials(small):
    r = small["roads"]
    _, line, key = _vertices(r)
    hw = r["highway"].to_numpy()[line]
    ring = np.unique(key[hw == "motorway"])
    shared = np.isin(key, ring) & (hw != "motorway")
    assert shared.any()
    assert set(hw[shared]) == {"primary"}


def test_streets_cross_only_at_shared_vertices(small):
    r = small["roads"][small["roads"]["highway"] != "motorway"].reset_index(drop=True)
    lines = r.geometry.to_numpy()
    left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    inter = shapely.intersection(lines[left], lines[right])
    assert set(shapely.get_type_id(inter)) <= {0, 4}  # points, never overlapping segments
    pts, which = shapely.get_coordinates(inter, return_index=True)
    vertices = {tuple(p) for p in shapely.get_coordinates(lines)}
    assert all(tuple(p) in vertices for p in pts)
    assert len(which) > 0


def test_network_builder_reads_the_demo_roads(city):
    from gis import network

    g = network.graph_from_lines(city["roads"], source="demo", keep_largest=False)
    report = g.report
    assert g.n_nodes == len(_graph_nodes(city["roads"]))
    assert "1 strongly connected component" in str(report)


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_topology_holds_for_any_seed(seed):
    layers = demo_city(seed=seed, n_road_nodes=2000)
    r = layers["roads"]
    assert nx.is_strongly_connected(_digraph(r))
    g = _digraph(r, skip_bridges=True).to_undirected()
    assert nx.number_connected_components(g) >= 2
    assert len(_graph_nodes(r)) == pytest.approx(2000, rel=0.15)


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_city_other_seed_other_city(small):
    again = demo_city(seed=7, n_road_nodes=SMALL)
    for name in LAYERS:
        pd.testing.assert_frame_equal(
            pd.DataFrame(small[name].drop(columns="geometry")),
            pd.DataFrame(again[name].drop(columns="geometry")),
        )
        assert shapely.equals_exact(small[name].geometry.to_numpy(), again[name].geometry.to_numpy(), 0).all()
    other = demo_city(seed=8, n_road_nodes=SMALL)
    for name in ("roads", "hazards", "communities", "incidents"):
        a, b = small[name].geometry, other[name].geometry
        assert len(a) != len(b) or not shapely.equals_exact(a.to_numpy(), b.to_numpy(), 0).all(), name


# ----------------------------------------------------------------------------- parameters


def test_parameters_can_be_overridden(tmp_path):
    layers = demo_city(n_road_nodes=2000, demo_params={"city": {"population_total": 400_000}})
    assert layers["communities"]["population"].sum() == 400_000
    toml = tmp_path / "small_city.toml"
    toml.write_text("[communities]\ncount = 60\n", encoding="utf-8")
    assert len(demo_city(n_road_nodes=2000, demo_params=toml)["communities"]) == 60


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_road_nodes": 10}, "n_road_nodes"),
        ({"n_road_nodes": 5000.5}, "n_road_nodes"),
        ({"seed": -1}, "seed"),
        ({"demo_params": {"hazards": {"categories": {"volcano": {"count": 1}}}}}, "volcano"),
        ({"demo_params": {"hazards": {"categories": {"mining": {"zones": ["moon"]}}}}}, "moon"),
        ({"demo_params": {"fire_stations": [{"name": "X", "grade": "huge", "position_m": [0, 0]}]}}, "huge"),
    ],
)
def test_bad_arguments_are_input_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        demo_city(**kwargs)


def test_params_table_documents_gb18218_quantities():
    q = load_demo_params()["critical_quantities_t"]
    assert q["chlorine"] == 5.0 and q["ammonia"] == 10.0 and q["hydrogen"] == 5.0
    assert q["liquefied petroleum gas"] == 50.0 and q["natural gas"] == 50.0
    assert q["methanol"] == 500.0 and q["benzene"] == 50.0 and q["hydrogen sulfide"] == 5.0


# ----------------------------------------------------------------------------- GeoPackage


def test_geopackage_round_trip(tmp_path):
    layers = demo_city(seed=5, n_road_nodes=2000)
    path = write_demo_scenario(tmp_path / "demo.gpkg", seed=5, n_road_nodes=2000)
    assert path == tmp_path / "demo.gpkg"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.gpkg"]
    names = [str(n) for n, _ in pyogrio.list_layers(path)]
    assert names == [*LAYERS, "metadata"]
    meta = pyogrio.read_dataframe(path, layer="metadata", read_geometry=False)
    meta = dict(zip(meta["key"], meta["value"], strict=True))
    assert meta["synthetic"] == "true" and meta["seed"] == "5"
    assert meta["name"] == "Demo City (synthetic)" and meta["crs"] == "EPSG:32649"
    for name, expected in layers.items():
        got = pyogrio.read_dataframe(path, layer=name)
        assert got.crs.to_epsg() == 32649
        assert list(got.columns) == list(expected.columns), name
        assert shapely.equals_exact(got.geometry.to_numpy(), expected.geometry.to_numpy(), 0).all(), name
        for col in expected.columns.drop("geometry"):
            a = expected[col].astype(object).where(expected[col].notna(), None).tolist()
            b = got[col].astype(object).where(got[col].notna(), None).tolist()
            assert a == b, (name, col)


def test_failed_write_leaves_no_file_behind(tmp_path, monkeypatch):
    target = tmp_path / "demo.gpkg"
    target.write_bytes(b"older file")
    real = pyogrio.write_dataframe
    calls = []

    def flaky(*args, **kwargs):
        calls.append(kwargs.get("layer"))
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_demo_scenario(target, n_road_nodes=2000)
    assert len(calls) == 3  # failed mid-write, after two layers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.gpkg"]
    assert target.read_bytes() == b"older file"
    target.unlink()
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        write_demo_scenario(target, n_road_nodes=2000)
    assert list(tmp_path.iterdir()) == []
