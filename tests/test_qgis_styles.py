"""QGIS styles embedded in riskplan's GeoPackages (``layer_styles``): QML, table, registration, runs."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gis import InputError
from gis.atomic import write_gpkg
from maps._style import LEVELS_HIGH_FIRST, band_colours, load_style
from maps.qgis_styles import BUILDERS, STYLE_NAME, LayerInfo, layer_style, read_layers, write_qgis_styles

QGIS_COLUMNS = [
    "id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
    "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time",
]  # fmt: skip


def _root(qml: str) -> ET.Element:
    doctype, body = qml.split("\n", 1)
    assert doctype.startswith("<!DOCTYPE qgis")
    return ET.fromstring(body)


def _colours(root: ET.Element) -> list[str]:
    """The first symbol layer's fill (or line) colour of each class, as ``#rrggbb``."""
    out = []
    for symbol in root.find("renderer-v2/symbols"):
        layer = symbol.find("layer")
        props = {o.get("name"): o.get("value") for o in layer.find("Option")}
        r, g, b, _ = (int(v) for v in (props.get("color") or props["line_color"]).split(","))
        out.append(f"#{r:02x}{g:02x}{b:02x}")
    return out


def _distance(hex_colour: str, rgb: list[int]) -> int:
    return max(abs(int(hex_colour[1 + 2 * i : 3 + 2 * i], 16) - rgb[i]) for i in range(3))


def _styles(path: Path) -> list[tuple[str, str, str, int, str]]:
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT f_table_name, f_geometry_column, styleName, useAsDefault, styleQML FROM layer_styles "
            "ORDER BY f_table_name, id"
        ).fetchall()


def _units(tmp_path: Path, name: str = "risk.gpkg", **kwargs) -> Path:
    units = gpd.GeoDataFrame(
        {"level": ["red", "blue"], "name": ["A", "B"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
        crs=32649,
        index=["U1", "U2"],
    )
    hazards = gpd.GeoDataFrame(
        {"category": ["mining", "nonsense"]}, geometry=[shapely.Point(5, 5), shapely.Point(50, 50)], crs=32649
    )
    if kwargs:
        path = tmp_path / name
        pyogrio.write_dataframe(units.reset_index(), path, layer="risk_units", driver="GPKG", **kwargs)
        pyogrio.write_dataframe(hazards, path, layer="risk_hazards", driver="GPKG", **kwargs)
        return path
    return write_gpkg(tmp_path / name, {"risk_units": units, "risk_hazards": hazards})


def _info(name: str, kind: str) -> LayerInfo:
    geometry = {"marker": "POINT", "line": "MULTILINESTRING", "fill": "MULTIPOLYGON"}[kind]
    columns = (
        "level",
        "risk_level",
        "category",
        "name",
        "station",
        "status",
        "number",
        "grade",
        "eligible",
        "selected",
        "response_time_s",
        "response_after_s",
        "break_min",
        "break_s",
        "risk_grade",
    )
    values = {"break_min": ("3", "5", "8"), "break_s": ("180", "300", "480"), "risk_grade": ("major",)}
    return LayerInfo(name, "geom", geometry, columns, values)


@pytest.mark.parametrize("kind", ["marker", "line", "fill"])
def test_every_builder_writes_qml_that_parses(kind: str) -> None:
    styled = 0
    for name in BUILDERS:
        s = layer_style(_info(name, kind))
        if s is None:
            continue
        styled += 1
        root = _root(s.qml)
        assert root.tag == "qgis"
        assert root.findtext("layerGeometryType") == {"marker": "0", "line": "1", "fill": "2"}[kind]
        renderer = root.find("renderer-v2")
        assert renderer.get("type") in {"singleSymbol", "categorizedSymbol", "graduatedSymbol"}
        symbols = renderer.find("symbols")
        assert len(symbols) >= 1
        assert {sym.get("type") for sym in symbols} == {kind}
        classes = renderer.find("categories")
        classes = renderer.find("ranges") if classes is None else classes
        if classes is not None:
            assert [c.get("symbol") for c in classes] == [sym.get("name") for sym in symbols]
            assert all(c.get("label") for c in classes)
        if root.get("labelsEnabled") == "1":
            assert root.find("labeling/settings/text-style").get("fieldName")
    assert styled >= 8


def test_risk_levels_are_the_maps_four_colours() -> None:
    style = load_style()
    root = _root(layer_style(_info("risk_units", "fill")).qml)
    cats = root.findall("renderer-v2/categories/category")
    assert [c.get("value") for c in cats] == list(LEVELS_HIGH_FIRST)
    assert [c.get("label") for c in cats] == [style["risk_levels"][lv]["label"] for lv in LEVELS_HIGH_FIRST]
    assert _colours(root) == [style["risk_levels"][lv]["colour"] for lv in LEVELS_HIGH_FIRST]
    assert all("风险" in c.get("label") for c in cats)  # bilingual, as the legend
    # the colours are read from the map style, not copied: an override changes them
    over = _root(
        layer_style(
            _info("risk_units", "fill"), map_style={"risk_levels": {"red": {"colour": "#123456"}}}
        ).qml
    )
    assert _colours(over)[0] == "#123456"


def test_response_bands_and_isochrones_follow_the_maps_band_colours() -> None:
    style = load_style()
    bands = _root(layer_style(_info("area_units", "fill"), breaks_s=[120, 240, 360, 600, 900]).qml)
    ranges = bands.findall("renderer-v2/ranges/range")
    assert [float(r.get("upper")) for r in ranges][:-1] == [120, 240, 360, 600, 900]
    assert _colours(bands) == [*band_colours(style, 5), style["uncovered"]["colour"]]
    assert "coalesce" in bands.find("renderer-v2").get("attr")  # not reached (NULL) falls in the last band
    iso = _root(layer_style(_info("isochrones", "fill")).qml)
    assert [c.get("value") for c in iso.findall("renderer-v2/categories/category")] == ["3", "5", "8"]
    assert _colours(iso) == band_colours(style, 3)
    assert iso.find("renderer-v2").get("enableorderby") == "1"


def test_hazards_by_category_with_the_maps_shapes_and_a_catch_all() -> None:
    style = load_style()
    root = _root(layer_style(_info("hazards", "marker")).qml)
    cats = root.findall("renderer-v2/categories/category")
    assert (
        cats[-1].get("value") == "" and cats[-1].get("label") == style["hazard_categories"]["other"]["label"]
    )
    by_value = {c.get("value") or "other": i for i, c in enumerate(cats)}
    colours = _colours(root)
    for key, spec in style["hazard_categories"].items():
        assert colours[by_value[key]] == spec["colour"]
    names = [
        {o.get("name"): o.get("value") for o in s.find("layer/Option")}["name"]
        for s in root.find("renderer-v2/symbols")
    ]
    assert names[by_value["mining"]] == "triangle" and names[by_value["other"]] == "cross_fill"


def test_communities_gpkg_of_the_seam_carries_the_grades_of_the_standard(tmp_path: Path) -> None:
    from gis.demo import demo_city, synthetic_survey
    from risk_models.community_safety import load_safety_standard
    from service.communities import assess_communities

    communities = demo_city(seed=2, n_road_nodes=2000)["communities"]
    run = assess_communities(communities, synthetic_survey(communities, seed=2))
    out = run.write(tmp_path / "communities.gpkg", communities)
    rows = _styles(out)
    assert [(t, n, d) for t, _, n, d, _ in rows] == [("community_safety", STYLE_NAME, 1)]
    root = _root(rows[0][4])
    cats = root.findall("renderer-v2/categories/category")
    grades = [g for g, _, _ in load_safety_standard().grades]
    assert [c.get("value") for c in cats] == [*grades, ""]
    ramp = load_style()["community_safety"]["grade_colours"]
    assert _colours(root)[: len(grades)] == ramp[: len(grades)]
    zh = [z for _, _, z in load_safety_standard().grades]
    assert all(z in c.get("label") for c, z in zip(cats, zh, strict=False))  # bilingual
    assert not (tmp_path / "c.xlsx").exists()
    run.write(tmp_path / "c.xlsx", communities)  # a workbook has no styles: written as before
    assert (tmp_path / "c.xlsx").stat().st_size > 0


def test_riskplan_init_writes_a_styled_scenario(tmp_path: Path) -> None:
    from osm_xml import little_city

    from service.cli import main

    osm = little_city().write(tmp_path / "little.osm")
    assert main(["-q", "init", str(osm), "--out", str(tmp_path / "city"), "--population-total", "5000"]) == 0
    styled = {t for t, *_ in _styles(tmp_path / "city" / "layers.gpkg")}
    assert {"fire_stations", "communities"} <= styled
    assert main(["-q", "validate", str(tmp_path / "city" / "scenario.toml")]) == 0


def test_write_creates_the_table_as_qgis_and_gdal_do(tmp_path: Path) -> None:
    path = _units(tmp_path)
    assert write_qgis_styles(path) == {path: ["risk_hazards", "risk_units"]}
    with sqlite3.connect(path) as con:
        assert [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")] == QGIS_COLUMNS
        assert con.execute(
            "SELECT data_type, identifier FROM gpkg_contents WHERE table_name = 'layer_styles'"
        ).fetchone() == ("attributes", "layer_styles")
        assert con.execute(
            "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'layer_styles'"
        ).fetchone() == (2,)
        assert not con.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = 'layer_styles'").fetchone()
    # GDAL (through pyogrio) reads the table back: a table, its count, the boolean default flag
    assert "layer_styles" in pyogrio.list_layers(path)[:, 0]
    info = pyogrio.read_info(path, layer="layer_styles")
    assert info["features"] == 2 and info["geometry_type"] is None
    table = pyogrio.read_dataframe(path, layer="layer_styles")
    assert table["useAsDefault"].dtype == bool and table["useAsDefault"].all()
    assert set(table["f_table_name"]) == {"risk_units", "risk_hazards"}
    assert set(table["f_geometry_column"]) == {"geom"} and set(table["f_table_schema"]) == {""}
    assert all(_root(q).tag == "qgis" for q in table["styleQML"])


def test_writing_twice_leaves_one_default_per_layer(tmp_path: Path) -> None:
    path = _units(tmp_path)
    write_qgis_styles(path)
    with sqlite3.connect(path) as con:  # an analyst's own default style, saved from QGIS
        con.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
            "styleName, styleQML, useAsDefault) VALUES ('', '', 'risk_units', 'geom', 'mine', '<qgis/>', 1)"
        )
    write_qgis_styles(path)
    write_qgis_styles(path)
    rows = _styles(path)
    defaults = [(t, n) for t, _, n, d, _ in rows if d]
    assert sorted(defaults) == [("risk_hazards", STYLE_NAME), ("risk_units", STYLE_NAME)]
    assert sorted((t, n) for t, _, n, _, _ in rows) == [
        ("risk_hazards", STYLE_NAME), ("risk_units", "mine"), ("risk_units", STYLE_NAME),
    ]  # fmt: skip
    assert pyogrio.read_info(path, layer="layer_styles")["features"] == 3


def test_in_a_geopackage_1_0_the_table_is_registered_as_gdal_registers_its_own(tmp_path: Path) -> None:
    import pandas as pd

    path = _units(tmp_path, "old.gpkg", dataset_options={"VERSION": "1.0"})
    pyogrio.write_dataframe(pd.DataFrame({"note": ["a"]}), path, layer="notes", driver="GPKG")
    write_qgis_styles(path)
    with sqlite3.connect(path) as con:
        kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        extensions = []
        if "gpkg_extensions" in tables:
            extensions = con.execute(
                "SELECT * FROM gpkg_extensions "
                "WHERE table_name = 'layer_styles' OR extension_name = 'gdal_aspatial'"
            ).fetchall()
    assert kinds["layer_styles"] == kinds["notes"] == "attributes"
    assert not extensions
    assert pyogrio.read_info(path, layer="layer_styles")["features"] == 2


def test_a_failure_leaves_the_previous_styles(tmp_path: Path) -> None:
    path = _units(tmp_path)
    write_qgis_styles(path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE layer_styles SET styleQML = 'old' WHERE f_table_name = 'risk_units'")
        con.execute("DELETE FROM layer_styles WHERE f_table_name = 'risk_hazards'")
        con.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON layer_styles WHEN NEW.f_table_name = 'risk_hazards' "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        write_qgis_styles(path)
    assert [(t, q) for t, _, _, _, q in _styles(path)] == [("risk_units", "old")]


def test_not_a_geopackage_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.gpkg"
    bad.write_text("not a database", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes\.gpkg.*not a GeoPackage"):
        write_qgis_styles(bad)
    with pytest.raises(InputError, match="no such GeoPackage"):
        write_qgis_styles(tmp_path / "missing.gpkg")
    plain = tmp_path / "plain.sqlite"
    sqlite3.connect(plain).close()
    with pytest.raises(InputError, match="not a GeoPackage"):
        read_layers(plain)


def test_ogrinfo_reads_the_styles_back(tmp_path: Path) -> None:
    if shutil.which("ogrinfo") is None:
        pytest.skip(
            "GDAL's command-line tools are not installed (Debian gdal-bin); pyogrio read the table above"
        )
    path = _units(tmp_path)
    write_qgis_styles(path)
    out = subprocess.run(
        [
            "ogrinfo",
            "-ro",
            "-q",
            str(path),
            "-sql",
            "SELECT f_table_name, styleName, useAsDefault FROM layer_styles ORDER BY f_table_name",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "f_table_name (String) = risk_hazards" in out and "f_table_name (String) = risk_units" in out
    assert out.count("useAsDefault (Integer(Boolean)) = 1") == 2


# the demo city through `riskplan demo` (the scenario, its register, then every stage of
# `riskplan run`): every GeoPackage it writes carries its styles
_QGIS_PYTHON = shutil.which("python3", path="/usr/bin")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from service.cli import main

    out = tmp_path_factory.mktemp("qgis_run") / "demo"
    assert main(["-q", "demo", "--out", str(out), "--nodes", "2000", "--seed", "3"]) == 0
    return out


@pytest.mark.slow
def test_every_geopackage_of_a_run_embeds_its_styles(demo_run: Path) -> None:
    from maps import read_map_layers

    outputs = json.loads((demo_run / "summary.json").read_text(encoding="utf-8"))["outputs"]
    files = sorted(p for p in demo_run.rglob("*.gpkg"))
    assert {
        "network.gpkg",
        "coverage.gpkg",
        "risk.gpkg",
        "stations.gpkg",
        "depots.gpkg",
        "disclosure-2024-12.gpkg",
    } <= {p.name for p in files} and {p.name for p in files} >= {
        Path(v).name for v in outputs.values() if v.endswith(".gpkg")
    }
    for path in files:
        rows = _styles(path)
        assert rows, path.name
        spatial = {i.name: i for i in read_layers(path)}
        defaults = [(t, g) for t, g, _, d, _ in rows if d]
        assert len(defaults) == len(set(defaults)) == len(rows)  # one default style per layer
        for table, geom, _, _, qml in rows:
            assert spatial[table].geometry_column == geom
            assert (
                _root(qml).findtext("layerGeometryType")
                == {"marker": "0", "line": "1", "fill": "2"}[spatial[table].kind]
            )
    styled = {p.name: {r[0] for r in _styles(p)} for p in files}
    assert {"isochrones", "districts", "communities", "stations"} <= styled["coverage.gpkg"]
    assert {"risk_units"} <= styled["risk.gpkg"] and "proposed" in styled["stations.gpkg"]
    assert {"edges", "nodes"} <= styled["network.gpkg"] and "depots" in styled["depots.gpkg"]
    # the same colours as the run's own map: risk levels and isochrone bands
    specs = read_map_layers((demo_run / "map.html").read_text(encoding="utf-8"))
    qml = {t: q for t, _, _, _, q in _styles(demo_run / "risk.gpkg")}
    units = _root(qml["risk_units"])
    values = [c.get("value") for c in units.iter("category")]
    assert dict(zip(values, _colours(units), strict=True)) == {
        k: v["fillColor"] for k, v in specs["units"]["styleBy"]["values"].items()
    }
    qml = {t: q for t, _, _, _, q in _styles(demo_run / "coverage.gpkg")}
    iso = _root(qml["isochrones"])
    values = [c.get("value") for c in iso.iter("category")]
    assert dict(zip(values, _colours(iso), strict=True)) == {
        k: v["fillColor"] for k, v in specs["isochrones"]["styleBy"]["values"].items()
    }
    bands = _root(qml["communities"])
    assert [float(r.get("upper")) / 60 for r in bands.iter("range")][:-1] == sorted(
        float(k) for k in specs["isochrones"]["styleBy"]["values"]
    )


_QGIS_CHECK = r"""
import collections, json, os, sys
from qgis.core import QgsApplication, QgsMapRendererSequentialJob, QgsMapSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
out = {}
for path, layer in json.loads(sys.argv[1]):
    vl = QgsVectorLayer(f"{path}|layername={layer}", layer, "ogr")
    r = vl.renderer()
    entry = {"valid": vl.isValid(), "type": r.type(), "labels": vl.labelsEnabled()}
    if vl.labelsEnabled():
        ls = vl.labeling().settings()
        entry["label_field"] = ls.fieldName
        entry["label_min_scale"] = ls.minimumScale if ls.scaleVisibility else 0
    if r.type() == "categorizedSymbol":
        entry["classes"] = [[c.value(), c.symbol().color().name()] for c in r.categories()]
    elif r.type() == "graduatedSymbol":
        entry["classes"] = [[g.upperValue(), g.symbol().color().name()] for g in r.ranges()]
    if layer == "risk_units":  # draw it: the colours on the image
        ms = QgsMapSettings()
        ms.setLayers([vl])
        ms.setDestinationCrs(vl.crs())
        ms.setExtent(vl.extent())
        ms.setOutputSize(QSize(240, 240))
        ms.setBackgroundColor(QColor(255, 255, 255))
        job = QgsMapRendererSequentialJob(ms)
        job.start()
        job.waitForFinished()
        img = job.renderedImage()
        counts = collections.Counter(
            img.pixelColor(x, y).name() for x in range(img.width()) for y in range(img.height())
        )
        entry["pixels"] = dict(counts.most_common(12))
    out[f"{path}|{layer}"] = entry
print(json.dumps(out), flush=True)
os._exit(0)  # QGIS 3.22 may crash in its exit handlers, after the work is done
"""


@pytest.mark.slow
def test_qgis_opens_the_layers_with_their_styles(demo_run: Path) -> None:
    """The reference: QGIS itself (PyQGIS, Debian python3-qgis) loads each layer's default style."""
    probe = subprocess.run(
        [_QGIS_PYTHON or "python3", "-c", "import qgis.core"], capture_output=True, check=False
    )
    if _QGIS_PYTHON is None or probe.returncode != 0:
        pytest.skip("PyQGIS is not installed (Debian python3-qgis): the QML was checked by parsing it")
    pairs = [(str(p), t) for p in sorted(demo_run.rglob("*.gpkg")) for t, *_ in _styles(p)]
    proc = subprocess.run(
        [_QGIS_PYTHON, "-c", _QGIS_CHECK, json.dumps(pairs)],
        capture_output=True,
        text=True,
        check=True,
        env={
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(demo_run),
            "XDG_RUNTIME_DIR": str(demo_run),
            "PATH": "/usr/bin:/bin",
        },
    )
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    style = load_style()
    for (path, layer), entry in zip(pairs, seen.values(), strict=True):
        assert entry["valid"], (path, layer)
        root = _root(next(q for t, _, _, _, q in _styles(Path(path)) if t == layer))
        assert entry["type"] == root.find("renderer-v2").get("type"), (path, layer)
        assert entry["labels"] == (root.get("labelsEnabled") == "1"), (path, layer)
        if entry["labels"]:  # the field, and from which scale on (1:N or nearer) labels show
            text = root.find("labeling/settings/text-style")
            assert entry["label_field"] == text.get("fieldName"), (path, layer)
            shown_from = root.find("labeling/settings/rendering").get("scaleMax")
            assert entry["label_min_scale"] == float(shown_from), (path, layer)
    assert seen[f"{demo_run / 'coverage.gpkg'}|hazards"]["label_min_scale"] == 10000
    units = seen[f"{demo_run / 'risk.gpkg'}|risk_units"]
    assert units["classes"] == [[lv, style["risk_levels"][lv]["colour"]] for lv in LEVELS_HIGH_FIRST]
    # drawn: each level's colour at the layer's opacity over white fills whole areas of the image
    symbol_alpha = 0.62
    drawn = units["pixels"]
    for lv in ("red", "blue"):
        rgb = [int(style["risk_levels"][lv]["colour"][i : i + 2], 16) for i in (1, 3, 5)]
        blended = [round(c * symbol_alpha + 255 * (1 - symbol_alpha)) for c in rgb]
        near = [n for name, n in drawn.items() if _distance(name, blended) <= 3]
        assert sum(near) > 100, (lv, drawn)
    iso = seen[f"{demo_run / 'coverage.gpkg'}|isochrones"]
    assert [c[1] for c in iso["classes"]] == band_colours(style, len(iso["classes"]))
