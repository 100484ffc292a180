"""QGIS layer style documents (QML): symbols, renderers and labels as ``xml.etree`` elements.

The documents follow what QGIS 3 writes when it saves a style: a ``<qgis>`` root with a
``renderer-v2`` (``singleSymbol``, ``categorizedSymbol`` or ``graduatedSymbol``), optional
``labeling type="simple"`` and the ``layerGeometryType`` QGIS checks before it applies a style.
Symbol-layer properties are written both as an ``<Option type="Map">`` (what recent QGIS reads)
and as ``<prop k v>`` (what older QGIS 3 releases read), as QGIS 3.22 itself wrote them; QGIS
3.22 (Debian's python3-qgis) opens every style (tests/test_qgis_styles.py). Colours are
``#rrggbb`` from the map style; QML writes them as ``r,g,b,a``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "GEOMETRY_KINDS",
    "Category",
    "Range",
    "categorized",
    "fill_symbol",
    "graduated",
    "line_symbol",
    "marker_symbol",
    "qml_document",
    "rgba",
    "simple_labels",
    "single",
]

#: ``layerGeometryType`` of a QML by symbol kind (QGIS: 0 point, 1 line, 2 polygon).
GEOMETRY_KINDS: dict[str, int] = {"marker": 0, "line": 1, "fill": 2}
#: QGIS version the documents declare (their layout is read by every QGIS 3 release).
QGIS_VERSION = "3.28.0-Firenze"
#: riskplan's marker shapes (maps/_style.SHAPES) as QGIS simple-marker names and rotations.
MARKER_SHAPES: dict[str, tuple[str, float]] = {
    "circle": ("circle", 0.0),
    "square": ("square", 0.0),
    "triangle": ("triangle", 0.0),
    "down_triangle": ("triangle", 180.0),
    "diamond": ("diamond", 0.0),
    "pentagon": ("pentagon", 0.0),
    "hexagon": ("hexagon", 0.0),
    "star": ("star", 0.0),
    "cross": ("cross_fill", 0.0),
}


def rgba(colour: str, opacity: float = 1.0) -> str:
    """``#rrggbb`` (and an opacity 0..1) as QML's ``r,g,b,a``.

    Examples
    --------
    >>> rgba("#e31a1c"), rgba("#ffffff", 0.5)
    ('227,26,28,255', '255,255,255,128')
    """
    c = colour.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * max(0.0, min(1.0, opacity)))}"


def _props(parent: ET.Element, props: Mapping[str, str]) -> None:
    options = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(options, "Option", name=key, type="QString", value=value)
    for key, value in props.items():
        ET.SubElement(parent, "prop", k=key, v=value)


def _symbol(kind: str, layers: Sequence[tuple[str, Mapping[str, str]]], *, alpha: float) -> ET.Element:
    symbol = ET.Element("symbol", type=kind, name="", alpha=f"{alpha:g}", clip_to_extent="1", force_rhr="0")
    for cls, props in layers:
        layer = ET.SubElement(symbol, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
        _props(layer, props)
    return symbol


def fill_symbol(
    colour: str | None,
    *,
    opacity: float = 1.0,
    outline: str = "#333333",
    outline_width_mm: float = 0.26,
    outline_style: str = "solid",
) -> ET.Element:
    """A simple fill (``colour`` None: no fill, outline only) with a solid, dashed or no outline."""
    props = {
        "color": rgba(colour or "#000000", opacity if colour else 0.0),
        "style": "solid" if colour else "no",
        "outline_color": rgba(outline),
        "outline_style": outline_style,
        "outline_width": f"{outline_width_mm:g}",
        "outline_width_unit": "MM",
        "joinstyle": "bevel",
    }
    return _symbol("fill", [("SimpleFill", props)], alpha=1.0)


def marker_symbol(
    shape: str,
    colour: str | None,
    *,
    size_mm: float = 3.0,
    outline: str = "#ffffff",
    outline_width_mm: float = 0.3,
    letter: str | None = None,
    opacity: float = 1.0,
) -> ET.Element:
    """A simple marker of riskplan ``shape`` (:data:`MARKER_SHAPES`), with an optional white ``letter``."""
    name, angle = MARKER_SHAPES[shape]
    props = {
        "name": name,
        "angle": f"{angle:g}",
        "color": rgba(colour or "#000000", 1.0 if colour else 0.0),
        "outline_color": rgba(outline),
        "outline_style": "solid",
        "outline_width": f"{outline_width_mm:g}",
        "outline_width_unit": "MM",
        "size": f"{size_mm:g}",
        "size_unit": "MM",
        "scale_method": "diameter",
        "joinstyle": "bevel",
    }
    layers: list[tuple[str, Mapping[str, str]]] = [("SimpleMarker", props)]
    if letter:
        font = {
            "font": "Arial",
            "font_style": "Bold",
            "chr": letter,
            "color": rgba("#ffffff"),
            "outline_width": "0",
            "size": f"{size_mm * 0.6:g}",
            "size_unit": "MM",
            "angle": "0",
        }
        layers.append(("FontMarker", font))
    return _symbol("marker", layers, alpha=opacity)


def line_symbol(
    colour: str, *, width_mm: float = 0.4, style: str = "solid", opacity: float = 1.0
) -> ET.Element:
    """A simple line (``style``: solid, dash, dot)."""
    props = {
        "line_color": rgba(colour),
        "line_width": f"{width_mm:g}",
        "line_width_unit": "MM",
        "line_style": style,
        "capstyle": "round",
        "joinstyle": "round",
    }
    return _symbol("line", [("SimpleLine", props)], alpha=opacity)


@dataclass(frozen=True)
class Category:
    """One class of a categorized renderer: the attribute's ``value`` ('' = every other value)."""

    value: str
    label: str
    symbol: ET.Element


@dataclass(frozen=True)
class Range:
    """One class of a graduated renderer: ``lower`` <= value <= ``upper``."""

    lower: float
    upper: float
    label: str
    symbol: ET.Element


def _named(symbol: ET.Element, name: str) -> ET.Element:
    out = ET.fromstring(ET.tostring(symbol))
    out.set("name", name)
    return out


def _renderer(kind: str, **attrs: str) -> ET.Element:
    return ET.Element(
        "renderer-v2",
        {"type": kind, "symbollevels": "0", "enableorderby": "0", "forceraster": "0", **attrs},
    )


def _order_by(renderer: ET.Element, order_by: tuple[str, bool] | None) -> None:
    if order_by is None:
        return
    renderer.set("enableorderby", "1")
    clause = ET.SubElement(ET.SubElement(renderer, "orderby"), "orderByClause")
    clause.set("asc", "1" if order_by[1] else "0")
    clause.set("nullsFirst", "0")
    clause.text = order_by[0]


def single(symbol: ET.Element) -> ET.Element:
    """A single-symbol renderer."""
    renderer = _renderer("singleSymbol")
    ET.SubElement(renderer, "symbols").append(_named(symbol, "0"))
    return renderer


def categorized(
    attr: str, categories: Sequence[Category], *, order_by: tuple[str, bool] | None = None
) -> ET.Element:
    """A categorized renderer on ``attr`` (a field name or a QGIS expression), in ``categories`` order."""
    renderer = _renderer("categorizedSymbol", attr=attr)
    cats = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for i, cat in enumerate(categories):
        ET.SubElement(cats, "category", value=cat.value, symbol=str(i), label=cat.label, render="true")
        symbols.append(_named(cat.symbol, str(i)))
    ET.SubElement(renderer, "source-symbol").append(_named(categories[0].symbol, "0"))
    _order_by(renderer, order_by)
    return renderer


def graduated(attr: str, ranges: Sequence[Range], *, order_by: tuple[str, bool] | None = None) -> ET.Element:
    """A graduated renderer on ``attr`` (a field or an expression) with fixed ``ranges``."""
    renderer = _renderer("graduatedSymbol", attr=attr, graduatedMethod="GraduatedColor")
    out = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for i, r in enumerate(ranges):
        ET.SubElement(
            out,
            "range",
            lower=f"{r.lower:.6f}",
            upper=f"{r.upper:.6f}",
            symbol=str(i),
            label=r.label,
            render="true",
        )
        symbols.append(_named(r.symbol, str(i)))
    ET.SubElement(renderer, "source-symbol").append(_named(ranges[0].symbol, "0"))
    method = ET.SubElement(renderer, "classificationMethod", id="Custom")
    ET.SubElement(method, "symmetricMode", enabled="0", symmetrypoint="0", astride="0")
    ET.SubElement(method, "labelFormat", format="%1 - %2", labelprecision="0", trimtrailingzeroes="1")
    _order_by(renderer, order_by)
    return renderer


def simple_labels(
    field: str, *, kind: str, size_pt: float = 8.0, colour: str = "#252525", min_scale: int = 0
) -> ET.Element:
    """Labels from ``field`` with a white halo, around points, over polygons, along lines.

    ``min_scale`` (QGIS's minimum scale, e.g. 50000): labels show at 1:50,000 or nearer (0: always).
    """
    labeling = ET.Element("labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    style = ET.SubElement(
        settings,
        "text-style",
        fieldName=field,
        isExpression="0",
        fontSize=f"{size_pt:g}",
        fontSizeUnit="Point",
        textColor=rgba(colour),
        textOpacity="1",
        fontWeight="50",
        fontItalic="0",
        multilineHeight="1",
    )
    ET.SubElement(
        style,
        "text-buffer",
        bufferDraw="1",
        bufferSize="0.8",
        bufferSizeUnits="MM",
        bufferColor=rgba("#ffffff"),
        bufferOpacity="1",
        bufferNoFill="1",
        bufferJoinStyle="128",
    )
    ET.SubElement(settings, "text-format", wrapChar="", multilineAlign="3", formatNumbers="0")
    # QgsPalLayerSettings: 6 ordered positions around a point, 1 over a polygon's point, 2 along a line
    placement = {"marker": "6", "fill": "1", "line": "2"}[kind]
    ET.SubElement(settings, "placement", placement=placement, dist="1.2", distUnits="MM", priority="5")
    ET.SubElement(
        settings,
        "rendering",
        obstacle="1",
        scaleVisibility="1" if min_scale else "0",
        scaleMin="0",  # QGIS 3 keeps its maximum scale (zoomed-in limit) here, its minimum in scaleMax
        scaleMax=str(min_scale),
        fontMinPixelSize="3",
        upsidedownLabels="0",
    )
    return labeling


def qml_document(
    renderer: ET.Element,
    *,
    kind: str,
    labeling: ET.Element | None = None,
    min_scale: int = 0,
) -> str:
    """A QML document: ``renderer``, optional ``labeling``, for a layer of symbol ``kind``.

    ``min_scale`` (QGIS's minimum scale, e.g. 25000): the layer draws at 1:25,000 or nearer
    (0: at every scale).

    Examples
    --------
    >>> qml = qml_document(single(marker_symbol("circle", "#b30000")), kind="marker")
    >>> root = ET.fromstring(qml[qml.index("<qgis"):])
    >>> root.tag, root.find("renderer-v2").get("type"), root.findtext("layerGeometryType")
    ('qgis', 'singleSymbol', '0')
    """
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="Symbology|Labeling|Rendering",
        labelsEnabled="1" if labeling is not None else "0",
        hasScaleBasedVisibilityFlag="1" if min_scale else "0",
        maxScale="0",
        minScale=str(min_scale) if min_scale else "1e+08",
    )
    root.append(renderer)
    if labeling is not None:
        root.append(labeling)
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerOpacity").text = "1"
    ET.SubElement(root, "layerGeometryType").text = str(GEOMETRY_KINDS[kind])
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"
