"""Maps, figures and report rendered and parsed (no browser): layers, counts, legend, offline."""

from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from map_factory import AREA_HAZARDS, map_inputs
from matplotlib.image import imread

from gis import write_demo_scenario
from gis.errors import InputError
from maps import (
    COMMUNITY_LAYERS,
    LAYER_NAMES,
    REGISTER_LAYERS,
    district_levels_figure,
    figure_png,
    read_map_layers,
    report_html,
    response_time_figure,
    risk_figure,
    risk_map,
    tradeoff_figure,
    write_map,
)
from maps.interactive import FLOOD_MAP_LAYERS, RELIABILITY_LAYERS

TRADEOFF = pd.DataFrame(
    {"n_new": [0, 1, 2, 3], "coverage_share": [0.55, 0.7, 0.8, 0.86], "mean_response_s": [420, 360, 320, 300]}
)


@pytest.fixture(scope="module")
def inputs():
    return map_inputs(["covers the <east> bank</script>", "industrial park", "new district"], TRADEOFF)


@pytest.fixture(scope="module")
def page(inputs) -> str:
    sc, risk, cov, stations, depots = inputs
    m = risk_map(sc, risk=risk, coverage=cov, station_plan=stations, depot_plan=depots, lang="en")
    return m.get_root().render()


def test_layer_control_names_every_layer(page):
    control = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.DOTALL).group(1)
    elsewhere = {
        *REGISTER_LAYERS,
        *COMMUNITY_LAYERS,
        *FLOOD_MAP_LAYERS,
        *RELIABILITY_LAYERS,
        "uncertain",
        "change",
    }
    for key, name in LAYER_NAMES.items():
        # the register's layers need a register, the community ones a survey, `uncertain` an
        # analysis, the flood's a flood closure, the reliability's a reliability run
        assert (f'"{name}"' in control) is (key not in elsewhere), key
    assert '"OpenStreetMap (online)"' in control  # offered, off by default


def test_feature_counts_match_the_inputs(page, inputs):
    sc, risk, cov, stations, _ = inputs
    specs = read_map_layers(page)
    count = {k: len(v["data"]["features"]) for k, v in specs.items()}
    uncovered = int((~cov.communities["covered"]).sum()) + int((~cov.area_units["covered"]).any())
    assert count["units"] == len(risk.units)
    assert count["hazards"] == len(sc["hazards"])  # one symbol per source, areas included
    assert count["hazard_areas"] == AREA_HAZARDS
    assert count["communities"] == len(sc["communities"])
    assert count["stations"] == len(sc["fire_stations"])
    assert count["proposed"] == len(stations.proposed)
    assert count["depots"] == len(sc["depots"])
    assert count["depot_links"] == len(sc["communities"])
    assert count["uncovered"] == uncovered
    assert count["districts"] == len(cov.districts) + len(cov.enclaves)
    assert count["isochrones"] == cov.isochrones["break_min"].nunique()
    assert specs["hazards"]["cluster"] is True
    levels = {f["properties"]["lv"] for f in specs["units"]["data"]["features"]}
    assert levels <= {"red", "orange", "yellow", "blue"}
    first = specs["units"]["data"]["features"][0]["properties"]
    assert {"score", "hz", "ex", "vu", "rf", "top", "level"} <= set(first)


def test_legend_title_and_text_escaped(page):
    assert "rp-legend" in page and "Legend" in page
    for label in ("Major risk (red)", "High risk (orange)", "Moderate risk (yellow)", "Low risk (blue)"):
        assert label in page
    assert "Demo City (synthetic)" in page
    assert "bank</script>" not in page  # data cannot close the script; tooltips escape it in the browser
    assert "New stations: coverage" in page


def test_hazard_areas_drawn_in_their_category_colour(page):
    from maps._style import load_style

    specs = read_map_layers(page)
    kinds = {f["geometry"]["type"] for f in specs["hazards"]["data"]["features"]}
    assert kinds == {"Point"}  # a site area gets one symbol, never the default blue polygon
    areas = specs["hazard_areas"]
    colour = load_style()["hazard_categories"]["hazardous_chemicals"]["colour"]
    assert areas["styleBy"]["values"]["hazardous_chemicals"]["fillColor"] == colour
    assert {f["properties"]["cat"] for f in areas["data"]["features"]} == {"hazardous_chemicals"}
    assert "Site area, in its category colour" in page  # the legend's swatch for them


def test_map_without_study_area_barriers_or_road_lines(inputs):
    sc, risk, cov, *_ = inputs
    layers = {k: v for k, v in sc.layers.items() if k not in ("study_area", "barriers", "roads")}
    bare = type(sc)(sc.name, layers, sc.crs, sc.roads, synthetic=True)
    specs = read_map_layers(risk_map(bare, risk=risk, coverage=cov, lang="en").get_root().render())
    assert specs["context"]["data"]["features"] == []
    assert len(specs["units"]["data"]["features"]) == len(risk.units)


def test_page_needs_no_network(page):
    assert not re.search(r"<script[^>]+src=\"https?://", page)
    assert not re.search(r"<link[^>]+href=\"https?://", page)
    assert "L.markerClusterGroup" in page and "leaflet.fullscreen" in page
    assert "url(images/" not in page


def test_coordinates_rounded_and_file_light(page):
    specs = read_map_layers(page)
    lon, lat = specs["stations"]["data"]["features"][0]["geometry"]["coordinates"]
    assert round(lon, 5) == lon and 110 < lon < 120 and 35 < lat < 42
    assert len(page) < 1_500_000


def test_gcj02_shifts_overlays(inputs):
    sc = inputs[0]
    plain = read_map_layers(risk_map(sc, lang="en").get_root().render())
    shifted_page = risk_map(sc, gcj02=True, lang="en").get_root().render()
    shifted = read_map_layers(shifted_page)
    a = plain["stations"]["data"]["features"][0]["geometry"]["coordinates"]
    b = shifted["stations"]["data"]["features"][0]["geometry"]["coordinates"]
    assert 0.001 < abs(b[0] - a[0]) < 0.02 and 0.0001 < abs(b[1] - a[1]) < 0.02
    assert "autonavi" in shifted_page and "GCJ-02" in shifted_page


def test_no_tiles_and_bad_tiles(inputs):
    sc = inputs[0]
    assert "tile.openstreetmap" not in risk_map(sc, tiles=None, lang="en").get_root().render()
    with pytest.raises(ValueError, match="tiles"):
        risk_map(sc, tiles="bing", lang="en")


def _png_shape(data: bytes) -> tuple[int, ...]:
    return imread(io.BytesIO(data), format="png").shape


def test_figures_render_png(inputs):
    sc, risk, cov, *_ = inputs
    figs = {
        "risk": risk_figure(risk, coverage=cov, lang="en"),
        "response": response_time_figure(cov, lang="en"),
        "tradeoff": tradeoff_figure(TRADEOFF, required_share=1.0, lang="en"),
        "districts": district_levels_figure(risk, communities=sc["communities"], lang="en"),
        "station_districts": district_levels_figure(risk, coverage=cov, lang="en"),
    }
    for name, fig in figs.items():
        data = figure_png(fig)
        h, w, _ = _png_shape(data)
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        assert w >= 600 and h >= 250, (name, w, h)
    labels = [t.get_text() for t in figs["districts"].axes[0].get_yticklabels()]
    assert "Old Town" in labels
    assert any("station" in t.get_text() for t in figs["station_districts"].axes[0].get_yticklabels())


def test_report_has_tables_figures_and_map(inputs):
    sc, risk, cov, stations, depots = inputs
    text = report_html(sc, risk=risk, coverage=cov, station_plan=stations, depot_plan=depots, lang="en")
    for table in ("top-risk", "uncovered", "violations", "proposed", "depots"):
        assert f'id="{table}"' in text
    assert text.count('<img alt="') == 4
    assert text.count('src="data:image/png;base64,') == 4
    assert "<iframe" in text and "srcdoc=" in text
    assert "covers the &lt;east&gt; bank" in text  # escaped in the table
    com = cov.communities
    worst = com.loc[~com["covered"].astype(bool), "population"].idxmax()
    assert f"<tr><td>{worst}</td>" in text  # the uncovered table names each community by its id
    assert "Synthetic data" in text
    assert not re.search(r"<script[^>]+src=\"https?://", text)
    embedded = read_map_layers(text)
    assert len(embedded["units"]["data"]["features"]) == len(risk.units)
    top = risk.top(1)
    assert str(top["name"].iloc[0]) in text


def test_a_big_map_is_linked_and_long_tables_are_cut(inputs, monkeypatch):
    import maps.report as report_module

    sc, risk, cov, _stations, depots = inputs
    small = report_html(sc, risk=risk, coverage=cov, lang="en", map_page="<p>map</p>", map_src="map.html")
    assert "srcdoc=" in small and 'src="map.html"' not in small  # a city's map stays inlined
    monkeypatch.setattr(report_module, "MAP_INLINE_MAX_BYTES", 5)
    monkeypatch.setattr(report_module, "TABLE_ROWS", 1)
    page = "<p>a province's map</p>"
    big = report_html(
        sc, risk=risk, coverage=cov, depot_plan=depots, lang="en", map_page=page, map_src="map.html"
    )
    assert 'id="rp-map"' in big and 'src="map.html"' in big and "srcdoc=" not in big
    assert "a province" not in big  # linked, not inlined a second time
    n_depots = len(sc["depots"])
    assert n_depots > 1
    depot_table = big.split('id="depots"')[1].split("</table>")[0]
    assert depot_table.count("<tr>") == 2  # the header and TABLE_ROWS rows
    assert f"... and {n_depots - 1} more." in big
    unlinked = report_html(sc, risk=risk, coverage=cov, lang="en", map_page=page)
    assert "srcdoc=" in unlinked  # no file to link: inlined whatever its size


def test_cli_map_and_report(tmp_path: Path):
    from service.cli import map as map_cmd
    from service.cli import report as report_cmd

    gpkg = write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=2000)
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    for command in (map_cmd, report_cmd):
        command.register(subparsers)
    for cmd in ("map", "report"):
        out = tmp_path / f"{cmd}.html"
        args = parser.parse_args([cmd, str(gpkg), "--out", str(out), "--no-learn", "--no-cache"])
        assert args.func(args) == 0
        assert out.stat().st_size > 100_000
    assert "rp-legend" in (tmp_path / "map.html").read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*.part*"))


def test_write_map_is_atomic(inputs, tmp_path: Path):
    sc = inputs[0]
    out = write_map(sc, tmp_path / "m.html", lang="en")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["m.html"]


def test_big_unit_layers_are_drawn_as_blocks_and_said_so(inputs):
    """A province's grid would make the page too heavy: over the budget, blocks at their worst level."""
    sc, risk, cov, _, _ = inputs
    budget = len(risk.units) // 3
    m = risk_map(sc, risk=risk, coverage=cov, map_style={"display": {"max_polygons": budget}}, lang="en")
    page = m.get_root().render()
    blocks = [f["properties"] for f in read_map_layers(page)["units"]["data"]["features"]]
    levels = risk.units["level"].astype(str)
    assert 0 < len(blocks) <= budget
    assert sum(b["units"] for b in blocks) == len(risk.units)
    assert sum(b.get("red", 0) for b in blocks) == int((levels == "red").sum())
    assert sum(b["pop"] for b in blocks) == pytest.approx(float(risk.units["population"].sum()), abs=1)
    assert all(b["lv"] == "red" for b in blocks if b.get("red", 0) > 0)  # a red unit is never hidden
    assert f"{len(risk.units):,} units drawn as {len(blocks):,} blocks of" in page
    unbounded = risk_map(sc, risk=risk, coverage=cov, map_style={"display": {"max_polygons": 0}}, lang="en")
    assert len(read_map_layers(unbounded.get_root().render())["units"]["data"]["features"]) == len(risk.units)


def test_many_communities_keep_every_unreached_one(inputs):
    sc, _, cov, _, _ = inputs
    com = cov.communities
    missed = set(com.index[~com["covered"].astype(bool)].astype(str))
    assert missed, "the fixture needs a community not reached in time"
    m = risk_map(sc, coverage=cov, map_style={"display": {"max_points": 3}}, lang="en")
    page = m.get_root().render()
    drawn = {f["properties"]["id"] for f in read_map_layers(page)["communities"]["data"]["features"]}
    assert missed <= drawn
    assert len(drawn) == max(3, len(missed)) < len(com)
    assert f"Communities: {len(drawn):,} of {len(com):,} drawn" in page


def test_bad_budget_is_refused(inputs):
    sc, risk, _, _, _ = inputs
    with pytest.raises(InputError, match=r"display.max_polygons.*whole number"):
        risk_map(sc, risk=risk, map_style={"display": {"max_polygons": -1}}, lang="en")
