"""One interactive HTML map per scenario (folium / Leaflet), readable without internet.

Every script and style sheet is inlined (Leaflet, Leaflet.markercluster, leaflet.fullscreen,
shipped in ``maps/static/vendor``), so the overlays draw offline; online base maps are
optional toggles, off by default. Geometries are simplified in metres, coordinates rounded
and only the columns a tooltip shows are embedded.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import pandas as pd
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from gis.atomic import atomic_path
from gis.errors import InputError
from gis.i18n import Lang, format_date
from gis.tables import TableOverrides
from gis.validate import index_by_id

from . import _communities as com
from . import _layers as lyr
from . import _register as reg
from . import _uncertainty as unc
from ._assets import inline_css, inline_js
from ._communities import COMMUNITY_LAYERS, CommunitySafetyLike
from ._coverage_layers import coverage_specs
from ._flood_layers import FLOOD_MAP_LAYERS, flood_specs
from ._legend import legend_html, title_html
from ._map_words import LAYER_NAMES, layer_keys, layer_names, runtime_words
from ._plans import DepotPlanLike, StationPlanLike
from ._style import badge_svg, load_style
from ._unit_layers import units_spec
from .words import community_names, current_lang, output_lang, speaking, stock_label, tr

if TYPE_CHECKING:
    from gis.scenario import Scenario
    from planning.coverage import CoverageResult
    from risk_models.model import RiskResult
    from risk_models.register import RegisterMonth

__all__ = [
    "COMMUNITY_LAYERS",
    "FLOOD_MAP_LAYERS",
    "LAYER_NAMES",
    "REGISTER_LAYERS",
    "layer_names",
    "read_map_layers",
    "risk_map",
    "write_map",
]

log = logging.getLogger(__name__)


#: Layers drawn only from a hazard register (``risk_map(..., register=...)``).
REGISTER_LAYERS = ("risk_areas", "risk_points", "register", "register_closed")
#: Layers drawn only from a coverage with reliability (``planning.reliability.attach_reliability``).
RELIABILITY_LAYERS = ("station_workload", "expected_response")
HIDDEN_BY_DEFAULT = {
    "isochrones",
    "districts",
    "depot_links",
    "register_closed",
    "isochrones_worst_hour",
    "districts_worst_hour",
    "expected_response",
}
#: Layers hidden by default when the risk units are drawn (they cover the same polygons).
HIDDEN_UNDER_RISK = {"communities", "community_safety", "upgrades"}
_SPEC = re.compile(r"/\*rp-spec\*/(.*?)/\*rp-end\*/", re.DOTALL)


class _Assets(MacroElement):
    """Leaflet, its plugins and the riskplan runtime, inlined into the page head."""

    _template = Template(
        "{% macro header(this, kwargs) %}<style>{{ this.css }}</style>\n"
        "<script>{{ this.js }}</script>\n<script>riskplan.setWords({{ this.words }});</script>{% endmacro %}"
    )

    def __init__(self, background: str) -> None:
        super().__init__()
        self._name = "RiskplanAssets"
        self.words = json.dumps(runtime_words(), ensure_ascii=False).replace("</", "<\\/")
        self.css = inline_css() + f"\n.leaflet-container {{ background: {background}; }}"
        self.js = inline_js()


class _DataLayer(Layer):
    """A layer built in the browser by ``riskplan.layer`` from a compact spec."""

    _template = Template(
        "{% macro script(this, kwargs) %}\nvar {{ this.get_name() }} = riskplan.layer("
        "{{ this._parent.get_name() }}, /*rp-spec*/{{ this.spec }}/*rp-end*/);\n{% endmacro %}"
    )

    def __init__(self, spec: dict[str, Any], *, show: bool) -> None:
        name = spec.get("name") or layer_keys()[spec["id"]]  # a name of its own: the worst hour's
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RiskplanLayer"
        self.spec = lyr.spec_json({**spec, "name": name})


class _Controls(MacroElement):
    """Title, legend and full-screen controls, then the ready flag read by tests."""

    _template = Template(
        "{% macro script(this, kwargs) %}\n"
        "riskplan.control({{ this._parent.get_name() }}, 'topleft', 'rp-title', {{ this.title }});\n"
        "riskplan.control({{ this._parent.get_name() }}, 'bottomleft', 'rp-legend', {{ this.legend }});\n"
        "riskplan.ready({{ this._parent.get_name() }}, {{ this.bounds }}, {{ this.hatch }});\n{% endmacro %}"
    )

    def __init__(self, title: str, legend: str, bounds: list[list[float]] | None, hatch: str) -> None:
        super().__init__()
        self.hatch = json.dumps(hatch)
        self.bounds = json.dumps(bounds)
        self._name = "RiskplanControls"
        self.title = json.dumps(title, ensure_ascii=False).replace("</", "<\\/")
        self.legend = json.dumps(legend, ensure_ascii=False).replace("</", "<\\/")


def _layers_of(scenario: Scenario | Mapping[str, gpd.GeoDataFrame]) -> Mapping[str, gpd.GeoDataFrame]:
    if hasattr(scenario, "layers"):
        return scenario.layers
    if isinstance(scenario, Mapping):
        return scenario
    msg = f"`scenario` is a {type(scenario).__name__}. Fix: pass a gis.Scenario or a mapping of layers."
    raise InputError(msg)


def _hazard_table(
    hazards: gpd.GeoDataFrame, risk: RiskResult | None, coverage: CoverageResult | None
) -> gpd.GeoDataFrame:
    h = index_by_id(hazards).copy()
    h.index = h.index.astype(str)
    grade = pd.Series(pd.NA, index=h.index, dtype=object)
    if risk is not None:
        rh = risk.hazards.copy()
        rh.index = rh.index.astype(str)
        for col in ("severity",):
            if col in rh.columns:
                h[col] = rh[col].reindex(h.index)
        if "grade" in rh.columns:
            grade = (
                rh["grade"]
                .reindex(h.index)
                .map(lambda g: tr("map_gb18218_grade", grade=g) if isinstance(g, str) else pd.NA)
            )
    if "size_class" in h.columns:
        size = h["size_class"].map(
            lambda s: tr("map_size_class", size=s) if isinstance(s, str) and s else pd.NA
        )
        grade = grade.fillna(size)
    h["grade_text"] = grade
    if coverage is not None:
        ch = coverage.hazards.copy()
        ch.index = ch.index.astype(str)
        for col in ("response_time_s", "nearest_station", "covered"):
            if col in ch.columns:
                h[col] = ch[col].reindex(h.index)
    return h


def _context(layers: Mapping[str, gpd.GeoDataFrame], style: Mapping[str, Any], disp: lyr.Display) -> dict:
    ctx = style["context"]
    parts = []
    if "study_area" in layers and len(layers["study_area"]):
        sa = layers["study_area"][["geometry"]].copy()
        sa["geometry"] = sa.geometry.boundary
        sa["k"] = "a"
        parts.append(sa)
    if "barriers" in layers and len(layers["barriers"]):
        b = layers["barriers"].copy()
        b["k"] = b["kind"].astype(str).map(lambda k: "r" if k == "river" else "b") if "kind" in b else "b"
        parts.append(b[["geometry", "k", *(["name"] if "name" in b else [])]])
    if "roads" in layers and "highway" in layers["roads"]:
        roads = layers["roads"]
        main = roads["highway"].astype(str).str.replace("_link", "").isin(["motorway", "trunk", "primary"])
        r = roads.loc[main, ["geometry"]].copy()
        r["k"] = "m"
        parts.append(r)
    if parts:
        crs = parts[0].crs
        frame = gpd.GeoDataFrame(
            pd.concat([p.to_crs(crs) for p in parts], ignore_index=True), geometry="geometry", crs=crs
        )
    else:  # no study area, barriers or road lines (roads read from an OSM file): an empty layer
        frame = gpd.GeoDataFrame({"k": pd.Series(dtype=object)}, geometry=gpd.GeoSeries([], crs=4326))
    values = {
        "a": {"color": ctx["study_area"], "weight": 1.5, "dashArray": "6 4", "fill": False},
        "r": {"color": ctx["river"], "fillColor": ctx["river"], "fillOpacity": 0.8, "weight": 1},
        "b": {"color": ctx["line"], "weight": 3, "opacity": 0.8, "fill": False},
        "m": {"color": ctx["line"], "weight": 1.2, "opacity": 0.8, "fill": False},
    }
    display = lyr.Display(simplify_m=max(disp.simplify_m, 10.0), decimals=disp.decimals, gcj02=disp.gcj02)
    return lyr.polygon_spec(
        frame,
        layer_id="context",
        props={"k": "k", "name": "n"},
        style={"interactive": False},
        tooltip=None,
        display=display,
        style_by={"prop": "k", "values": values},
    )


def risk_map(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    *,
    risk: RiskResult | None = None,
    coverage: CoverageResult | None = None,
    station_plan: StationPlanLike | None = None,
    depot_plan: DepotPlanLike | None = None,
    register: RegisterMonth | None = None,
    community_safety: CommunitySafetyLike | None = None,
    uncertainty: gpd.GeoDataFrame | None = None,
    tiles: str | None = "auto",
    gcj02: bool = False,
    map_style: TableOverrides = None,
    lang: str | None = None,
) -> folium.Map:
    """The interactive risk and coverage map of a scenario, with every asset inlined.

    Parameters
    ----------
    scenario
        A :class:`gis.Scenario` (or a mapping of its layers).
    risk
        :class:`risk_models.RiskResult`: units coloured red / orange / yellow / blue.
    coverage
        :class:`planning.CoverageResult`: response times, isochrones, districts, gaps.
    station_plan
        A :class:`planning.StationPlan` (:class:`StationPlanLike`): its proposed stations with
        their reasons, and its trade-off curve in the legend.
    depot_plan
        A :class:`planning.DepotPlan` (:class:`DepotPlanLike`): draws the communities each
        depot serves.
    register
        A month of the hidden-danger register (:func:`risk_models.register.register_month`):
        its items by state at the month's end (overdue ringed, majors and supervised majors
        by shape, a popup of public fields only) and, with risk assessments, the four-colour
        safety risk points of the hazard sources.
    community_safety
        A scored community safety survey and its plan
        (:class:`service.communities.CommunityAssessment`, :class:`~maps.CommunitySafetyLike`):
        each surveyed community's latest score filled by its grade with its failed items by
        section in the popup, and with a plan the communities with planned measures and the
        demonstration communities.
    uncertainty
        The per-unit uncertainty of the risk map (``SensitivityResult.units`` of
        :func:`risk_models.sensitivity.analyse_sensitivity`, or the layer ``risk_uncertainty``):
        the units whose level is uncertain hatched, with their level probabilities, bands and
        drivers in the popup, and a legend entry.
    tiles
        Online base map offered as a toggle, off by default: ``"osm"``, ``"gaode"``, ``"auto"``
        (Gaode with ``gcj02``, else OSM) or None for none.
    gcj02
        Shift the overlays to GCJ-02 to match Chinese base maps (Gaode, Tencent).
    map_style
        Overrides of ``maps/data/map_style.toml`` (a mapping or a TOML path).
    lang
        ``"zh"`` or ``"en"``: the language of layer names, legend, tooltips, popups and
        controls; None: by the scenario's place (Chinese for a scenario in China, else English).

    Returns
    -------
    folium.Map

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> m = risk_map(city)
    >>> html = m.get_root().render()
    >>> sorted(read_map_layers(html))
    ['communities', 'context', 'depots', 'hazards', 'stations']
    """
    layers = _layers_of(scenario)
    with speaking(output_lang(lang, layers), map_style=map_style) as spoken:
        return _draw_map(
            scenario,
            risk=risk,
            coverage=coverage,
            station_plan=station_plan,
            depot_plan=depot_plan,
            register=register,
            community_safety=community_safety,
            uncertainty=uncertainty,
            tiles=tiles,
            gcj02=gcj02,
            map_style=map_style,
            lang=spoken,
        )


def _draw_map(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    *,
    risk: RiskResult | None,
    coverage: CoverageResult | None,
    station_plan: StationPlanLike | None,
    depot_plan: DepotPlanLike | None,
    register: RegisterMonth | None,
    community_safety: CommunitySafetyLike | None,
    uncertainty: gpd.GeoDataFrame | None,
    tiles: str | None,
    gcj02: bool,
    map_style: TableOverrides,
    lang: Lang,
) -> folium.Map:
    st = load_style(map_style)
    layers = _layers_of(scenario)
    proposed = station_plan.proposed if station_plan is not None else None
    tradeoff = station_plan.tradeoff if station_plan is not None else None
    depots_served = depot_plan.served if depot_plan is not None else None
    disp = lyr.Display(
        simplify_m=st["display"]["simplify_m"],
        decimals=st["display"]["decimals"],
        gcj02=gcj02,
        max_polygons=st["display"]["max_polygons"],
        max_points=st["display"]["max_points"],
        max_vertices=st["display"]["max_vertices"],
    )
    label = getattr(scenario, "label", None) or getattr(risk, "label", "") or tr("map_scenario")
    specs: list[dict[str, Any]] = [_context(layers, st, disp)]

    if risk is not None:
        specs.append(units_spec(risk.units, st, disp))
    if uncertainty is not None and (spec_u := unc.uncertainty_spec(uncertainty, disp)) is not None:
        specs.append(spec_u)
    if coverage is not None:
        specs.extend(coverage_specs(coverage, st, disp))
        specs.extend(flood_specs(coverage, st, disp))  # a run's flood closures: depth and closed roads
    if coverage is not None and "station_workload" in getattr(coverage, "extra_layers", {}):
        from ._reliability_layers import expected_response_spec, workload_spec

        specs.append(workload_spec(coverage.extra_layers["station_workload"], disp))
        expected = expected_response_spec(coverage.communities, coverage.standard.response_s, disp)
        if expected is not None:  # each community's P90 with busy stations, against the standard
            specs.append(expected)
    if coverage is not None:  # the worst hour's isochrones and districts, a what-if's closure impact
        from ._closure_layers import closure_specs

        specs.extend(closure_specs(coverage, st, disp))
    communities = coverage.communities if coverage is not None else index_by_id(layers["communities"])
    communities = community_names(
        communities, index_by_id(layers["communities"]), source=getattr(scenario, "source", None)
    )
    if community_safety is not None:
        specs.extend(com.community_specs(community_safety, index_by_id(layers["communities"]), st, disp))
    specs.append(lyr.communities_spec(communities, st, disp))
    if depots_served is not None and "depots" in layers:
        links = lyr.served_links(
            index_by_id(layers["depots"]), index_by_id(layers["communities"]), depots_served
        )
        specs.append(
            lyr.polygon_spec(
                links,
                layer_id="depot_links",
                kind="line",
                props={"community": "c", "depot": "d"},
                style={"color": st["depots"]["link_colour"], "weight": 1, "opacity": 0.8},
                tooltip={
                    "title": "d",
                    "prefix": tr("map_prefix_depot"),
                    "fields": [["c", tr("map_f_serves_community"), ""]],
                },
                display=disp,
            )
        )
    no_hazards = gpd.GeoDataFrame(
        {"id": pd.Series(dtype=object), "name": pd.Series(dtype=object), "category": pd.Series(dtype=object)},
        geometry=gpd.GeoSeries([], crs=4326),
    )
    hazards = _hazard_table(layers.get("hazards", no_hazards), risk, coverage)
    areas = hazards[hazards.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(areas):
        specs.append(lyr.hazard_areas_spec(areas, st, disp))
    cluster = len(hazards) >= int(st["display"]["cluster_hazards_from"])
    specs.append(lyr.hazards_spec(hazards, st, disp, cluster=cluster))
    if register is not None:
        specs.extend(reg.risk_point_specs(register, st, disp))
        specs.extend(reg.register_specs(register, st, disp))
    stations = coverage.stations if coverage is not None else index_by_id(layers["fire_stations"])
    specs.append(_stations_spec(stations, st, disp))
    if proposed is not None and len(proposed):
        specs.append(_proposed_spec(index_by_id(proposed), st, disp))
    if "depots" in layers and len(layers["depots"]):
        specs.append(_depots_spec(index_by_id(layers["depots"]), depots_served, st, disp))

    bounds = _bounds(specs)
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2] if bounds else [0.0, 0.0]
    m = folium.Map(location=centre, tiles=None, control_scale=True, zoom_start=12, maxZoom=19, minZoom=3)
    m.default_js = []  # every asset is inlined by _Assets: no CDN links
    m.default_css = []
    _Assets(st["display"]["background"]).add_to(m)
    tile_key = ("gaode" if gcj02 else "osm") if tiles == "auto" else tiles
    if tile_key is not None:
        if tile_key not in st["tiles"]:
            msg = f"`tiles` is {tiles!r}. Fix: use one of {sorted(st['tiles'])}, 'auto' or None."
            raise InputError(msg)
        t = st["tiles"][tile_key]
        if (t.get("coords") == "gcj02") != gcj02:
            log.warning(
                "tiles %r are in %s but the overlays are not: they will not line up", tile_key, t["coords"]
            )
        kwargs = {"subdomains": t["subdomains"]} if "subdomains" in t else {}
        folium.TileLayer(
            tiles=t["url"], attr=t["attribution"], name=t["label"], overlay=True, show=False, **kwargs
        ).add_to(m)
    for spec in specs:
        show = spec["id"] not in HIDDEN_BY_DEFAULT and not (
            spec["id"] in HIDDEN_UNDER_RISK and risk is not None
        )
        _DataLayer(spec, show=show).add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    present = {s["id"] for s in specs}
    _Controls(
        title_html(
            label,
            coverage=coverage,
            risk=risk,
            gcj02=gcj02,
            notes=[
                *getattr(scenario, "notes", ()),
                *([_register_note(register)] if register is not None else []),
                *(s["note"] for s in specs if "note" in s),
            ],
        ),
        legend_html(
            st,
            present=present,
            specs=specs,
            coverage=coverage,
            tradeoff=tradeoff,
            safety_standard=community_safety.standard if community_safety is not None else None,
        ),
        bounds,
        st["uncovered"]["colour"],
    ).add_to(m)
    counts = {s["id"]: len(s["data"]["features"]) for s in specs}
    log.info("map of %s: %s", label, counts)
    return m


def _register_note(register: RegisterMonth) -> str:
    synthetic = tr("map_synthetic_suffix") if register.synthetic and "synthetic" not in register.label else ""
    return tr(
        "map_note_register",
        label=register.label,
        synthetic=synthetic,
        date=format_date(register.as_of, current_lang()),
    )


def _stations_spec(stations: gpd.GeoDataFrame, st: Mapping[str, Any], disp: lyr.Display) -> dict[str, Any]:
    return lyr.point_spec(
        stations,
        layer_id="stations",
        icon=badge_svg("F", st["stations"]["colour"], size=20),
        size=20,
        props={
            "name": "n",
            "grade": "g",
            "area_km2": "a",
            "cap_km2": "cap",
            "farthest_travel_s": "ft",
            "n_enclaves": "ne",
        },
        fields=[
            ["g", tr("map_f_grade"), ""],
            ["a", tr("map_f_district_km2"), ".2"],
            ["cap", tr("map_f_district_cap_km2"), ".0"],
            ["ft", tr("map_f_farthest_travel"), "s"],
            ["ne", tr("map_f_enclaves"), "int"],
        ],
        display=disp,
    )


def _proposed_spec(proposed: gpd.GeoDataFrame, st: Mapping[str, Any], disp: lyr.Display) -> dict[str, Any]:
    return lyr.point_spec(
        proposed,
        layer_id="proposed",
        icon=badge_svg("+", st["proposed"]["colour"], size=26, shape="star"),
        size=26,
        props={"name": "n", "reason": "why", "added_demand": "add"},
        fields=[["why", tr("map_f_why_here"), ""], ["add", tr("map_f_demand_added"), "int"]],
        prefix=tr("map_prefix_proposed"),
        display=disp,
    )


def _depots_spec(
    depots: gpd.GeoDataFrame, served: pd.Series | None, st: Mapping[str, Any], disp: lyr.Display
) -> dict[str, Any]:
    d = depots.copy()
    stock = [c for c in d.columns if c.startswith("stock_")]
    props = {"name": "n", "tier": "tier", "capacity_people": "cap"}
    fields = [["tier", tr("map_f_tier"), ""], ["cap", tr("map_f_capacity_people"), "int"]]
    for c in stock:
        props[c] = c.removeprefix("stock_")
        fields.append(
            [c.removeprefix("stock_"), tr("map_f_stock", item=stock_label(c.removeprefix("stock_"))), "int"]
        )
    if served is not None:
        counts = served.astype(str).value_counts()
        d["n_served"] = d.index.astype(str).map(counts).fillna(0).astype(int)
        props["n_served"] = "ns"
        fields.append(["ns", tr("map_f_communities_served"), "int"])
    return lyr.point_spec(
        d,
        layer_id="depots",
        icon=badge_svg("D", st["depots"]["colour"], size=18),
        size=18,
        props=props,
        fields=fields,
        display=disp,
    )


def _bounds(specs: list[dict[str, Any]]) -> list[list[float]] | None:
    import shapely

    geoms = [
        shapely.from_geojson(json.dumps(f["geometry"]))
        for s in specs
        if s["id"] in {"units", "communities", "context"}
        for f in s["data"]["features"][:5000]
    ]
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    return [[float(y0), float(x0)], [float(y1), float(x1)]]


def read_map_layers(page: str) -> dict[str, dict[str, Any]]:
    """The layer specs embedded in a map page (or a report embedding one), by layer id.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> specs = read_map_layers(risk_map(city).get_root().render())
    >>> len(specs["stations"]["data"]["features"])
    6
    """
    out = {}
    for text in _SPEC.findall(page):
        spec = json.loads(html.unescape(text) if text.startswith("{&quot;") else text)  # report srcdoc
        out[spec["id"]] = spec
    return out


def write_map(scenario: Scenario | Mapping[str, gpd.GeoDataFrame], path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`risk_map` to one self-contained HTML file, atomically.

    ``kwargs`` are those of :func:`risk_map` (``risk``, ``coverage``, ``station_plan``,
    ``depot_plan``, ``tiles``, ``gcj02``, ``map_style``).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> import tempfile, pathlib
    >>> out = write_map(city, pathlib.Path(tempfile.mkdtemp()) / "map.html")
    >>> 'src="http' in out.read_text(encoding="utf-8")
    False
    """
    path = Path(path)
    page = risk_map(scenario, **kwargs).get_root().render()
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("map written to %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
