"""Coverage without the stations x nodes matrix (the chunked path) equals the full path on the demo city."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dask_factory import two_workers

from gis import InputError, RoadGraph, RoadsSource, Scenario, demo_city, graph_from_lines
from planning import analyse_coverage, layer_coverage, response
from planning.standards import response_standard

LAYERS = ("communities", "hazards", "area_units")
SECOND = ("second_station", "second_response_time_s")


@pytest.fixture(scope="module")
def city() -> tuple[Scenario, RoadGraph]:
    raw = demo_city(n_road_nodes=2000)
    sc = Scenario("Demo City (synthetic)", raw, raw["roads"].crs, RoadsSource("layer"), synthetic=True)
    return sc, graph_from_lines(raw["roads"])


@pytest.fixture(scope="module")
def both(city: tuple[Scenario, RoadGraph]) -> tuple[object, object]:
    sc, G = city
    return analyse_coverage(sc, G, travel_matrix="full"), analyse_coverage(sc, G, travel_matrix="chunked")


def _assert_layer_equal(full: pd.DataFrame, chunked: pd.DataFrame, cutoff_s: float) -> None:
    """Every column of the full path, bit for bit; the second station where it is within the cut-off."""
    beyond = chunked["second_beyond_cutoff"].to_numpy(bool)
    assert list(chunked.columns) == [*full.columns, "second_beyond_cutoff"] or set(chunked.columns) == {
        *full.columns,
        "second_beyond_cutoff",
    }
    for col in full.columns:
        a, b = full[col], chunked[col]
        if col in SECOND:
            a, b = a[~beyond], b[~beyond]
        if col == "geometry":
            assert a.geom_equals_exact(b, 0).all()
        else:
            pd.testing.assert_series_equal(a, b, check_exact=True)
    # where the chunked path says "beyond", the full path's second station is indeed beyond the cut-off
    assert (full["second_response_time_s"].to_numpy()[beyond] > cutoff_s).all()
    assert (full["second_response_time_s"].to_numpy()[~beyond] <= cutoff_s).all() or (
        ~np.isfinite(full["second_response_time_s"].to_numpy()[~beyond])
    ).all()


def test_chunked_coverage_equals_the_full_path(both: tuple[object, object]) -> None:
    full, chunked = both
    for name in LAYERS:
        a, b = getattr(full, name), getattr(chunked, name)
        _assert_layer_equal(a, b, b.attrs["second_cutoff_s"])
    pd.testing.assert_frame_equal(full.summary, chunked.summary, check_exact=True)
    pd.testing.assert_frame_equal(full.hazards_by_grade, chunked.hazards_by_grade, check_exact=True)
    for name in ("isochrones", "districts", "enclaves", "stations"):
        a, b = getattr(full, name), getattr(chunked, name)
        pd.testing.assert_frame_equal(
            a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True
        )
        assert a.geometry.geom_equals_exact(b.geometry, 0).all(), name
    pd.testing.assert_frame_equal(full.violations, chunked.violations, check_exact=True)


def test_second_beyond_the_cutoff_is_reported_as_such(both: tuple[object, object]) -> None:
    full, chunked = both
    com = chunked.communities
    cutoff = com.attrs["second_cutoff_s"]
    assert cutoff == pytest.approx(300.0)  # GB 51080: the standard's 300 s response
    beyond = com["second_beyond_cutoff"]
    assert 0 < beyond.sum() < len(com)
    assert com.loc[beyond, "second_station"].isna().all()
    assert com.loc[beyond, "second_response_time_s"].isna().all()  # NaN, never inf (= unreachable)
    assert np.isfinite(com.loc[~beyond, "second_response_time_s"]).all()
    assert (full.communities.loc[beyond, "second_response_time_s"] > cutoff).all()
    assert not np.isinf(com["second_response_time_s"]).any()
    note = next(n for n in chunked.notes if n.startswith("chunked travel times"))
    assert f"{int(beyond.sum())} communities" in note and "second_beyond_cutoff" in note
    assert "second_beyond_cutoff" not in full.communities.columns
    assert not any(n.startswith("chunked") for n in full.notes)


@pytest.mark.parametrize("profile", ["nfpa-1710", "cn-micro-135"])
def test_chunked_layer_equals_full_for_other_profiles_and_speeds(
    city: tuple[Scenario, RoadGraph], profile: str
) -> None:
    sc, G = city
    kw = {"standard": profile, "speed_factor": 0.8, "layer": "hazards"}
    a = layer_coverage(G, sc["fire_stations"], sc["hazards"], travel_matrix="full", **kw)  # type: ignore[arg-type]
    b = layer_coverage(G, sc["fire_stations"], sc["hazards"], travel_matrix="chunked", **kw)  # type: ignore[arg-type]
    std = response_standard(profile)
    limit = max(std.response_s, std.full_alarm_response_s or 0.0)
    assert b.attrs["second_cutoff_s"] == pytest.approx(limit)
    _assert_layer_equal(a, b, b.attrs["second_cutoff_s"])


def test_auto_takes_the_chunked_path_above_the_size_rule(
    city: tuple[Scenario, RoadGraph], monkeypatch: pytest.MonkeyPatch
) -> None:
    sc, G = city
    small = layer_coverage(G, sc["fire_stations"], sc["communities"])
    assert "second_beyond_cutoff" not in small.columns  # 6 stations x 2,000 nodes: the full matrix
    monkeypatch.setattr(response, "FULL_MATRIX_MAX", 100)
    big = layer_coverage(G, sc["fire_stations"], sc["communities"])
    assert "second_beyond_cutoff" in big.columns
    forced = layer_coverage(G, sc["fire_stations"], sc["communities"], travel_matrix="full")
    assert "second_beyond_cutoff" not in forced.columns
    with pytest.raises(InputError, match=r"`travel_matrix` is 'dense'.*auto, full, chunked"):
        layer_coverage(G, sc["fire_stations"], sc["communities"], travel_matrix="dense")  # type: ignore[arg-type]


def test_chunked_empty_layer(city: tuple[Scenario, RoadGraph]) -> None:
    sc, G = city
    out = layer_coverage(G, sc["fire_stations"], sc["hazards"].iloc[:0], travel_matrix="chunked")
    assert len(out) == 0 and "second_beyond_cutoff" in out.columns


def test_isochrones_of_only_the_reachable_pixels_equal_the_whole_grid(
    city: tuple[Scenario, RoadGraph], both: tuple[object, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At province size the chunked isochrones draw only the pixels reached roads can touch: same polygons."""
    from planning import _edge_pixels
    from planning import isochrones as iso_module

    sc, G = city
    full, _ = both
    monkeypatch.setattr(iso_module, "RASTER_MAX_PIXELS", 0)
    monkeypatch.setattr(_edge_pixels, "_BAND_ROWS", 7)  # several bands of rows
    monkeypatch.setattr(_edge_pixels, "_BATCH_PAIRS", 997)  # several batches of pairs in a band
    drawn = analyse_coverage(sc, G, travel_matrix="chunked", districts=False).isochrones
    pd.testing.assert_frame_equal(
        full.isochrones.drop(columns="geometry"), drawn.drop(columns="geometry"), check_exact=True
    )
    assert full.isochrones.geometry.geom_equals_exact(drawn.geometry, 0).all()


@pytest.mark.dask
def test_chunked_coverage_on_dask_equals_in_process(
    city: tuple[Scenario, RoadGraph], both: tuple[object, object]
) -> None:
    sc, G = city
    _, here = both
    with two_workers() as ex:
        there = analyse_coverage(sc, G, travel_matrix="chunked", executor=ex)
        assert ex.n_shared >= 1  # type: ignore[attr-defined]
    for name in (*LAYERS, "isochrones", "districts"):
        a, b = getattr(here, name), getattr(there, name)
        pd.testing.assert_frame_equal(
            a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True
        )
        assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    assert here.notes == there.notes


def test_district_cells_not_exactly_noded_fall_back_to_the_overlay_union() -> None:
    """GEOS's Voronoi cells of a province do not always share vertices; the coverage union refuses them."""
    import shapely

    from planning.districts import _union_cells

    cells = np.array([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 2)], dtype=object)
    with pytest.raises(shapely.errors.GEOSException):
        shapely.coverage_union_all(cells)
    assert _union_cells(cells).area == pytest.approx(3.0)


def test_searches_on_the_nodes_within_reach_equal_the_whole_graph() -> None:
    """The per-station searches cut off at c find the same costs on the subgraph of nodes within c."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    from planning.response import _within_reach

    rng = np.random.default_rng(7)
    n = 3000
    rows, cols = rng.integers(0, n, 6000), rng.integers(0, n, 6000)
    w = rng.integers(0, 20, 6000) / 3.0  # zero-cost edges and ties included
    csr = sp.csr_matrix((w, (rows, cols)), shape=(n, n))
    csr.sum_duplicates()
    stations = np.array([3, 50, 51, 300])
    cutoff = 6.0
    nearest = dijkstra(csr, indices=stations, min_only=True)
    sub, new = _within_reach(csr, nearest, cutoff)
    whole = dijkstra(csr, indices=stations, limit=cutoff)
    part = dijkstra(sub, indices=new[stations], limit=cutoff)
    np.testing.assert_array_equal(part[:, new], whole)  # unreached nodes map to the isolated node: inf
    assert sub.shape[0] - 1 == int((nearest <= cutoff).sum()) < n


def test_reverse_costs_of_some_edges_equal_the_whole_array(city: tuple[Scenario, RoadGraph]) -> None:
    from planning.travel import road_matrix

    m = road_matrix(city[1])
    edges = np.random.default_rng(1).integers(0, len(m.edge_uv), 500)
    np.testing.assert_array_equal(m.reverse_costs(edges), m.reverse_cost[edges])
    assert np.isinf(m.reverse_cost).any() and np.isfinite(m.reverse_cost).any()


def test_reduction_on_the_places_within_reach_equals_the_plain_reduction(
    city: tuple[Scenario, RoadGraph],
) -> None:
    """Searched on the nodes within reach, only the places some station can reach: the same arrays."""
    from planning.parallel import SnappedPointEngine, reduce_sources
    from planning.snapping import _snap_layers

    sc, G = city
    std = {"turnout_s": 60.0, "travel_s": 90.0}  # a short cut-off: many places beyond every station
    engine, _ = response._engine(
        G, sc["fire_stations"], standard=std, speed_factor=1.0, max_snap_m=None,
        edge_weight="travel_time_s", travel_matrix="chunked",
    )  # fmt: skip
    snaps = _snap_layers(engine.matrix, {"c": sc["communities"], "h": sc["hazards"]}, max_snap_m=None)
    together = pd.concat(list(snaps.values()), ignore_index=True)
    got = response._reduce_points(engine, together)
    plain = SnappedPointEngine.from_snaps(engine.matrix, together, offset_s=60.0, cutoff=engine.cutoff_cost)
    ref = reduce_sources(plain, engine.station_pos, thresholds=[150.0], chunk_size=16)
    assert got.equals(ref)
    assert (ref.nearest < 0).any() and (ref.nearest >= 0).any()
