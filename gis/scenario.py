"""Scenarios: the layers of one study, loaded, validated and projected.

A scenario is either one GeoPackage whose layers carry the standard names of
:mod:`gis.schema`, or a TOML file that maps each layer to a file::

    [scenario]
    name = "Chengdu centre"
    # metric_crs = "EPSG:32648"   # default: the local UTM zone

    [layers.roads]
    path = "chengdu_osm.osm.bz2"          # OSM XML/PBF, a line layer, or place/bbox online

    [layers.fire_stations]
    path = "chengdu_osm.osm.bz2"
    osm_tags = { amenity = "fire_station" }
    defaults = { grade = "grade1" }

    [layers.hazards]
    path = "hazards.csv"                  # columns 经度/纬度 or lon/lat
    coords = "gcj02"                      # AMap coordinates, converted to WGS84
    rename = { "名称" = "name", "类别" = "category" }
    values = { category = { "危化品" = "hazardous_chemicals" } }

Every layer is validated (all problems reported together, see
:mod:`gis.validate`) and reprojected to one local metric CRS.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from ._checks import population_notes, roads_extent, swapped_problems
from .atomic import atomic_path
from .crs import local_metric_crs
from .errors import InputError, Problem, ScenarioError
from .io import LayerSource, has_suffix, read_layer
from .schema import LAYERS, RASTER_LAYERS, RASTER_SUFFIXES
from .tables import TableOverrides, read_toml
from .validate import normalise_layer, validate_layers

if TYPE_CHECKING:
    from .network.graph import RoadGraph

__all__ = [
    "RoadsSource",
    "Scenario",
    "load_scenario",
    "scenario_from_layers",
    "scenario_table",
    "write_scenario",
]

log = logging.getLogger(__name__)

METADATA_LAYER = "metadata"
_SCENARIO_KEYS = {"name", "metric_crs", "synthetic", "description", "notes", "lang"}
#: GeoPackage metadata key holding the scenario notes (a JSON list of strings).
NOTES_KEY = "notes"


@dataclass(frozen=True)
class RoadsSource:
    """Where the road network of a scenario comes from.

    ``kind`` is ``"layer"`` (the ``roads`` line layer), ``"osm"`` (an OSM XML/PBF
    file at ``path``) or ``"query"`` (osmnx online, by ``place`` or ``bbox``).
    """

    kind: str
    path: Path | None = None
    file_layer: str | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: layers in one metric CRS, plus where they came from.

    Attributes
    ----------
    name
        Human name; synthetic scenarios say so in it.
    layers
        ``{layer name: GeoDataFrame}`` in :attr:`crs`, indexed by ``id``.
    crs
        The local metric CRS every layer is in.
    roads
        How to build the road network (see :func:`scenario_graph`).
    source
        The GeoPackage or TOML the scenario was read from.
    files
        ``{layer name: file it was read from}``.
    synthetic
        True for generated data (the demo city); every output says so.
    metadata
        Free key/value pairs (seed, generator version...).
    notes
        What a reader of any output must know about the data: estimated populations,
        defaults filled in, layers that are missing and what stands in for them. Every
        output of the pipeline repeats them.
    rasters
        ``{raster layer: file}`` (:data:`gis.schema.RASTER_LAYERS`): a ``population`` raster
        gives the residents of every community and area unit the risk model scores.
    """

    name: str
    layers: Mapping[str, gpd.GeoDataFrame]
    crs: pyproj.CRS
    roads: RoadsSource
    source: Path | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    synthetic: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    rasters: Mapping[str, Path] = field(default_factory=dict)

    def __getitem__(self, layer: str) -> gpd.GeoDataFrame:
        return self.layer(layer)

    def __contains__(self, layer: object) -> bool:
        return layer in self.layers

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """Return layer ``name``, or raise an :class:`InputError` saying how to add it."""
        try:
            return self.layers[name]
        except KeyError:
            where = f"`{self.source}`" if self.source else "the scenario"
            msg = (
                f"{where} has no layer `{name}` (it has {sorted(self.layers)}). "
                f"Fix: add `[layers.{name}]` to the scenario TOML or a `{name}` layer to the GeoPackage."
            )
            raise InputError(msg) from None

    @property
    def label(self) -> str:
        """The name, marked ``(synthetic)`` for generated data."""
        if self.synthetic and "synthetic" not in self.name.lower():
            return f"{self.name} (synthetic)"
        return self.name

    def summary(self) -> pd.DataFrame:
        """One row per layer: feature count and source file."""
        rows = [
            {"layer": name, "features": len(gdf), "file": self.files.get(name, "")}
            for name, gdf in self.layers.items()
        ]
        return pd.DataFrame(rows).set_index("layer")


def scenario_table(scenario: Any, name: str) -> tuple[Any, Path] | None:
    """A top-level table of the scenario's TOML (``[register]``, ``[natural_hazards]`` ...) and its path.

    None when the scenario was not loaded from a TOML or the TOML has no such table. The table is
    returned as written (the caller checks it and names ``[name]`` of the TOML in its messages).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> scenario_table(SimpleNamespace(source=Path("city.gpkg")), "register") is None
    True
    """
    src = getattr(scenario, "source", None)
    if src is None or Path(src).suffix.lower() != ".toml":
        return None
    table = read_toml(src).get(name)
    return None if table is None else (table, Path(src))


def load_scenario(
    path: str | Path,
    *,
    metric_crs: pyproj.CRS | str | int | None = None,
) -> Scenario:
    """Load, validate and project a scenario GeoPackage or TOML.

    Parameters
    ----------
    path
        A ``.gpkg`` with standard layer names, or a ``.toml`` mapping layers to files.
    metric_crs
        Override the metric CRS (default: TOML ``metric_crs``, else the local UTM zone).

    Raises
    ------
    ScenarioError
        Listing every problem found, each with its file, layer, rows and fix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis.demo import write_demo_scenario
    >>> gpkg = write_demo_scenario(pathlib.Path(tempfile.mkdtemp()) / "demo.gpkg", n_road_nodes=2000)
    >>> sc = load_scenario(gpkg)
    >>> sc.synthetic, sc.crs.to_epsg(), len(sc["fire_stations"])
    (True, 32649, 6)
    """
    path = Path(path)
    if not path.exists():
        msg = f"Scenario `{path}` does not exist. Fix: check the path, or run `riskplan demo` for an example."
        raise InputError(msg)
    if has_suffix(path, (".toml",)):
        return _load_toml(path, metric_crs)
    if has_suffix(path, (".gpkg",)):
        return _load_gpkg(path, metric_crs)
    msg = f"Scenario `{path}` is neither a GeoPackage (.gpkg) nor a TOML (.toml) file. Fix: use one of those."
    raise InputError(msg)


def _read_all(
    sources: list[LayerSource], shown: Mapping[str, str]
) -> tuple[dict[str, gpd.GeoDataFrame], list[Problem]]:
    layers: dict[str, gpd.GeoDataFrame] = {}
    problems: list[Problem] = []
    for src in sources:
        try:
            layers[src.layer] = read_layer(src)
        except InputError as exc:
            problems.append(Problem.from_error(src.layer, exc, file=shown.get(src.layer)))
    return layers, problems


def _finish(
    name: str,
    layers: dict[str, gpd.GeoDataFrame],
    files: dict[str, str],
    roads: RoadsSource,
    problems: list[Problem],
    *,
    source: Path,
    metric_crs: Any,
    synthetic: bool,
    metadata: Mapping[str, str],
    notes: tuple[str, ...] = (),
    rasters: Mapping[str, Path] | None = None,
) -> Scenario:
    required = [n for n, s in LAYERS.items() if s.required and not (n == "roads" and roads.kind != "layer")]
    problems += validate_layers(
        layers, files, required=[r for r in required if r not in {p.layer for p in problems}]
    )
    extent = None
    if not problems:
        extent = roads_extent(layers, roads.path if roads.kind == "osm" else None)
        problems += swapped_problems(layers, files, extent)
    if problems:
        raise ScenarioError.from_problems(problems, str(source))
    layers = {n: normalise_layer(g, n) for n, g in layers.items()}
    if metric_crs is not None:
        crs = pyproj.CRS.from_user_input(metric_crs)
    elif extent is not None:  # the zone of the road network, which every analysis runs on
        crs = local_metric_crs(gpd.GeoSeries([extent], crs=4326))
    else:
        union = pd.concat([g.geometry.to_crs(4326) for g in layers.values()])
        crs = local_metric_crs(gpd.GeoSeries(union, crs=4326))
    projected = {n: g if pyproj.CRS(g.crs).equals(crs) else g.to_crs(crs) for n, g in layers.items()}
    if "communities" in projected:
        notes = (*notes, *population_notes(projected["communities"]))
    for note in notes:
        log.info("scenario %s: %s", name, note)
    log.info("loaded scenario %s: %s", name, {n: len(g) for n, g in projected.items()})
    rasters = dict(rasters or {})
    if "population" in rasters:
        notes = (
            *notes,
            f"Residents come from the population raster `{rasters['population'].name}` (people per "
            "pixel, summed into communities and area units with exact pixel fractions).",
        )
    return Scenario(
        name, projected, crs, roads, source, files, synthetic, dict(metadata), tuple(notes), rasters
    )


def _load_toml(path: Path, metric_crs: Any) -> Scenario:
    doc = read_toml(path)
    head = doc.get("scenario", {})
    unknown = sorted(set(head) - _SCENARIO_KEYS)
    tables = doc.get("layers")
    if unknown or not isinstance(tables, Mapping) or not tables:
        msg = (
            f"Scenario TOML `{path}` needs a `[layers.<name>]` table per layer and only the keys "
            f"{sorted(_SCENARIO_KEYS)} under `[scenario]`"
            + (f" (unknown: {unknown})" if unknown else "")
            + ". Fix: see the example in README.md, section Scenario."
        )
        raise InputError(msg)
    rasters, problems = _rasters(tables, path.parent)
    sources = [
        LayerSource.from_toml(name, table, base=path.parent)
        for name, table in tables.items()
        if name not in rasters and name not in RASTER_LAYERS
    ]
    roads = RoadsSource("layer")
    vector_sources = []
    for src in sources:
        if src.layer == "roads" and (src.place or src.bbox):
            roads = RoadsSource("query", place=src.place, bbox=src.bbox)
        elif src.layer == "roads" and src.is_osm:
            roads = RoadsSource("osm", path=src.path)
        else:
            vector_sources.append(src)
            if src.layer == "roads":
                roads = RoadsSource("layer", path=src.path, file_layer=src.file_layer)
    files = {s.layer: str(s.path) for s in sources if s.path is not None}
    layers, read_problems = _read_all(vector_sources, files)
    problems += read_problems
    if roads.kind == "osm" and roads.path is not None and not roads.path.exists():
        problems.append(Problem("roads", "the OSM file does not exist", "check `path`", file=str(roads.path)))
    elif roads.kind == "osm" and roads.path is not None:
        from .osm import has_drivable_way

        try:
            drivable = has_drivable_way(roads.path)
        except InputError as exc:
            problems.append(Problem.from_error("roads", exc, file=str(roads.path)))
        else:
            if not drivable:
                problems.append(
                    Problem(
                        "roads",
                        "the OSM file holds no drivable road (no way with a `highway` class that "
                        "gis/data/road_speeds.toml marks drivable)",
                        "use an extract that covers the city's streets, for example cut with "
                        "`osmium extract` from a Geofabrik download",
                        file=str(roads.path),
                    )
                )
    return _finish(
        head.get("name", path.stem),
        layers,
        files,
        roads,
        problems,
        source=path,
        metric_crs=metric_crs or head.get("metric_crs"),
        synthetic=bool(head.get("synthetic", False)),
        metadata={"description": str(head.get("description", ""))},
        notes=_notes(head.get("notes", []), path),
        rasters=rasters,
    )


def _rasters(tables: Mapping[str, Any], base: Path) -> tuple[dict[str, Path], list[Problem]]:
    """The raster layers of a scenario TOML (``[layers.population] path = "pop.tif"``), checked."""
    rasters: dict[str, Path] = {}
    problems: list[Problem] = []
    for name in RASTER_LAYERS:
        table = tables.get(name)
        if table is None:
            continue
        table = {"path": table} if isinstance(table, str) else dict(table)
        unknown = sorted(set(table) - {"path"})
        raw = table.get("path")
        if unknown or not isinstance(raw, str):
            what = f"unknown option(s) {unknown}" if unknown else "no `path`"
            problems.append(Problem(name, f"{what}", 'give only `path = "people_per_pixel.tif"`'))
            continue
        file = (base / raw).resolve()
        if not has_suffix(file, RASTER_SUFFIXES):
            problems.append(
                Problem(
                    name,
                    "not a raster file",
                    f"give a GeoTIFF ({', '.join(RASTER_SUFFIXES)})",
                    file=str(file),
                )
            )
            continue
        from .population import raster_info

        try:
            raster_info(file)
        except InputError as exc:
            problems.append(Problem.from_error(name, exc, file=str(file)))
            continue
        rasters[name] = file
    return rasters, problems


def _load_gpkg(path: Path, metric_crs: Any) -> Scenario:
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:
        msg = f"Scenario `{path}` cannot be opened as a GeoPackage ({exc}). Fix: check the file."
        raise InputError(msg) from None
    metadata: dict[str, str] = {}
    if METADATA_LAYER in names:
        table = pyogrio.read_dataframe(path, layer=METADATA_LAYER, read_geometry=False)
        metadata = dict(zip(table["key"].astype(str), table["value"].astype(str), strict=True))
    # layer_styles: the QGIS styles riskplan embeds in its GeoPackages (maps.qgis_styles), or an analyst's
    unknown = [n for n in names if n not in LAYERS and n not in (METADATA_LAYER, "layer_styles")]
    if unknown:
        log.warning("scenario %s: ignoring layers %s (not riskplan layer names)", path, unknown)
    sources = [LayerSource(n, path, file_layer=n) for n in names if n in LAYERS]
    files = {s.layer: str(path) for s in sources}
    layers, problems = _read_all(sources, files)
    return _finish(
        metadata.get("name", path.stem),
        layers,
        files,
        RoadsSource("layer", path=path, file_layer="roads"),
        problems,
        source=path,
        metric_crs=metric_crs or metadata.get("metric_crs"),
        synthetic=metadata.get("synthetic", "false").lower() == "true",
        metadata=metadata,
        notes=_notes(json.loads(metadata.get(NOTES_KEY) or "[]"), path),
    )


def scenario_from_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    name: str,
    source: str,
    metric_crs: pyproj.CRS | str | int | None = None,
    synthetic: bool = False,
    metadata: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
) -> Scenario:
    """Validate and project layers held in memory (read from a database) as :func:`load_scenario` does.

    ``source`` names where the layers came from in every message (a database table, say); the
    scenario has no file (:attr:`Scenario.source` is None) and builds its roads from the
    ``roads`` layer.

    Raises
    ------
    ScenarioError
        Listing every problem found, as for a GeoPackage.

    Examples
    --------
    >>> from gis.demo import demo_city
    >>> city = demo_city(n_road_nodes=2000)
    >>> sc = scenario_from_layers(city, name="demo", source="memory", synthetic=True)
    >>> sc.crs.to_epsg(), sc.source is None
    (32649, True)
    """
    files = dict.fromkeys(layers, source)
    scenario = _finish(
        name,
        dict(layers),
        files,
        RoadsSource("layer", file_layer="roads"),
        [],
        source=Path(source),
        metric_crs=metric_crs,
        synthetic=synthetic,
        metadata=dict(metadata or {}),
        notes=notes,
    )
    return replace(scenario, source=None)


def _notes(value: object, path: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f'Scenario `{path}`: `notes` must be a list of strings. Fix: write `notes = ["..."]`.'
        raise InputError(msg)
    return tuple(value)


def write_scenario(
    layers: Scenario | Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    metadata: Mapping[str, object] | None = None,
) -> Path:
    """Write layers (or a :class:`Scenario`) to one GeoPackage, atomically.

    A ``metadata`` table of key/value rows records the name, whether the data is
    synthetic and anything else given.
    """
    path = Path(path)
    meta: dict[str, str] = {}
    if isinstance(layers, Scenario):
        meta |= dict(layers.metadata) | {
            "name": layers.name,
            "synthetic": str(layers.synthetic).lower(),
        }
        if layers.notes:
            meta[NOTES_KEY] = json.dumps(list(layers.notes), ensure_ascii=False)
        layers = layers.layers
    meta |= {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (metadata or {}).items()}
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            out = gdf.reset_index(drop=True)
            out.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        table = pd.DataFrame({"key": list(meta), "value": list(meta.values())})
        pyogrio.write_dataframe(table, tmp, layer=METADATA_LAYER, driver="GPKG")
    return path


def scenario_graph(
    scenario: Scenario,
    *,
    road_speeds: TableOverrides = None,
    cache: bool = True,
) -> RoadGraph:
    """Build (or fetch from the cache) the routable road graph of ``scenario``, in its metric CRS.

    The cache key covers the road data itself (geometries and attributes as loaded, or the
    OSM file's contents), the speed table and the CRS, so any change rebuilds the graph.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis.demo import write_demo_scenario
    >>> gpkg = pathlib.Path(tempfile.mkdtemp()) / "d.gpkg"
    >>> sc = load_scenario(write_demo_scenario(gpkg, n_road_nodes=2000))
    >>> G = scenario_graph(sc, cache=False)
    >>> G.crs == sc.crs, G.n_nodes > 1500
    (True, True)
    """
    from . import network
    from .network._cache import cached_graph

    roads = scenario.roads
    if roads.kind == "query":
        return network.graph_from_query(
            place=roads.place, bbox=roads.bbox, road_speeds=road_speeds, crs=scenario.crs
        )
    if roads.kind == "osm":
        assert roads.path is not None
        return network.graph_from_file(roads.path, road_speeds=road_speeds, cache=cache, crs=scenario.crs)
    lines = scenario.layer("roads")
    table = network.speed_table(road_speeds)

    def build() -> RoadGraph:
        return network.graph_from_lines(
            lines, road_speeds=table, source=str(scenario.source), crs=scenario.crs
        )

    if not cache:
        return build()
    key: dict[str, str | bytes] = {
        "roads": _frame_digest(lines),
        "speeds": json.dumps(table, sort_keys=True),
        "crs": scenario.crs.to_wkt(),
    }
    return cached_graph(key, build)


def _frame_digest(gdf: gpd.GeoDataFrame) -> bytes:
    """A digest of a layer's geometries and attributes, for cache keys."""
    h = hashlib.sha256(b"".join(shapely.to_wkb(np.asarray(gdf.geometry.array))))
    attributes = gdf.drop(columns=gdf.geometry.name)
    h.update(pd.util.hash_pandas_object(attributes.astype(str), index=False).to_numpy().tobytes())
    h.update(",".join(map(str, attributes.columns)).encode())
    return h.digest()
