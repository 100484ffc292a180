"""The risk's grid reads the coverage's snaps and searches: the same times as searching again."""

from __future__ import annotations

import pandas as pd
import pytest

import planning.response
from gis import RoadsSource, Scenario, demo_city, graph_from_lines
from planning import analyse_coverage, area_response_times, area_times, unit_response_times
from risk_models import build_units


@pytest.fixture(scope="module")
def city() -> tuple[Scenario, object]:
    layers = demo_city(n_road_nodes=3000, seed=7)
    sc = Scenario("Demo City (synthetic)", layers, layers["roads"].crs, RoadsSource("layer"))
    return sc, graph_from_lines(layers["roads"])


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    searched: list[int] = []

    def counted(graph, stations, units, **kw):
        searched.append(len(units))
        return unit_response_times(graph, stations, units, **kw)

    monkeypatch.setattr(area_times, "unit_response_times", counted)
    return searched


@pytest.mark.parametrize(
    ("max_snap_m", "chunked"),
    [(None, False), (40.0, False), (None, True)],  # 40 m: many cells off the roads, flags measured
)
def test_risk_grid_reuses_the_coverage_grid_with_the_same_times(
    city: tuple[Scenario, object], monkeypatch: pytest.MonkeyPatch, max_snap_m: float | None, chunked: bool
) -> None:
    sc, graph = city
    if chunked:  # the province's path: no stations x nodes matrix
        monkeypatch.setattr(planning.response, "FULL_MATRIX_MAX", 0)
    cov = analyse_coverage(sc, graph, breaks_s=None, districts=False, max_snap_m=max_snap_m)
    cells = build_units(sc["communities"], units="grid:500", study_area=sc.layers.get("study_area"))
    stations = sc["fire_stations"]
    expected = unit_response_times(graph, stations, cells, max_snap_m=max_snap_m)
    searched = _spy(monkeypatch)
    got = area_response_times(graph, stations, cells, coverage=cov.area_units, max_snap_m=max_snap_m)
    pd.testing.assert_series_equal(got, expected, check_exact=True)
    assert sum(searched) < len(cells) // 10  # the lattice is the coverage's: nearly nothing searched again
    if max_snap_m is not None:
        assert (got == float("inf")).any()


def test_cells_the_coverage_lacks_are_searched(
    city: tuple[Scenario, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    sc, graph = city
    cov = analyse_coverage(sc, graph, breaks_s=None, districts=False)
    cells = build_units(sc["communities"], units="grid:700", study_area=sc.layers.get("study_area"))
    stations = sc["fire_stations"]
    searched = _spy(monkeypatch)
    got = area_response_times(graph, stations, cells, coverage=cov.area_units.iloc[::2])
    pd.testing.assert_series_equal(got, unit_response_times(graph, stations, cells), check_exact=True)
    assert searched and sum(searched) <= len(cells)
