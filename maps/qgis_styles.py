"""QGIS-ready GeoPackages: every riskplan output carries its QGIS styles in ``layer_styles``.

:func:`write_qgis_styles` adds to an existing GeoPackage the default QGIS style (QML) of each
layer it knows, so that the layer opens in QGIS drawn as on riskplan's maps: risk units in the
four colours, hazard sources by category (or by their four-colour risk grade from the
register), response times in the isochrone bands, isochrones, station districts and enclaves,
stations, proposed stations, depots, the register's major dangers by state, communities by
their safety grade, the road network. Colours, shapes and labels come from the map style
(``maps/data/map_style.toml``, :func:`maps._style.load_style`, overridable per call) and the
band colours from :func:`maps._style.band_colours`, the same the interactive map uses; class
names are bilingual like the map legends.

The table has the layout QGIS creates (``id``, ``f_table_catalog``, ``f_table_schema``,
``f_table_name``, ``f_geometry_column``, ``styleName``, ``styleQML``, ``styleSLD``,
``useAsDefault``, ``description``, ``owner``, ``ui``, ``update_time``; QGIS's
``QgsOgrProviderMetadata::saveStyle`` through GDAL) and is registered as GDAL registers a
table it creates: an ``attributes`` row in ``gpkg_contents`` (GDAL writes one in a file of any
GeoPackage version; an attributes table needs no ``gpkg_extensions`` row, GDAL's
``gdal_aspatial`` extension being legacy since GDAL 2.2) and its feature count in
``gpkg_ogr_contents`` with GDAL's count triggers.
As QGIS does when it saves a default style, a layer's earlier default is kept as a plain style
and riskplan's style (``styleName`` ``riskplan``) is replaced, not added: writing twice leaves
one default per layer. Everything is written in one SQLite transaction: the file gains every
style or none.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis.tables import TableOverrides

from . import _qml as q
from ._communities import grade_colours, grade_labels
from ._style import LEVELS_HIGH_FIRST, band_colours, load_style
from ._styles_table import connect, write_rows
from .words import speaking

__all__ = ["STYLE_NAME", "LayerInfo", "LayerStyle", "layer_style", "read_layers", "write_qgis_styles"]

log = logging.getLogger(__name__)

#: ``styleName`` of riskplan's default style of each layer.
STYLE_NAME = "riskplan"
_KINDS = {"POINT": "marker", "LINESTRING": "line", "POLYGON": "fill"}
#: Columns whose distinct values the styles read (isochrone bands, grades present, states).
_VALUE_COLUMNS = ("break_min", "break_s", "risk_grade")
_NOT_REACHED = 1e12  # response time given to NULL (not reached) by the band renderers' expression


@dataclass(frozen=True)
class LayerInfo:
    """A spatial layer of a GeoPackage: its name, geometry column and type, columns, a few values."""

    name: str
    geometry_column: str
    geometry_type: str
    columns: tuple[str, ...]
    values: Mapping[str, tuple[str, ...]]

    @property
    def kind(self) -> str | None:
        """The QGIS symbol kind (``marker``, ``line``, ``fill``); None for a mixed geometry type."""
        return _KINDS.get(self.geometry_type.upper().removeprefix("MULTI"))

    def label_field(self, *names: str) -> str | None:
        """The first of ``names`` the layer has."""
        return next((n for n in names if n in self.columns), None)


@dataclass(frozen=True)
class LayerStyle:
    """One row of ``layer_styles``: a layer's QML and its bilingual description."""

    layer: str
    geometry_column: str
    qml: str
    description: str


@dataclass(frozen=True)
class _Look:
    renderer: ET.Element
    description: str
    label: str | None = None
    min_scale: int = 0
    label_min_scale: int = 0


_Builder = Callable[[LayerInfo, Mapping[str, Any], Sequence[float]], _Look | None]


def _q(field: str) -> str:
    return '"' + field.replace('"', '""') + '"'


def _symbol(
    kind: str,
    colour: str | None,
    *,
    shape: str = "circle",
    outline: str = "#ffffff",
    opacity: float = 0.75,
    size_mm: float = 3.0,
) -> ET.Element:
    if kind == "marker":
        return q.marker_symbol(shape, colour, size_mm=size_mm, outline=outline)
    if kind == "line":
        return q.line_symbol(colour or outline, width_mm=0.6)
    return q.fill_symbol(colour, opacity=opacity, outline=outline, outline_width_mm=0.2)


def _band_ranges(style: Mapping[str, Any], breaks_s: Sequence[float], kind: str) -> list[q.Range]:
    """Response-time classes: within each isochrone break, then beyond the last or not reached."""
    breaks = sorted(float(b) for b in breaks_s)
    colours = [*band_colours(style, len(breaks)), style["uncovered"]["colour"]]
    edges = [0.0, *breaks, _NOT_REACHED]
    out = []
    for i, colour in enumerate(colours):
        lo, hi = edges[i] / 60, edges[i + 1] / 60
        if i == 0:
            label = f"Within {hi:g} min {hi:g}分钟内"
        elif i == len(breaks):
            label = f"Over {lo:g} min or not reached 超过{lo:g}分钟或未到达"
        else:
            label = f"{lo:g}-{hi:g} min {lo:g}-{hi:g}分钟"
        out.append(q.Range(edges[i], edges[i + 1], label, _symbol(kind, colour, outline="#ffffff")))
    return out


def _bands(column: str, what: str) -> _Builder:
    def build(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
        if column not in info.columns or info.kind is None:
            return None
        renderer = q.graduated(
            f"coalesce({_q(column)}, {int(_NOT_REACHED)})", _band_ranges(style, breaks_s, info.kind)
        )
        return _Look(renderer, what, info.label_field("name"), label_min_scale=25000)

    return build


def _risk_levels(column: str) -> _Builder:
    def build(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
        if column not in info.columns or info.kind is None:
            return None
        levels = style["risk_levels"]
        cats = [
            q.Category(lv, levels[lv]["label"], _symbol(info.kind, levels[lv]["colour"], opacity=0.62))
            for lv in LEVELS_HIGH_FIRST
        ]
        what = "Risk by level (red / orange / yellow / blue) 风险四色等级"
        return _Look(q.categorized(_q(column), cats), what, info.label_field("name"), label_min_scale=25000)

    return build


def _hazard_categories(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if "category" not in info.columns or info.kind is None:
        return None
    cats = []
    for key, spec in style["hazard_categories"].items():
        value = "" if key == "other" else key  # '' is QGIS's "all other values"
        symbol = _symbol(info.kind, spec["colour"], shape=spec["shape"], outline="#ffffff", opacity=0.3)
        cats.append(q.Category(value, spec["label"], symbol))
    cats.sort(key=lambda c: c.value == "")
    return _Look(
        q.categorized(_q("category"), cats),
        "Hazard sources by category 危险源 按类别",
        info.label_field("name"),
        label_min_scale=10000,
    )


def _risk_grades(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if not info.values.get("risk_grade") or info.kind is None:
        return None  # no register grades in this run: by category instead
    from risk_models.register.vocab import COLOURS, RISK_GRADES

    labels = style["risk_grades"]["labels"]
    cats = [
        q.Category(
            grade,
            labels[grade],
            _symbol(info.kind, style["risk_levels"][colour]["colour"], outline="#333333"),
        )
        for grade, colour in zip(RISK_GRADES, COLOURS, strict=True)
    ]
    what = "Safety risk points, four colours 安全风险四色分布图"
    return _Look(q.categorized(_q("risk_grade"), cats), what, info.label_field("name"), label_min_scale=10000)


def _badge(
    key: str, what: str, *, shape: str = "square", letter: str | None = None, size_mm: float = 4.0
) -> _Builder:
    def build(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
        if info.kind != "marker":
            return None
        colour = style[key]["colour"]
        symbol = q.marker_symbol(shape, colour, size_mm=size_mm, letter=letter)
        return _Look(q.single(symbol), f"{what}", info.label_field("name", "id", "station"))

    return build


def _candidates(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if info.kind != "marker" or not {"eligible", "selected"} <= set(info.columns):
        return None
    proposed, line = style["proposed"]["colour"], style["context"]["line"]
    expr = "CASE WHEN \"selected\" THEN 'selected' WHEN \"eligible\" THEN 'eligible' ELSE 'excluded' END"
    cats = [
        q.Category("selected", "Chosen site 选定站址", q.marker_symbol("star", proposed, size_mm=5.0)),
        q.Category(
            "eligible",
            "Eligible site 可选站址",
            q.marker_symbol("circle", None, size_mm=3.0, outline=proposed, outline_width_mm=0.5),
        ),
        q.Category("excluded", "Excluded site 排除站址", q.marker_symbol("cross", line, size_mm=2.5)),
    ]
    return _Look(
        q.categorized(expr, cats),
        "Candidate station sites 候选站址",
        info.label_field("name"),
        label_min_scale=25000,
    )


def _isochrones(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    minutes = sorted({float(v) for v in info.values.get("break_min", ())})
    if info.kind != "fill" or not minutes:
        return None
    opacity = float(style["isochrones"]["fill_opacity"])
    cats = [
        q.Category(
            _qgis_number(m),
            f"Response within {m:g} min {m:g}分钟内到达",
            q.fill_symbol(colour, opacity=opacity, outline=colour, outline_width_mm=0.3),
        )
        for m, colour in zip(minutes, band_colours(style, len(minutes)), strict=True)
    ]
    renderer = q.categorized(_q("break_min"), cats, order_by=(_q("break_min"), False))  # widest underneath
    return _Look(renderer, "Response isochrones 响应等时圈")


def _districts(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if info.kind != "fill":
        return None
    colour = style["districts"]["colour"]
    symbol = q.fill_symbol(None, outline=colour, outline_width_mm=0.6, outline_style="dash")
    return _Look(q.single(symbol), style["districts"]["label"], info.label_field("station", "id"))


def _enclaves(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if info.kind != "fill":
        return None
    colour = style["districts"]["colour"]
    symbol = q.fill_symbol(colour, opacity=0.25, outline=colour, outline_width_mm=0.3)
    return _Look(q.single(symbol), "District enclaves 辖区飞地", info.label_field("station"))


def _register_states(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if "status" not in info.columns or info.kind != "marker":
        return None
    states = style["register"]["states"]
    cats = [
        q.Category(name, spec["label"], q.marker_symbol("square", spec["colour"], size_mm=3.5))
        for name, spec in states.items()
    ]
    what = "Major hidden dangers by state 重大隐患 按状态"
    return _Look(q.categorized(_q("status"), cats), what, info.label_field("number"), label_min_scale=25000)


def _closed(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if info.kind != "marker":
        return None
    closed = style["register"]["states"]["closed"]
    symbol = q.marker_symbol("square", closed["colour"], size_mm=3.5)
    return _Look(
        q.single(symbol), f"Major dangers closed this month: {closed['label']}", info.label_field("number")
    )


def _community_grades(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if "grade" not in info.columns or info.kind is None:
        return None
    from risk_models.community_safety import load_safety_standard

    standard = load_safety_standard()
    colours = grade_colours(standard, style)  # the map's own
    with speaking("en"):
        english = grade_labels(standard)
    with speaking("zh"):
        chinese = grade_labels(standard)
    labels = {g: f"{english[g]} {chinese[g]}" for g in english}  # QGIS styles stay bilingual
    cats = [
        q.Category(name, labels[name], _symbol(info.kind, colours[name], opacity=0.75))
        for name, _, _ in standard.grades
    ]
    other = _symbol(info.kind, style["context"]["line"], opacity=0.5)
    cats.append(q.Category("", "Other grade 其他等级", other))
    what = "Community safety grade 社区安全评分等级"
    return _Look(
        q.categorized(_q("grade"), cats),
        what,
        info.label_field("community_name", "name"),
        label_min_scale=25000,
    )


def _outline(key: str, what: str, *, dashed: bool = False) -> _Builder:
    def build(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
        if info.kind != "fill":
            return None
        colour = style["context"][key] if key in style["context"] else style[key]["stroke"]
        symbol = q.fill_symbol(
            None, outline=colour, outline_width_mm=0.4, outline_style="dash" if dashed else "solid"
        )
        return _Look(q.single(symbol), what, info.label_field("name"), label_min_scale=25000)

    return build


def _roads(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if info.kind != "line":
        return None
    return _Look(q.single(q.line_symbol(style["context"]["line"], width_mm=0.3)), "Road network 道路网络")


def _nodes(info: LayerInfo, style: Mapping[str, Any], breaks_s: Sequence[float]) -> _Look | None:
    if info.kind != "marker":
        return None
    symbol = q.marker_symbol("circle", style["context"]["line"], size_mm=0.8, outline_width_mm=0.0)
    return _Look(q.single(symbol), "Road network nodes 道路节点", min_scale=25000)


_RESPONSE = "First engine's response time in the isochrone bands 首车到达时间 等时带"
#: Layer name -> builders tried in turn (the first that fits the layer's columns wins).
BUILDERS: dict[str, tuple[_Builder, ...]] = {
    "risk_units": (_risk_levels("level"),),
    "risk_uncertainty": (_risk_levels("level_likely"),),  # risk_models.sensitivity: the likeliest level
    "risk_hazards": (_risk_grades, _hazard_categories),
    "hazards": (_hazard_categories,),
    "stations": (_badge("stations", "Fire stations 消防站", letter="F"),),
    "fire_stations": (_badge("stations", "Fire stations 消防站", letter="F"),),
    "proposed": (_badge("proposed", "Proposed fire stations 拟建消防站", shape="star", size_mm=6.0),),
    "candidates": (_candidates,),
    "depots": (_badge("depots", "Relief-material depots 应急物资储备库", letter="D"),),
    "new_depots": (_badge("depots", "Proposed depots 拟建储备库", shape="star", size_mm=6.0),),
    "communities": (
        _risk_levels("risk_level"),
        _bands("response_after_s", "Response time after the proposed stations 新增消防站后首车到达时间"),
        _bands("response_time_s", _RESPONSE),
        _outline("communities", "Communities 社区"),
    ),
    "area_units": (_bands("response_time_s", _RESPONSE),),
    "isochrones": (_isochrones,),
    "districts": (_districts,),
    "isochrones_worst_hour": (_isochrones,),  # the worst hour's and the what-if's (service.hours_run,
    "districts_worst_hour": (_districts,),  # service.what_if_run): drawn as the free-flow ones
    "isochrones_after_change": (_isochrones,),
    "districts_after_change": (_districts,),
    "enclaves": (_enclaves,),
    "majors": (_register_states,),
    "results": (_closed,),
    "community_safety": (_community_grades,),
    "study_area": (_outline("study_area", "Study area 研究区域", dashed=True),),
    "edges": (_roads,),
    "roads": (_roads,),
    "nodes": (_nodes,),
}


def _qgis_number(value: float) -> str:
    """``value`` as QGIS writes a double as text (categories match on it): 3 -> '3', 2.5 -> '2.5'."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def layer_style(
    info: LayerInfo, *, map_style: TableOverrides = None, breaks_s: Sequence[float] | None = None
) -> LayerStyle | None:
    """The QGIS style of one layer, or None when riskplan has none for it.

    ``breaks_s``: the response-time bands in seconds (default: those of
    :func:`planning.analyse_coverage`).

    Examples
    --------
    >>> info = LayerInfo("risk_units", "geom", "POLYGON", ("level", "name"), {})
    >>> qml = layer_style(info).qml
    >>> root = ET.fromstring(qml[qml.index("<qgis"):])
    >>> [c.get("value") for c in root.iter("category")]
    ['red', 'orange', 'yellow', 'blue']
    """
    return _layer_style(info, load_style(map_style), list(breaks_s) if breaks_s else default_breaks_s())


def _layer_style(info: LayerInfo, style: Mapping[str, Any], breaks: Sequence[float]) -> LayerStyle | None:
    for build in BUILDERS.get(info.name, ()):
        look = build(info, style, breaks)
        if look is None or info.kind is None:
            continue
        labels = (
            q.simple_labels(look.label, kind=info.kind, min_scale=look.label_min_scale)
            if look.label
            else None
        )
        qml = q.qml_document(look.renderer, kind=info.kind, labeling=labels, min_scale=look.min_scale)
        return LayerStyle(info.name, info.geometry_column, qml, look.description)
    return None


def default_breaks_s() -> list[float]:
    """The isochrone breaks a run draws unless told otherwise (:func:`planning.analyse_coverage`'s).

    Examples
    --------
    >>> default_breaks_s()
    [180.0, 300.0, 480.0]
    """
    from planning import analyse_coverage

    return [float(b) for b in inspect.signature(analyse_coverage).parameters["breaks_s"].default]


def read_layers(path: str | Path) -> list[LayerInfo]:
    """The spatial layers of the GeoPackage ``path`` (from ``gpkg_geometry_columns``).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import geopandas as gpd, shapely
    >>> from gis.atomic import write_gpkg
    >>> pts = gpd.GeoDataFrame({"name": ["A"]}, geometry=[shapely.Point(0, 0)], crs=32649)
    >>> out = write_gpkg(pathlib.Path(tempfile.mkdtemp()) / "s.gpkg", {"stations": pts})
    >>> [(i.name, i.geometry_type, i.kind) for i in read_layers(out)]
    [('stations', 'POINT', 'marker')]
    """
    con = connect(Path(path))
    try:
        return _layers(con)
    finally:
        con.close()


def _layers(con: sqlite3.Connection) -> list[LayerInfo]:
    rows = con.execute(
        "SELECT table_name, column_name, geometry_type_name FROM gpkg_geometry_columns ORDER BY table_name"
    ).fetchall()
    out = []
    for table, column, geometry_type in rows:
        columns = tuple(r[1] for r in con.execute(f"PRAGMA table_info({_q(table)})"))
        values = {
            c: tuple(
                str(r[0])
                for r in con.execute(
                    f"SELECT DISTINCT {_q(c)} FROM {_q(table)} WHERE {_q(c)} IS NOT NULL LIMIT 100"
                )
            )
            for c in _VALUE_COLUMNS
            if c in columns
        }
        out.append(LayerInfo(str(table), str(column), str(geometry_type), columns, values))
    return out


def write_qgis_styles(
    *paths: str | Path, map_style: TableOverrides = None, breaks_s: Sequence[float] | None = None
) -> dict[Path, list[str]]:
    """Embed riskplan's QGIS styles in each GeoPackage of ``paths`` (``layer_styles``, one transaction each).

    Every layer riskplan has a style for gets it as its default style (``useAsDefault`` = 1,
    ``styleName`` :data:`STYLE_NAME`); other layers and tables are left alone. Response-time
    bands follow ``breaks_s`` (seconds), else the isochrones of the given files (a run's
    ``coverage.gpkg``: the same bands for every output of the run), else
    :func:`default_breaks_s`.

    Returns
    -------
    dict
        ``{path: [layers styled]}``.

    Raises
    ------
    gis.InputError
        A path that is not a GeoPackage (the file is named).

    Examples
    --------
    >>> import pathlib, sqlite3, tempfile
    >>> import geopandas as gpd, shapely
    >>> from gis.atomic import write_gpkg
    >>> units = gpd.GeoDataFrame({"level": ["red", "blue"]}, crs=32649,
    ...                          geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> out = write_gpkg(pathlib.Path(tempfile.mkdtemp()) / "risk.gpkg", {"risk_units": units})
    >>> write_qgis_styles(out)[out]
    ['risk_units']
    >>> with sqlite3.connect(out) as con:
    ...     con.execute("SELECT f_table_name, styleName, useAsDefault FROM layer_styles").fetchall()
    [('risk_units', 'riskplan', 1)]
    """
    files = [Path(p) for p in paths]
    layers: dict[Path, list[LayerInfo]] = {}
    for path in files:
        con = connect(path)
        try:
            layers[path] = _layers(con)
        finally:
            con.close()
    if not breaks_s:
        found = {
            float(v)
            for infos in layers.values()
            for i in infos
            if i.name == "isochrones"
            for v in i.values.get("break_s", ())
        }
        breaks_s = sorted(found) or default_breaks_s()
    style = load_style(map_style)
    out: dict[Path, list[str]] = {}
    for path in files:
        styles = [s for i in layers[path] if (s := _layer_style(i, style, breaks_s))]
        rows = [(s.layer, s.geometry_column, s.qml, s.description) for s in styles]
        write_rows(path, rows, style_name=STYLE_NAME)
        out[path] = [s.layer for s in styles]
        log.info("%s: QGIS styles of %s", path, out[path])
    return out
