"""Effective response force and special-duty gaps against a full cost matrix on a small graph."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gis.errors import InputError
from planning.concentration import (
    force_within,
    load_station_force,
    response_force,
    special_duty_gaps,
    station_force,
)
from planning.travel import cost_matrix

CRS = 32649


def _grid(n: int = 12, step_m: float = 400.0, speed_mps: float = 5.0) -> nx.MultiDiGraph:
    """A two-way grid road graph in a metric CRS: ``travel_time_s`` = length / speed."""
    g = nx.MultiDiGraph(crs=f"EPSG:{CRS}")
    for i in range(n):
        for j in range(n):
            g.add_node(i * n + j, x=500_000.0 + i * step_m, y=4_000_000.0 + j * step_m)
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j, (i + di) * n + j + dj
                    for u, v in ((a, b), (b, a)):
                        g.add_edge(u, v, length=step_m, travel_time_s=step_m / speed_mps, highway="primary")
    return g


def _points(rng: np.random.Generator, k: int, **cols: object) -> gpd.GeoDataFrame:
    x = 500_000.0 + rng.uniform(0, 4400, k)
    y = 4_000_000.0 + rng.uniform(0, 4400, k)
    return gpd.GeoDataFrame(
        cols, geometry=gpd.points_from_xy(x, y), crs=CRS, index=[f"p{i}" for i in range(k)]
    )


@pytest.fixture(scope="module")
def case() -> tuple[nx.MultiDiGraph, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(3)
    grades = ["grade1", "grade2", "small", "special", "micro", "grade2", "grade1"]
    stations = _points(rng, len(grades), grade=grades)
    stations.index = [f"S{i}" for i in range(len(grades))]
    return _grid(), stations, _points(rng, 40)


def test_force_matches_full_matrix_and_chunking(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    full = cost_matrix(graph, stations, places)
    force = station_force(stations)
    table = load_station_force()
    got = response_force(graph, stations, places, chunk_size=3)
    one = response_force(graph, stations, places, chunk_size=1)
    pd.testing.assert_frame_equal(got, one)
    for name, target in table["targets"].items():
        within = full <= target["travel_s"]
        units = within @ force["units"].to_numpy()
        crew = within @ force["crew"].to_numpy()
        np.testing.assert_allclose(got[f"{name}_units"], units)
        np.testing.assert_allclose(got[f"{name}_crew"], crew)
        met = (units >= target["units"]) & (crew >= target["crew"])
        assert got[f"{name}_met"].tolist() == met.tolist()
    cutoff = max(t["travel_s"] for t in table["targets"].values())
    first = full.min(axis=1)
    np.testing.assert_allclose(got["first_unit_s"], np.where(first <= cutoff, first, np.inf), rtol=1e-9)
    assert 0 < got["nfpa-1710_met"].sum() < len(places)  # the case is not trivial either way


def test_overrides_station_columns_and_targets(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, places = case
    st = stations.assign(crew=[None, 4, None, None, None, None, None])
    assert station_force(st).loc["S1", "crew"] == 4
    strict = response_force(
        graph, stations, places, targets=["nfpa-1710"], station_force={"grades": {"grade1": {"crew": 0}}}
    )
    base = response_force(graph, stations, places, targets=["nfpa-1710"])
    assert list(strict.columns) == [
        "first_unit_s",
        "special_duty_s",
        "nfpa-1710_units",
        "nfpa-1710_crew",
        "nfpa-1710_met",
    ]
    assert (strict["nfpa-1710_crew"] <= base["nfpa-1710_crew"]).all()
    with pytest.raises(InputError, match="targets"):
        response_force(graph, stations, places, targets=["nfpa-9999"])
    with pytest.raises(InputError, match="S0"):
        station_force(stations.assign(grade=["castle"] + ["grade1"] * 6))
    with pytest.raises(InputError, match="crew"):
        load_station_force({"grades": {"grade1": {"crew": -1}}})


def test_special_duty_gaps(case) -> None:  # type: ignore[no-untyped-def]
    graph, stations, _ = case
    rng = np.random.default_rng(9)
    hazards = _points(rng, 12, category=["hazardous_chemicals", "other", "fireworks_explosives"] * 4)
    hazards["major_hazard"] = [False] * 11 + [True]
    gaps = special_duty_gaps(graph, stations, hazards)
    special = stations[stations["grade"] == "special"]
    t = cost_matrix(graph, special, hazards).min(axis=1)
    limit = load_station_force()["special_duty"]["travel_s"]
    needs = (
        hazards["category"].isin(["hazardous_chemicals", "fireworks_explosives"]) | hazards["major_hazard"]
    )
    assert gaps["needs_special_duty"].tolist() == needs.tolist()
    assert gaps["special_duty_gap"].tolist() == (needs & (t > limit)).tolist()
    assert gaps["special_duty_gap"].any() and (needs & (t <= limit)).any()
    none = special_duty_gaps(graph, stations[stations["grade"] != "special"], hazards)
    assert none["special_duty_gap"].tolist() == needs.tolist()


def test_force_within_by_hand() -> None:
    u, c = force_within(np.array([[10.0, 20.0, np.inf]]), [1, 2, 4], [5, 6, 7], 20.0)
    assert u.tolist() == [3.0] and c.tolist() == [11.0]


def test_cli_force_writes_layers(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import pyogrio

    from gis import write_demo_scenario
    from service import cli

    path = write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=2000)
    out = tmp_path / "force.gpkg"
    assert cli.main(["-q", "force", str(path), "--out", str(out), "--no-cache"]) == 0
    text = capsys.readouterr().out
    assert "nfpa-1710" in text and "Special duty" in text
    layer = pyogrio.read_dataframe(out, layer="communities_force")
    assert {"nfpa-1710_units", "nfpa-1710_crew", "nfpa-1710_met", "first_unit_s"} <= set(layer.columns)
    assert "special_duty_gap" in pyogrio.read_dataframe(out, layer="hazards_special_duty")
    bad = tmp_path / "bad.toml"
    bad.write_text("[grades.grade1]\ncrew = -3\n")
    assert (
        cli.main(
            [
                "-q",
                "force",
                str(path),
                "--out",
                str(tmp_path / "x.gpkg"),
                "--station-force",
                str(bad),
                "--no-cache",
            ]
        )
        == 2
    )
    assert not (tmp_path / "x.gpkg").exists()
