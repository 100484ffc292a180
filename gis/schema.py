"""The scenario data model: layer names, columns, vocabularies.

A scenario holds these layers (see ``README.md``, section *Scenario*):

============== ========= ==========================================================
layer          geometry  columns (required in **bold**)
============== ========= ==========================================================
roads          lines     highway, oneway, maxspeed, name, osm_id (or an OSM file)
hazards        any       **id**, name, **category**, inventory, rectification,
                         size_class (optional: without it, risk rests on
                         exposure, vulnerability and response)
communities    polygons  **id**, name, **population**, households,
                         share_aged_65plus, share_built_pre2000,
                         share_highrise_no_elevator, share_gas_supply
fire_stations  points    **id**, name, **grade**
depots         points    **id**, name, **tier**, capacity_people, stock_* columns
candidate_sites points   **id**, name
sensitive_sites any      **id**, name, **kind**
incidents      points    **id**, category, time
study_area     polygons  (the area to score; defaults to the hull of communities)
barriers       any       kind (river, expressway, railway: district boundaries)
============== ========= ==========================================================

A missing ``name`` is filled with the feature's ``id``. ``inventory`` is a JSON list of
substances present at a hazard source, each
``{"substance": "chlorine", "q_t": 12.0, "Q_t": 5.0}`` (tonnes present and the
GB 18218-2018 critical quantity), used for the major-hazard index ``S = sum(q/Q)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEPOT_TIERS",
    "HAZARD_CATEGORIES",
    "LAYERS",
    "RASTER_LAYERS",
    "RASTER_SUFFIXES",
    "RECTIFICATION_STATUSES",
    "SENSITIVE_KINDS",
    "SIZE_CLASSES",
    "STATION_GRADES",
    "ColumnSpec",
    "LayerSpec",
]

HAZARD_CATEGORIES: tuple[str, ...] = (
    "hazardous_chemicals",
    "mining",
    "metallurgy",
    "dust_explosion",
    "fuel_gas",
    "fireworks_explosives",
    "warehouse_logistics",
    "construction",
    "other",
)
STATION_GRADES: tuple[str, ...] = ("grade1", "grade2", "small", "special", "micro")
#: Layers given as rasters: ``population`` is people per pixel (WorldPop, GHS-POP), summed into
#: communities and area units with exact pixel fractions (:func:`gis.population.raster_population`).
RASTER_LAYERS: tuple[str, ...] = ("population",)
RASTER_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".vrt", ".img", ".asc")
DEPOT_TIERS: tuple[str, ...] = ("province", "city", "county", "township")
# Closed loop for major accident hazards: discover -> hand over -> rectify -> verify and close.
RECTIFICATION_STATUSES: tuple[str, ...] = (
    "none",
    "discovered",
    "handed_over",
    "rectifying",
    "closed",
)
SIZE_CLASSES: tuple[str, ...] = ("small", "medium", "large")
SENSITIVE_KINDS: tuple[str, ...] = (
    "school",
    "kindergarten",
    "hospital",
    "theatre",
    "mall",
    "stadium",
    "other",
)

GEOM_POINT = frozenset({"Point", "MultiPoint"})
GEOM_LINE = frozenset({"LineString", "MultiLineString"})
GEOM_POLYGON = frozenset({"Polygon", "MultiPolygon"})
GEOM_ANY = GEOM_POINT | GEOM_LINE | GEOM_POLYGON


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a layer.

    ``kind`` is ``"str"``, ``"int"``, ``"float"``, ``"share"`` (a float in 0..1)
    or ``"json"``. ``values`` restricts a string column to a vocabulary;
    ``minimum`` bounds a number from below. ``fill_from`` names the column whose value
    stands in where this one is missing (a feature without a name is called by its id).
    """

    name: str
    kind: str = "str"
    required: bool = False
    values: tuple[str, ...] | None = None
    minimum: float | None = None
    default: object = None
    fill_from: str | None = None


@dataclass(frozen=True)
class LayerSpec:
    """The columns and geometry types of one scenario layer."""

    name: str
    geometry: frozenset[str]
    columns: tuple[ColumnSpec, ...] = ()
    required: bool = False
    has_ids: bool = True
    column_prefixes: tuple[str, ...] = field(default=())

    def column(self, name: str) -> ColumnSpec | None:
        """The spec of column ``name``, or None when the layer has no such column."""
        return next((c for c in self.columns if c.name == name), None)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Names of the columns every layer of this kind must have."""
        return tuple(c.name for c in self.columns if c.required)


_ID = ColumnSpec("id", "str", required=True)
# Real data (OpenStreetMap above all) leaves many features unnamed: they are called by their id.
_NAME = ColumnSpec("name", "str", fill_from="id")

LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            "roads",
            GEOM_LINE,
            (
                ColumnSpec("highway", "str"),
                ColumnSpec("oneway", "str"),
                ColumnSpec("maxspeed", "str"),
                ColumnSpec("name", "str"),
            ),
            required=True,
            has_ids=False,
        ),
        LayerSpec(
            "hazards",
            GEOM_ANY,
            (
                _ID,
                _NAME,
                ColumnSpec("category", "str", required=True, values=HAZARD_CATEGORIES),
                ColumnSpec("inventory", "json"),
                ColumnSpec("rectification", "str", values=RECTIFICATION_STATUSES, default="none"),
                ColumnSpec("size_class", "str", values=SIZE_CLASSES),
            ),
        ),
        LayerSpec(
            "communities",
            GEOM_POLYGON,
            (
                _ID,
                _NAME,
                ColumnSpec("population", "float", required=True, minimum=0),
                ColumnSpec("households", "float", minimum=0),
                ColumnSpec("share_aged_65plus", "share"),
                ColumnSpec("share_built_pre2000", "share"),
                ColumnSpec("share_highrise_no_elevator", "share"),
                ColumnSpec("share_gas_supply", "share"),
            ),
            required=True,
        ),
        LayerSpec(
            "fire_stations",
            GEOM_POINT,
            (_ID, _NAME, ColumnSpec("grade", "str", required=True, values=STATION_GRADES)),
            required=True,
        ),
        LayerSpec(
            "depots",
            GEOM_POINT,
            (
                _ID,
                _NAME,
                ColumnSpec("tier", "str", required=True, values=DEPOT_TIERS),
                ColumnSpec("capacity_people", "float", minimum=0),
            ),
            column_prefixes=("stock_",),
        ),
        LayerSpec("candidate_sites", GEOM_POINT, (_ID, ColumnSpec("name", "str"))),
        LayerSpec(
            "sensitive_sites",
            GEOM_ANY,
            (_ID, _NAME, ColumnSpec("kind", "str", required=True, values=SENSITIVE_KINDS)),
        ),
        LayerSpec("study_area", GEOM_POLYGON, has_ids=False),
        LayerSpec("barriers", GEOM_LINE | GEOM_POLYGON, (ColumnSpec("kind", "str"),), has_ids=False),
        LayerSpec(
            "incidents",
            GEOM_POINT,
            (_ID, ColumnSpec("category", "str"), ColumnSpec("time", "str")),
        ),
    )
}
