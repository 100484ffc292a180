"""Layer specs of the interactive map: light GeoJSON (simplified, rounded, few columns) plus style.

Each ``*_spec`` function returns a plain dict read by ``riskplan.layer`` in
``maps/static/riskplan_map.js``: ``id``, ``name``, ``kind`` (polygon, point, line), ``cls``
(CSS class of the drawn elements), ``style`` / ``styleBy``, marker settings, ``tooltip``
(``title`` and ``fields`` as ``[property, label, format]``) and ``data`` (a FeatureCollection).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.coords import wgs84_to_gcj02
from gis.crs import local_metric_crs

from ._style import symbol_svg
from .words import category_label, term_label, tr

__all__ = ["Display", "feature_collection", "spec_json"]

Spec = dict[str, Any]


class Display:
    """How geometries are prepared for the page: simplification, rounding, GCJ-02 shift, budgets.

    ``max_polygons`` and ``max_points`` bound what one layer puts in the page (0: no bound):
    above them, risk units are drawn merged by level and communities thinned (see
    :func:`maps._unit_layers.units_spec`, :func:`communities_spec`); ``max_vertices`` bounds the vertices of a
    polygon or line layer (:func:`polygon_spec` simplifies it more coarsely above it). The
    GeoPackage keeps every feature, exact.
    """

    def __init__(
        self,
        *,
        simplify_m: float,
        decimals: int,
        gcj02: bool,
        max_polygons: int = 0,
        max_points: int = 0,
        max_vertices: int = 0,
    ) -> None:
        self.simplify_m = float(simplify_m)
        self.decimals = int(decimals)
        self.gcj02 = bool(gcj02)
        self.max_polygons = int(max_polygons)
        self.max_points = int(max_points)
        self.max_vertices = int(max_vertices)

    def within_vertices(self, gdf: gpd.GeoDataFrame) -> float:
        """Simplification tolerance (metres) that brings ``gdf`` within ``max_vertices``.

        ``simplify_m`` when the layer is within the budget already (or there is none); else
        the smallest of ``simplify_m`` x 2, 4, 8, ... (at least 10 m, at most 2,000 m) that is.
        """
        if not self.max_vertices or len(gdf) == 0:
            return self.simplify_m
        metric = gdf
        if gdf.crs is None or gdf.crs.is_geographic:
            metric = (gdf.set_crs(4326) if gdf.crs is None else gdf).pipe(
                lambda g: g.to_crs(local_metric_crs(g))
            )
        geoms = metric.geometry.to_numpy()
        tol = self.simplify_m
        simple = shapely.simplify(geoms, tol, preserve_topology=True) if tol > 0 else geoms
        while int(shapely.get_num_coordinates(simple).sum()) > self.max_vertices and tol < _MAX_SIMPLIFY_M:
            tol = min(max(2 * tol, 10.0), _MAX_SIMPLIFY_M)
            simple = shapely.simplify(geoms, tol, preserve_topology=True)
        return tol

    def geometries(self, gdf: gpd.GeoDataFrame, *, points: bool = False) -> npt.NDArray[np.object_]:
        """Geometries in EPSG:4326 (or GCJ-02), simplified in metres and rounded."""
        if len(gdf) == 0:
            return np.array([], dtype=object)
        if gdf.crs is None or gdf.crs.is_geographic:
            gdf = gdf.set_crs(4326) if gdf.crs is None else gdf
            gdf = gdf.to_crs(local_metric_crs(gdf))
        geoms = gdf.geometry.to_numpy()
        if points:
            geoms = shapely.point_on_surface(geoms)
        elif self.simplify_m > 0:
            geoms = shapely.simplify(geoms, self.simplify_m, preserve_topology=True)
        out = gpd.GeoSeries(geoms, crs=gdf.crs).to_crs(4326).to_numpy()
        decimals = self.decimals

        def shift(c: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            if self.gcj02 and len(c):
                lon, lat = wgs84_to_gcj02(c[:, 0], c[:, 1])
                c = np.column_stack([lon, lat])
            return np.round(c, decimals)

        return shapely.transform(out, shift)


_MAX_SIMPLIFY_M = 2_000.0  # coarsest display simplification of a layer over its vertex budget


def _clean(value: Any, digits: int) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return None
        return round(v, digits) if abs(v) < 1e15 else v
    return str(value)


def feature_collection(
    gdf: gpd.GeoDataFrame,
    props: Mapping[str, str],
    display: Display,
    *,
    points: bool = False,
    digits: int = 3,
    extra: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """A FeatureCollection of ``gdf`` with only ``props`` (``{column: property}``) as properties.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> gdf = gpd.GeoDataFrame({"a": [1.23456]}, geometry=[shapely.Point(500000, 4000000)], crs=32650)
    >>> fc = feature_collection(gdf, {"a": "a"}, Display(simplify_m=5, decimals=5, gcj02=False))
    >>> fc["features"][0]["properties"], fc["features"][0]["geometry"]["coordinates"]
    ({'a': 1.235}, [117.0, 36.14472])
    """
    geoms = display.geometries(gdf, points=points)
    cols = {c: p for c, p in props.items() if c in gdf.columns}
    data = {p: gdf[c].to_numpy() for c, p in cols.items()}
    data.update({k: np.asarray(v, dtype=object) for k, v in (extra or {}).items()})
    features = []
    for i, geom in enumerate(geoms):
        if geom is None or shapely.is_empty(geom):
            continue
        properties = {p: _clean(values[i], digits) for p, values in data.items()}
        features.append(
            {
                "type": "Feature",
                "properties": {k: v for k, v in properties.items() if v is not None},
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def spec_json(spec: Spec) -> str:
    """Compact JSON of a layer spec, safe inside a ``<script>`` element."""
    text = json.dumps(spec, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _short(cats: Mapping[str, Any], name: str) -> str:
    """A category's name in the output's language (a deployment's own category: its label)."""
    return category_label(name, str(cats.get(name, {}).get("label", name.replace("_", " "))))


def hazards_spec(
    hazards: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display, *, cluster: bool
) -> Spec:
    """Hazard sources with a symbol per category, grade, rectification and response time."""
    h = hazards.copy()
    not_point = ~h.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    if not_point.any():  # one symbol per source; footprints are drawn by hazard_areas_spec
        geoms = h.geometry.to_numpy().copy()
        geoms[not_point] = shapely.point_on_surface(geoms[not_point])
        h = h.set_geometry(gpd.GeoSeries(geoms, index=h.index, crs=h.crs))
    cats = style.get("hazard_categories", {})
    rect = style.get("rectification", {})
    open_states = set(rect.get("open", []))
    status = h["rectification"].astype(str) if "rectification" in h else pd.Series("", index=h.index)
    is_open = status.isin(open_states).to_numpy()
    cat = h["category"].astype(str).where(h["category"].astype(str).isin(list(cats)), "other")
    h["ic"] = np.where(is_open, cat + "|open", cat)
    h["open"] = pd.Series(is_open, index=h.index).map({True: 1, False: None})
    h["closed"] = (status == "closed").map({True: 1, False: None})
    h["cat_label"] = [_short(cats, c) for c in cat]
    h["hid"] = h.index.astype(str)
    icons = {}
    for key, spec in cats.items():
        icons[key] = symbol_svg(spec["shape"], spec["colour"], size=16)
        icons[key + "|open"] = symbol_svg(spec["shape"], spec["colour"], size=16, ring=rect.get("open_ring"))
    icons["default"] = icons.get("other", symbol_svg("circle", "#525252"))
    props = {
        "hid": "id",
        "name": "n",
        "cat_label": "c",
        "ic": "ic",
        "grade_text": "g",
        "rectification": "rect",
        "severity": "sev",
        "response_time_s": "t",
        "nearest_station": "st",
        "open": "open",
        "closed": "closed",
    }
    return {
        "id": "hazards",
        "kind": "point",
        "cls": "rp-hazard",
        "marker": "icon",
        "iconBy": "ic",
        "iconSize": 16,
        "icons": icons,
        "cluster": cluster,
        "style": {},
        "tooltip": {
            "title": "n",
            "fields": [
                ["id", tr("map_f_hazard_id"), ""],
                ["c", tr("map_f_category"), ""],
                ["g", tr("map_f_grade"), ""],
                ["rect", term_label("rectification"), ""],
                ["sev", tr("map_f_severity"), ".1"],
                ["t", tr("map_f_first_engine"), "s"],
                ["st", tr("map_f_nearest_station"), ""],
            ],
        },
        "data": feature_collection(h, props, display),
    }


def hazard_areas_spec(hazards: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display) -> Spec:
    """Footprints of hazard sources mapped as areas, outlined and lightly filled in their category colour."""
    cats = style.get("hazard_categories", {})
    h = hazards[["geometry"]].copy()
    category = hazards["category"].astype(str)
    h["cat"] = category.where(category.isin(list(cats)), "other")
    h["cat_label"] = [_short(cats, c) for c in h["cat"]]
    h["name"] = hazards["name"].astype(str) if "name" in hazards else h.index.astype(str)
    values = {
        key: {"color": spec["colour"], "fillColor": spec["colour"], "fillOpacity": 0.25, "weight": 1.5}
        for key, spec in cats.items()
    }
    return polygon_spec(
        h,
        layer_id="hazard_areas",
        props={"cat": "cat", "cat_label": "c", "name": "n"},
        style={"weight": 1.5, "opacity": 0.9},
        tooltip={"title": "n", "fields": [["c", tr("map_f_hazard_site"), ""]]},
        display=display,
        style_by={"prop": "cat", "values": values},
    )


def communities_spec(communities: gpd.GeoDataFrame, style: Mapping[str, Any], display: Display) -> Spec:
    """Community points sized by population, filled by whether the first engine arrives in time.

    Above ``display.max_points`` communities, the page gets every community the first engine
    does not reach in time and then the most populous others up to the budget; the spec's
    ``note`` says how many are left out (all are in the results GeoPackage).
    """
    c = communities.copy()
    cs = style["communities"]
    note = None
    if display.max_points and len(c) > display.max_points:
        pop_all = c["population"].astype(float) if "population" in c else pd.Series(1.0, index=c.index)
        missed = ~c["covered"].astype(bool) if "covered" in c else pd.Series(False, index=c.index)
        rank = pd.DataFrame({"missed": missed, "pop": pop_all}).sort_values(
            ["missed", "pop"], ascending=False, kind="stable"
        )
        keep = rank.index[: max(display.max_points, int(missed.sum()))]
        note = tr(
            "map_note_communities",
            shown=f"{len(keep):,}",
            total=f"{len(c):,}",
            limit=f"{display.max_points:,}",
        )
        c = c.loc[c.index.isin(keep)]
    pop = c["population"].astype(float).clip(lower=0) if "population" in c else pd.Series(1.0, index=c.index)
    top = float(pop.max()) or 1.0
    lo, hi = float(cs["min_radius_px"]), float(cs["max_radius_px"])
    c["r"] = np.round(lo + (hi - lo) * np.sqrt(pop / top), 1)
    c["cv"] = np.where(c["covered"].astype(bool), "y", "n") if "covered" in c else "y"
    c["cid"] = c.index.astype(str)
    props = {
        "cid": "id",
        "name": "n",
        "population": "pop",
        "response_time_s": "t",
        "nearest_station": "st",
        "n_stations_within": "k",
        "district": "d",
        "street": "sd",
        "division_code": "dc",
        "r": "r",
        "cv": "cv",
    }
    return {
        "id": "communities",
        "kind": "point",
        "cls": "rp-community",
        "marker": "circle",
        "style": {"color": cs["stroke"], "weight": 1, "fillOpacity": 0.9},
        "styleBy": {
            "prop": "cv",
            "values": {"y": {"fillColor": cs["covered_fill"]}, "n": {"fillColor": cs["uncovered_fill"]}},
        },
        "tooltip": {
            "title": "n",
            "fields": [
                ["id", term_label("community"), ""],
                ["d", term_label("district"), ""],
                ["sd", term_label("street"), ""],
                ["dc", term_label("division_code"), ""],
                ["pop", tr("map_f_residents"), "int"],
                ["t", tr("map_f_first_engine"), "s"],
                ["st", tr("map_f_nearest_station"), ""],
                ["k", tr("map_f_stations_within"), "int"],
            ],
        },
        "data": feature_collection(c, props, display, points=True, digits=1),
        **({"note": note} if note else {}),
    }


def point_spec(
    gdf: gpd.GeoDataFrame,
    *,
    layer_id: str,
    icon: str,
    size: int,
    props: Mapping[str, str],
    fields: list[list[str]],
    prefix: str = "",
    display: Display,
) -> Spec:
    """Markers with one inline-SVG icon (stations, proposed stations, depots)."""
    g = gdf.copy()
    g["pid"] = g.index.astype(str)
    return {
        "id": layer_id,
        "kind": "point",
        "cls": f"rp-{layer_id}",
        "marker": "icon",
        "icons": {"default": icon},
        "iconSize": size,
        "style": {},
        "tooltip": {"title": "n", "prefix": prefix, "fields": [["id", tr("map_f_id"), ""], *fields]},
        "data": feature_collection(g, {"pid": "id", **props}, display, digits=1),
    }


def polygon_spec(
    gdf: gpd.GeoDataFrame,
    *,
    layer_id: str,
    props: Mapping[str, str],
    style: Mapping[str, Any],
    tooltip: Mapping[str, Any] | None,
    display: Display,
    kind: str = "polygon",
    style_by: Mapping[str, Any] | None = None,
) -> Spec:
    """Polygons or lines with one style (optionally varied by a property).

    A layer of more vertices than ``display.max_vertices`` (a province's isochrones and
    districts) is drawn simplified more coarsely (:meth:`Display.within_vertices`), and its
    ``note`` says so.
    """
    tol = display.within_vertices(gdf)
    shown = display
    note = None
    if tol != display.simplify_m:
        shown = Display(
            simplify_m=tol,
            decimals=display.decimals,
            gcj02=display.gcj02,
            max_polygons=display.max_polygons,
            max_points=display.max_points,
        )
        n = int(shapely.get_num_coordinates(gdf.geometry.to_numpy()).sum())
        note = tr(
            "map_note_simplified",
            layer=layer_id,
            vertices=f"{n:,}",
            tolerance_m=f"{tol:,.0f}",
            limit=f"{display.max_vertices:,}",
        )
    spec: Spec = {
        "id": layer_id,
        "kind": kind,
        "cls": f"rp-{layer_id}",
        "style": dict(style),
        "tooltip": dict(tooltip) if tooltip else None,
        "data": feature_collection(gdf, props, shown, digits=2),
    }
    if style_by:
        spec["styleBy"] = dict(style_by)
    if note:
        spec["note"] = note
    return spec


def dissolve_bands(iso: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Union of every station's isochrone per band, largest band first (drawn underneath)."""
    rows = []
    for minutes, group in iso.groupby("break_min"):
        geom = shapely.union_all(group.geometry.to_numpy())
        stations = ", ".join(sorted(group["station"].astype(str).unique()))
        rows.append({"break_min": float(minutes), "stations": stations, "geometry": geom})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=iso.crs)
    if len(out):
        out["area_km2"] = out.geometry.area / 1e6
        out = out.sort_values("break_min", ascending=False)
    return out


def served_links(
    depots: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, served: pd.Series
) -> gpd.GeoDataFrame:
    """Straight lines from each depot to the communities it serves (``served``: community -> depot)."""
    served = served.copy()
    served.index = served.index.astype(str)
    served = served.astype(str)
    com_pts = pd.Series(
        shapely.point_on_surface(communities.geometry.to_numpy()), index=communities.index.astype(str)
    )
    dep_pts = pd.Series(depots.geometry.to_numpy(), index=depots.index.astype(str))
    keep = served.index.isin(com_pts.index) & served.isin(dep_pts.index)
    served = served[keep]
    lines = shapely.linestrings(
        [
            [shapely.get_coordinates(dep_pts[d])[0], shapely.get_coordinates(com_pts[c])[0]]
            for c, d in served.items()
        ]
    )
    return gpd.GeoDataFrame(
        {"community": served.index, "depot": served.to_numpy()},
        geometry=list(lines) if len(served) else [],
        crs=depots.crs,
    )
