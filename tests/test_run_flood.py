"""Floods inside ``riskplan run`` (issue 19): closures, the depots' flooded roads, the map and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gis
from gis.demo.natural import write_demo_natural_hazards
from gis.errors import InputError

pytest.importorskip("rasterio", reason="rasterio is not installed")
pytest.importorskip("exactextract", reason="exactextract is not installed")

LAYERS = ("roads", "hazards", "communities", "fire_stations", "depots")


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The 2,000-node demo city's GeoPackage and its synthetic floods' TOML block, written once."""
    base = tmp_path_factory.mktemp("demo")
    gpkg = gis.write_demo_scenario(base / "demo_city.gpkg", n_road_nodes=2000)
    block = write_demo_natural_hazards(base).read_text(encoding="utf-8").split("[natural_hazards]", 1)[1]
    for name in ("flood_10y.tif", "flood_50y.tif", "flood_100y.tif", "geohazards.gpkg"):
        block = block.replace(f'"{name}"', f'"{(base / name).as_posix()}"')
    return gpkg, block


def _toml(base: Path, demo_files: tuple[Path, str], natural: str) -> Path:
    """A scenario TOML in ``base`` of the demo city with its floods and the ``natural`` keys."""
    gpkg, block = demo_files
    base.mkdir(parents=True, exist_ok=True)
    text = '[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n'
    text += "".join(f'[layers.{n}]\npath = "{gpkg.as_posix()}"\nlayer = "{n}"\n' for n in LAYERS)
    toml = base / "scenario.toml"
    toml.write_text(text + "\n[natural_hazards]\n" + natural + block, encoding="utf-8")
    return toml


@pytest.fixture(scope="module")
def flooded(tmp_path_factory: pytest.TempPathFactory, demo_files: tuple[Path, str]) -> dict[str, Any]:
    """The demo city with its 100-year flood closing roads and planning the depots: the pieces of a run."""
    from planning import plan_depots
    from service.flood_run import depot_flood_depth, flood_coverage
    from service.workflow import assess, natural_inputs

    toml = _toml(
        tmp_path_factory.mktemp("flooded"),
        demo_files,
        "closure_return_period = 100\nrelocation_return_period = 100",
    )
    scenario = gis.load_scenario(toml)
    natural = natural_inputs(scenario)
    graph = gis.scenario_graph(scenario, cache=False)
    coverage, risk = assess(scenario, graph=graph, natural=natural, learn=False, cache=False)
    depots = plan_depots(
        scenario, graph, risk=risk, flood_return_period=100, flood_depth=depot_flood_depth(natural[0])
    )
    return {
        "toml": toml,
        "scenario": scenario,
        "natural": natural[0],
        "graph": graph,
        "plain": coverage,
        "coverage": flood_coverage(scenario, graph, coverage, natural[0], risk=risk),
        "risk": risk,
        "depots": depots,
    }


def test_a_closure_return_period_without_its_raster_stops_the_run_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], demo_files: tuple[Path, str]
) -> None:
    from risk_models.natural import read_natural_hazards
    from service.cli import main

    toml = _toml(tmp_path, demo_files, "closure_return_period = 25\n")
    out = tmp_path / "out"
    assert main(["-q", "run", str(toml), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "scenario.toml" in err and "closure_return_period` is 25" in err and "10, 50, 100 (years)" in err
    assert not out.exists() or not any(out.rglob("*.*"))
    toml.write_text(toml.read_text(encoding="utf-8").replace("= 25", '= "100"'), encoding="utf-8")
    with pytest.raises(InputError, match="closure_return_period") as exc:
        read_natural_hazards(toml)
    assert "重现期为 10, 50, 100" in exc.value.text("zh")  # the message in the glossary's Chinese too


@pytest.mark.slow
def test_the_run_closes_the_floods_roads_as_the_what_if_does(
    tmp_path: Path, demo_files: tuple[Path, str]
) -> None:
    import pyogrio

    from planning import flooded_edges
    from planning.change import ScenarioChange
    from planning.what_if import WhatIfBaseline, what_if
    from service.workflow import run_scenario

    toml = _toml(tmp_path, demo_files, "closure_return_period = 100\nrelocation_return_period = 100")
    run_scenario(toml, tmp_path / "out", cache=False)
    out = tmp_path / "out"
    scenario = gis.load_scenario(toml)
    graph = gis.scenario_graph(scenario, cache=False)
    closed, depth = flooded_edges(graph, demo_files[0].parent / "flood_100y.tif")
    want = what_if(
        WhatIfBaseline.from_scenario(scenario, graph),
        ScenarioChange(closed_edges=tuple(np.flatnonzero(closed).tolist())),
    )
    got = pyogrio.read_dataframe(out / "coverage.gpkg", layer="flood_communities").set_index("id")
    w = want.communities
    after = got["response_after_s"].to_numpy(float)  # the GeoPackage keeps inf (no station) as null
    np.testing.assert_allclose(
        np.where(np.isnan(after), np.inf, after), w["response_after_s"].to_numpy(float)
    )
    for col in ("loses_coverage", "cut_off", "covered_after"):
        assert (got[col].astype(bool).to_numpy() == w[col].to_numpy()).all(), col
    roads = pyogrio.read_dataframe(out / "coverage.gpkg", layer="flood_closed_roads")
    assert len(roads) == int(closed.sum()) > 0 and (roads["depth_m"] > 0.3).all()
    np.testing.assert_allclose(roads["depth_m"], depth[roads["edge"].to_numpy()])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))["flood"]
    assert summary["closed_edges"] == closed.sum()
    assert summary["residents_cut_off"] == pytest.approx(want.summary["residents_cut_off"])
    assert "depot_communities_cut_off" in summary
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="floods"' in report and "100年一遇洪水" in report  # the demo city is Chinese by default
    from maps.interactive import read_map_layers

    layers = read_map_layers((out / "map.html").read_text(encoding="utf-8"))
    assert {"flood", "flood_roads"} <= set(layers)


def test_the_depots_deliver_on_the_flooded_roads_never_sooner_and_name_the_cut_off(
    flooded: dict[str, Any],
) -> None:
    from planning import plan_depots

    scenario, graph, risk = flooded["scenario"], flooded["graph"], flooded["risk"]
    depth = flooded["natural"].flood_depth[100.0]
    dry = plan_depots(scenario, graph, risk=risk, flood_return_period=100)
    wet = flooded["depots"]
    a, b = dry.communities, wet.communities
    assert (b["nearest_depot_h"].to_numpy() >= a["nearest_depot_h"].to_numpy() - 1e-12).all()
    assert (b["nearest_depot_h"] > a["nearest_depot_h"] + 1e-9).any()  # the flood slows some deliveries
    np.testing.assert_allclose(b["nearest_depot_open_h"], a["nearest_depot_h"])
    assert "flood_cut_off" in b and any("road edges closed" in n for n in wet.notes)
    # a flood closing every wet road (any depth) cuts communities off: unmet, never assigned
    norms = {"flood_roads": {"closed_depth_m": 0.0}}
    deep = plan_depots(
        scenario, graph, risk=risk, flood_return_period=100, flood_depth=depth, planning_norms=norms
    )
    c = deep.communities
    cut = c["flood_cut_off"].to_numpy(bool)
    assert cut.any() and c.loc[cut, "depot"].isna().all()
    assert (c.loc[cut & (c["relocate_people"] > 0), "unmet_reason"] == "cut_off").all()
    assert np.isfinite(c.loc[cut, "nearest_depot_open_h"]).all()  # reached on the open roads
    assert "unmet (cut_off)" in deep.report()
    note = next(n for n in deep.notes if "road edges closed" in n)
    assert all(i in note for i in c.index[cut].astype(str)[:20])
    with pytest.raises(InputError, match="need the road network"):
        plan_depots(scenario, None, distance="euclidean", flood_depth=depth)


def test_the_map_draws_the_flood_with_its_legend_and_a_map_without_does_not(
    flooded: dict[str, Any],
) -> None:
    from maps import risk_map
    from maps.interactive import FLOOD_MAP_LAYERS, read_map_layers

    scenario, coverage = flooded["scenario"], flooded["coverage"]
    pages = {}
    for lang in ("en", "zh"):
        pages[lang] = risk_map(scenario, coverage=coverage, lang=lang).get_root().render()
    specs = read_map_layers(pages["en"])
    assert set(FLOOD_MAP_LAYERS) <= set(specs)
    depth = coverage.extra_layers["flood_depth"]
    assert len(specs["flood"]["data"]["features"]) == len(depth) > 1
    assert all(f["properties"]["dm"] >= 0.3 for f in specs["flood_roads"]["data"]["features"])
    assert "Flood depth" in pages["en"] and "depth 0.5\u20131.5 m" in pages["en"]
    assert (
        "洪水淹没水深" in pages["zh"]
        and "洪水封闭道路" in pages["zh"]
        and "水深 0.5\u20131.5 米" in pages["zh"]
    )
    # light: the flood's two layers add well under 200 kB to the page
    weight = sum(len(json.dumps(specs[k])) for k in FLOOD_MAP_LAYERS)
    assert weight < 200_000, weight
    plain = read_map_layers(risk_map(scenario, coverage=flooded["plain"], lang="en").get_root().render())
    assert not set(FLOOD_MAP_LAYERS) & set(plain)


def test_the_report_has_a_floods_section_in_both_languages(flooded: dict[str, Any]) -> None:
    from maps._flood_report import flood_section
    from maps.words import speaking

    coverage, depots = flooded["coverage"], flooded["depots"]
    communities = flooded["scenario"]["communities"]
    with speaking("en"):
        en = flood_section(coverage, depots, communities=communities)
        assert flood_section(flooded["plain"]) == ""
    with speaking("zh"):
        zh = flood_section(coverage, depots, communities=communities)
    for text in ("Floods", "100-year flood", "expected annual affected residents", "Roads closed", "cut off"):
        assert text in en, text
    for text in ("洪水", "100年一遇洪水", "年期望受影响人数", "封闭道路", "被洪水隔断"):
        assert text in zh, text
    residents = coverage.extra_tables["flood_residents"]
    assert list(residents["return_period"]) == ["10", "50", "100", "expected_annual"]
    assert residents["residents_affected"].iloc[:3].is_monotonic_increasing
    assert f"{residents['residents_affected'].iloc[-1]:,.0f}" in en
    t = coverage.extra_tables["flood_summary"]
    s = dict(zip(t["measure"], t["value"], strict=True))
    assert f"{s['residents_cut_off']:,.0f}" in en and f"{int(s['closed_edges']):,}" in en
