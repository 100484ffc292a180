"""Read one scenario layer from a file, with the per-layer options of a scenario TOML.

Formats: GeoPackage, GeoJSON (also gzipped), Shapefile, FlatGeobuf, GeoParquet,
CSV with coordinate columns (or a WKT column), and OpenStreetMap XML/PBF
(features selected by tags). Options rename columns, map values (for example
Chinese category names to riskplan's vocabulary), fill defaults, set the source
CRS, convert GCJ-02 / BD-09 coordinates to WGS84, turn polygons into points
(``points``) and give OSM hazard features their category by rule (``category_rules``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely

from . import coords as _coords
from .errors import CRSError, InputError, MissingDependencyError
from .osm import OSM_SUFFIXES
from .schema import GEOM_POINT, LAYERS

__all__ = ["OSM_SUFFIXES", "POINT_MODES", "LayerSource", "read_layer", "to_points"]

log = logging.getLogger(__name__)

_PARQUET_SUFFIXES = (".parquet", ".geoparquet")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_X_NAMES = ("lon", "lng", "long", "longitude", "x", "经度")
_Y_NAMES = ("lat", "latitude", "y", "纬度")
_GEOGRAPHIC_NAMES = {"lon", "lng", "long", "longitude", "lat", "latitude", "经度", "纬度"}
_WKT_NAMES = ("geometry", "wkt", "geom")
_SHAPEFILE_NAME_LIMIT = 10
_OPTIONS = {
    "path",
    "layer",
    "x",
    "y",
    "crs",
    "coords",
    "rename",
    "values",
    "defaults",
    "id",
    "osm_tags",
    "place",
    "bbox",
    "encoding",
    "where",
    "points",
    "category_rules",
}
#: Values of the ``points`` option: how polygons and lines become points in a point layer.
POINT_MODES: tuple[str, ...] = ("representative", "centroid", "keep")


def has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    """True when the file name ends with one of ``suffixes`` (case-insensitive)."""
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


@dataclass(frozen=True)
class LayerSource:
    """Where one scenario layer comes from and how to read it.

    Parameters
    ----------
    layer
        Scenario layer name (``hazards``, ``communities``...).
    path
        File to read. ``None`` for a roads layer fetched online (``place``/``bbox``).
    file_layer
        Layer inside a multi-layer file (GeoPackage); defaults to ``layer``.
    x, y
        Coordinate columns of a CSV file.
    crs
        Source CRS: set on data that has none, or replacing a wrong one.
    coords
        ``wgs84`` (default), ``gcj02`` or ``bd09``: Chinese web-map coordinates
        are converted to WGS84.
    rename
        ``{source column: scenario column}``.
    values
        ``{column: {source value: scenario value}}``.
    defaults
        ``{column: value}`` for columns that are missing or empty.
    id
        Column to use as ``id``.
    osm_tags
        Tags selecting features from an OSM file, e.g. ``{"amenity": "fire_station"}``.
    place, bbox
        An osmnx place name or ``(west, south, east, north)`` for online roads.
    encoding
        Text encoding of a CSV (default: UTF-8, then GB18030).
    where
        An attribute filter for vector files, in GDAL's SQL dialect,
        e.g. ``"landuse = 'residential'"``.
    points
        How polygons and lines become points: ``"representative"`` (a point inside the
        feature, :meth:`~geopandas.GeoSeries.representative_point`), ``"centroid"`` (the
        centre of mass, computed in the layer's CRS; it may fall outside a concave shape) or
        ``"keep"`` (leave geometries as they are). Default: ``"representative"`` for an OSM
        layer whose schema geometry is points (``fire_stations``, ``depots``,
        ``candidate_sites``, ``incidents``: stations are often mapped as buildings or
        multipolygons), ``"keep"`` otherwise.
    category_rules
        For an OSM layer: give each feature the ``category`` and ``size_class`` of the first
        rule of a hazard rule table that its tags match (see ``gis/data/osm_hazards.toml``):
        ``"osm_hazards"`` (the shipped table) or the path of a TOML merged over it. Without
        ``osm_tags``, the features are those some rule matches; with ``osm_tags``, features
        no rule matches keep an empty category (fill it with ``defaults``).
    """

    layer: str
    path: Path | None = None
    file_layer: str | None = None
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    coords: str = "wgs84"
    rename: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    osm_tags: Mapping[str, Any] | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    encoding: str | None = None
    where: str | None = None
    points: str | None = None
    category_rules: str | Path | None = None

    @classmethod
    def from_toml(cls, layer: str, table: Mapping[str, Any] | str, *, base: Path) -> LayerSource:
        """Build from a ``[layers.<layer>]`` table (or a bare path string) of a scenario TOML."""
        if isinstance(table, str):
            table = {"path": table}
        unknown = sorted(set(table) - _OPTIONS)
        if unknown:
            msg = (
                f"Scenario TOML, table `[layers.{layer}]`: unknown option(s) {unknown}. "
                f"Fix: use only {sorted(_OPTIONS)}."
            )
            raise InputError(msg)
        if table.get("coords", "wgs84") not in _coords.COORDINATE_SYSTEMS:
            msg = (
                f"Scenario TOML, table `[layers.{layer}]`: `coords = {table['coords']!r}` is "
                f"unknown. Fix: use one of {list(_coords.COORDINATE_SYSTEMS)}."
            )
            raise InputError(msg)
        points = table.get("points")
        if points is not None and points not in POINT_MODES:
            msg = (
                f"Scenario TOML, table `[layers.{layer}]`: `points = {points!r}` is unknown. "
                f"Fix: use one of {list(POINT_MODES)}."
            )
            raise InputError(msg)
        rules = table.get("category_rules")
        if rules is not None and not isinstance(rules, str):
            msg = (
                f"Scenario TOML, table `[layers.{layer}]`: `category_rules` must be a string. "
                'Fix: write `category_rules = "osm_hazards"` or the path of a rule TOML.'
            )
            raise InputError(msg)
        path = table.get("path")
        bbox = table.get("bbox")
        return cls(
            layer=layer,
            path=(base / path).resolve() if path else None,
            file_layer=table.get("layer"),
            x=table.get("x"),
            y=table.get("y"),
            crs=table.get("crs"),
            coords=table.get("coords", "wgs84"),
            rename=dict(table.get("rename", {})),
            values={k: dict(v) for k, v in table.get("values", {}).items()},
            defaults=dict(table.get("defaults", {})),
            id=table.get("id"),
            osm_tags=table.get("osm_tags"),
            place=table.get("place"),
            bbox=tuple(bbox) if bbox is not None else None,
            encoding=table.get("encoding"),
            where=table.get("where"),
            points=points,
            category_rules=_rules_path(rules, base),
        )

    @property
    def is_osm(self) -> bool:
        """True when the layer is read from an OpenStreetMap file (XML or PBF)."""
        return self.path is not None and has_suffix(self.path, OSM_SUFFIXES)

    @property
    def point_mode(self) -> str:
        """The ``points`` option in force (see the class docstring for the default)."""
        if self.points is not None:
            return self.points
        spec = LAYERS.get(self.layer)
        return (
            "representative" if self.is_osm and spec is not None and spec.geometry == GEOM_POINT else "keep"
        )


def _rules_path(value: str | None, base: Path) -> str | Path | None:
    """``"osm_hazards"`` stays the shipped table's name; anything else is a path from ``base``."""
    from .extract.hazards import RULES_TABLE

    if value is None or value == RULES_TABLE:
        return value
    return (base / value).resolve()


def _where(src: LayerSource) -> str:
    return f"`{src.path}`, layer `{src.layer}`" if src.path else f"layer `{src.layer}`"


def read_layer(src: LayerSource) -> gpd.GeoDataFrame:
    r"""Read the layer ``src`` describes and apply its options.

    Returns
    -------
    GeoDataFrame
        In the source CRS (WGS84 after a GCJ-02/BD-09 conversion), not yet validated.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> csv = pathlib.Path(tempfile.mkdtemp()) / "stations.csv"
    >>> _ = csv.write_text("编号,name,grade,经度,纬度\nFS1,East,grade1,112.55,37.86\n")
    >>> gdf = read_layer(LayerSource("fire_stations", csv, rename={"编号": "id"}))
    >>> gdf[["id", "grade"]].to_dict("records"), gdf.crs.to_epsg()
    ([{'id': 'FS1', 'grade': 'grade1'}], 4326)
    """
    if src.path is None:
        msg = f'{_where(src)} has no `path`. Fix: add `path = "..."` to `[layers.{src.layer}]`.'
        raise InputError(msg)
    if not src.path.exists():
        msg = f"{_where(src)}: the file does not exist. Fix: check `path` in the scenario."
        raise InputError(msg)
    if src.where and (src.is_osm or has_suffix(src.path, _CSV_SUFFIXES + _PARQUET_SUFFIXES)):
        msg = f"{_where(src)}: `where` filters only GDAL vector files. Fix: filter the file beforehand."
        raise InputError(msg)
    if src.is_osm:
        gdf = _read_osm(src)
    elif has_suffix(src.path, _CSV_SUFFIXES):
        gdf = _read_csv(src)
    elif has_suffix(src.path, _PARQUET_SUFFIXES):
        gdf = _read_parquet(src)
    else:
        gdf = _read_vector(src)
    return apply_options(gdf, src)


def _read_vector(src: LayerSource) -> gpd.GeoDataFrame:
    assert src.path is not None
    path = gdal_path(src.path)
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        msg = f"{_where(src)}: cannot open the file ({exc}). Fix: check that it is a valid vector file."
        raise InputError(msg) from None
    file_layer = src.file_layer
    if file_layer is None:
        if len(layers) == 1:
            file_layer = layers[0]
        elif src.layer in layers:
            file_layer = src.layer
        else:
            msg = (
                f"{_where(src)}: the file holds layers {layers} and none is called "
                f'`{src.layer}`. Fix: name the one to use with `layer = "..."`.'
            )
            raise InputError(msg)
    elif file_layer not in layers:
        msg = f"{_where(src)}: no layer `{file_layer}` in the file (it has {layers}). Fix: check `layer`."
        raise InputError(msg)
    try:
        gdf = gpd.read_file(path, layer=file_layer, engine="pyogrio", where=src.where)
    except Exception as exc:
        what = f" with `where = {src.where!r}`" if src.where else ""
        msg = (
            f"{_where(src)}: cannot read layer `{file_layer}`{what} ({exc}). "
            "Fix: repair or re-export the file, or correct the `where` filter."
        )
        raise InputError(msg) from None
    if has_suffix(src.path, (".shp", ".dbf", ".shp.zip")):
        gdf = _untruncate_shapefile_columns(gdf, src.layer)
    return gdf


def _untruncate_shapefile_columns(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Restore schema column names that the Shapefile format cut to 10 characters."""
    spec = LAYERS.get(layer)
    if spec is None:
        return gdf
    renames = {}
    for column in gdf.columns:
        if len(str(column)) == _SHAPEFILE_NAME_LIMIT and spec.column(str(column)) is None:
            matches = [c.name for c in spec.columns if c.name.startswith(str(column))]
            if len(matches) == 1 and matches[0] not in gdf.columns:
                renames[column] = matches[0]
    return gdf.rename(columns=renames)


def gdal_path(path: Path) -> str:
    """The path GDAL should open: gzip-compressed files (``.geojson.gz``) through ``/vsigzip/``."""
    return f"/vsigzip/{path}" if path.name.lower().endswith(".gz") else str(path)


def _read_parquet(src: LayerSource) -> gpd.GeoDataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingDependencyError("pyarrow", "parquet", purpose="read GeoParquet") from None
    try:
        return gpd.read_parquet(src.path)
    except Exception as exc:
        msg = f"{_where(src)}: cannot read GeoParquet ({exc}). Fix: re-export it with geopandas `to_parquet`."
        raise InputError(msg) from None


def _find_column(columns: list[str], wanted: str | None, names: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in columns else None
    lower = {str(c).strip().lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_csv(src: LayerSource) -> gpd.GeoDataFrame:
    assert src.path is not None
    sep = "\t" if src.path.suffix.lower() == ".tsv" else ","
    encodings = [src.encoding] if src.encoding else ["utf-8-sig", "gb18030"]
    for encoding in encodings:
        try:
            df = pd.read_csv(src.path, sep=sep, encoding=encoding, dtype={src.id or "id": str})
            break
        except UnicodeDecodeError:
            continue
        except Exception as exc:
            msg = f"{_where(src)}: cannot parse the CSV ({exc}). Fix: check the delimiter and quoting."
            raise InputError(msg) from None
    else:
        msg = f'{_where(src)}: the CSV is neither UTF-8 nor GB18030. Fix: set `encoding = "..."`.'
        raise InputError(msg)
    columns = [str(c) for c in df.columns]
    xcol = _find_column(columns, src.x, _X_NAMES)
    ycol = _find_column(columns, src.y, _Y_NAMES)
    crs = src.crs
    if xcol is not None and ycol is not None:
        x = pd.to_numeric(df[xcol], errors="coerce")
        y = pd.to_numeric(df[ycol], errors="coerce")
        bad = df.index[x.isna() | y.isna()].tolist()
        if bad:
            msg = (
                f"{_where(src)}: rows {bad[:10]} (0-based data rows) have missing or non-numeric "
                f"coordinates in `{xcol}`/`{ycol}`. Fix: fill or remove them."
            )
            raise InputError(msg)
        geometry = gpd.points_from_xy(x, y)
        if crs is None and {xcol.lower(), ycol.lower()} <= _GEOGRAPHIC_NAMES:
            crs = "EPSG:4326"
        df = df.drop(columns=[xcol, ycol])
    else:
        wkt = _find_column(columns, None, _WKT_NAMES)
        if wkt is None:
            msg = (
                f"{_where(src)}: no coordinate columns found (looked for x: {list(_X_NAMES)}, "
                f"y: {list(_Y_NAMES)}, or a WKT column {list(_WKT_NAMES)}). "
                'Fix: name them with `x = "..."` and `y = "..."`.'
            )
            raise InputError(msg)
        try:
            geometry = gpd.GeoSeries.from_wkt(df[wkt].astype(str))
        except Exception as exc:
            msg = f"{_where(src)}: column `{wkt}` is not valid WKT ({exc}). Fix: correct the geometry text."
            raise InputError(msg) from None
        df = df.drop(columns=[wkt])
    return gpd.GeoDataFrame(df, geometry=geometry, crs=crs)


def _read_osm(src: LayerSource) -> gpd.GeoDataFrame:
    from .extract.hazards import RULES_TABLE, classify_hazards, hazard_rules
    from .osm import read_osm_features

    rules = None
    if src.category_rules is not None:
        rules = hazard_rules(None if src.category_rules == RULES_TABLE else src.category_rules)
    if not src.osm_tags and rules is None:
        msg = (
            f"{_where(src)}: an OSM file needs `osm_tags` to pick the features of this layer. "
            'Fix: add for example `osm_tags = { amenity = "fire_station" }`, or '
            '`category_rules = "osm_hazards"` for hazard sources.'
        )
        raise InputError(msg)
    assert src.path is not None
    tags = src.osm_tags or (rules.tag_spec if rules is not None else {})
    gdf = read_osm_features(src.path, tags)
    if rules is not None:
        gdf = classify_hazards(gdf, osm_hazards=rules, keep_unmatched=bool(src.osm_tags))
    if gdf.empty:
        what = f"osm_tags {dict(src.osm_tags)}" if src.osm_tags else f"the rules of `{src.category_rules}`"
        msg = (
            f"{_where(src)}: no feature of the file matches {what}. Fix: check the "
            "tags against the file (for example with `osmium tags-filter`), correct `osm_tags`, "
            "or leave the layer out of the scenario if it is optional."
        )
        raise InputError(msg)
    if "id" not in gdf.columns and src.id is None and "osm_id" in gdf.columns:
        gdf = gdf.assign(id=gdf["osm_type"].str[0] + gdf["osm_id"].astype(str))
    return gdf


def apply_options(gdf: gpd.GeoDataFrame, src: LayerSource) -> gpd.GeoDataFrame:
    """Apply ``rename``, ``id``, ``values``, ``defaults``, ``crs`` and ``coords`` to ``gdf``."""
    gdf = gdf.copy()
    missing = [c for c in src.rename if c not in gdf.columns]
    if missing:
        msg = (
            f"{_where(src)}: `rename` names column(s) {missing} that the file does not have "
            f"(it has {[c for c in gdf.columns if c != gdf.geometry.name]}). Fix: correct `rename`."
        )
        raise InputError(msg)
    gdf = gdf.rename(columns=dict(src.rename))
    if src.id is not None:
        if src.id not in gdf.columns:
            msg = f"{_where(src)}: `id = {src.id!r}` is not a column. Fix: name an existing column."
            raise InputError(msg)
        gdf["id"] = gdf[src.id]
    for column, mapping in src.values.items():
        if column in gdf.columns:
            gdf[column] = gdf[column].map(lambda v, m=mapping: m.get(v, v))
    for column, value in src.defaults.items():
        if column not in gdf.columns:
            gdf[column] = value
        else:
            gdf[column] = gdf[column].where(gdf[column].notna(), value)
    if src.crs is not None:
        gdf = gdf.set_crs(src.crs, allow_override=True)
    if src.coords != "wgs84":
        gdf = convert_chinese_coordinates(gdf, src.coords, where=_where(src))
    return to_points(gdf, src.point_mode, where=_where(src))


def to_points(gdf: gpd.GeoDataFrame, mode: str, *, where: str = "input") -> gpd.GeoDataFrame:
    """Turn polygons and lines into points: ``representative``, ``centroid`` or ``keep``.

    Examples
    --------
    >>> from shapely import box
    >>> g = gpd.GeoDataFrame(geometry=[box(0, 0, 2, 2)], crs=32649)
    >>> to_points(g, "centroid").geometry.iloc[0].wkt
    'POINT (1 1)'
    """
    if mode not in POINT_MODES:
        msg = f"{where}: `points = {mode!r}` is unknown. Fix: use one of {list(POINT_MODES)}."
        raise InputError(msg)
    if mode == "keep" or gdf.empty:
        return gdf
    geoms = gdf.geometry
    change = ~geoms.isna() & ~geoms.geom_type.isin(["Point", "MultiPoint"])
    if not change.any():
        return gdf
    out = gdf.copy()
    part = geoms[change].to_numpy()
    points = shapely.point_on_surface(part) if mode == "representative" else shapely.centroid(part)
    out.loc[change, out.geometry.name] = gpd.GeoSeries(points, index=geoms.index[change], crs=gdf.crs)
    log.info("%s: %d polygons or lines turned into points (%s)", where, int(change.sum()), mode)
    return out


def convert_chinese_coordinates(
    gdf: gpd.GeoDataFrame,
    system: str,
    *,
    where: str = "input",
) -> gpd.GeoDataFrame:
    """Convert geometries in GCJ-02 or BD-09 longitude/latitude to WGS84 (EPSG:4326).

    Examples
    --------
    >>> from shapely import Point
    >>> g = gpd.GeoDataFrame(geometry=[Point(116.410244, 39.916404)], crs=4326)
    >>> p = convert_chinese_coordinates(g, "gcj02").geometry[0]
    >>> print(f"{p.x:.4f} {p.y:.4f}")
    116.4040 39.9150
    """
    if gdf.crs is None or not gdf.crs.is_geographic:
        name = gdf.crs.to_string() if gdf.crs is not None else "no CRS"
        msg = (
            f'{where}: `coords = "{system}"` needs longitude/latitude in degrees, but the layer '
            f'is in {name}. Fix: set `crs = "EPSG:4326"` (GCJ-02 and BD-09 are offsets of it).'
        )
        raise CRSError(msg)

    def convert(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lon, lat = _coords.to_wgs84(xy[:, 0], xy[:, 1], system)
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out[gdf.geometry.name] = shapely.transform(np.asarray(gdf.geometry.array), convert)
    return out.set_crs("EPSG:4326", allow_override=True)
