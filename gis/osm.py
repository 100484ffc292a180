"""Read OpenStreetMap files offline: road ways for the graph, tagged features for layers.

The readers use pyosmium, which reads OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) and PBF
(``.pbf``, ``.osm.pbf``) files, streaming, with node locations cached in memory. Results are
GeoDataFrames in EPSG:4326.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import osmium
import shapely
from osmium.osm import Way

from . import _osm_features as _features
from .errors import InputError
from .network._speeds import _speeds, speed_table
from .tables import TableOverrides

__all__ = [
    "OSM_SUFFIXES",
    "OsmLayers",
    "has_drivable_way",
    "is_osm_file",
    "read_osm_features",
    "read_osm_layers",
    "read_osm_ways",
]

log = logging.getLogger(__name__)

#: File name endings read by pyosmium (lower case).
OSM_SUFFIXES: tuple[str, ...] = (".osm", ".osm.xml", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf")

#: Way tags copied into the columns of :func:`read_osm_ways`.
WAY_COLUMNS: tuple[str, ...] = ("highway", "oneway", "maxspeed", "name", "junction", "area")

TagSpec = Mapping[str, "str | Collection[str] | bool"]


def is_osm_file(path: str | Path) -> bool:
    """Return True when ``path`` has an OSM XML or PBF file name ending.

    Examples
    --------
    >>> is_osm_file("city.osm.pbf"), is_osm_file("roads.gpkg")
    (True, False)
    """
    name = Path(path).name.lower()
    return name.endswith(OSM_SUFFIXES)


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        msg = (
            f"OSM file `{path}` does not exist. Fix: check the path, or download an extract "
            "(for example from https://download.geofabrik.de) and point to it."
        )
        raise InputError(msg)
    if not is_osm_file(path):
        msg = (
            f"`{path}` is not an OSM file: expected one of {', '.join(OSM_SUFFIXES)}. "
            "Fix: rename it if it is OSM XML or PBF, or read it as a vector layer instead."
        )
        raise InputError(msg)
    return path


def _corrupt(path: Path, exc: Exception) -> InputError:
    msg = (
        f"OSM file `{path}` could not be read ({exc}). It looks truncated or corrupt. "
        "Fix: download the extract again, or check it with `osmium fileinfo -e`."
    )
    return InputError(msg)


def read_osm_ways(
    path: str | Path,
    *,
    keys: Sequence[str] = ("highway",),
) -> gpd.GeoDataFrame:
    """Read the ways that carry any of ``keys`` as lines, with their node ids.

    Vertices whose node is missing from the file (ways cut at the edge of an extract) are
    dropped and the way is split there, so every vertex of a line has a location.

    Parameters
    ----------
    path
        OSM XML or PBF file.
    keys
        Tag keys selecting the ways; a way is read when it has any of them.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per way (or per part of a way cut by missing nodes), in EPSG:4326, with columns
        ``osm_id`` (int), ``highway``, ``oneway``, ``maxspeed``, ``name``, ``junction``,
        ``area`` (tag values or None), ``node_ids`` (an int64 array, one OSM node id per
        vertex, so ways join where they share a node) and ``geometry``.

    Raises
    ------
    InputError
        When the file is missing, not an OSM file, or corrupt.

    Examples
    --------
    >>> ways = read_osm_ways("tests/fixtures/tiny_city.osm.xml")
    >>> ways.loc[ways.osm_id == 101, ["highway", "oneway"]].to_numpy().tolist()
    [['tertiary', 'yes']]
    >>> ways.node_ids.iloc[0].dtype
    dtype('int64')
    """
    path = _check_file(path)
    acc = _Ways()
    n_cut = 0
    fp = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter(*keys))
    )
    try:
        for way in fp:
            if not isinstance(way, Way):
                continue
            tags = way.tags
            values = [tags.get(c) for c in WAY_COLUMNS]
            run: list[int] = []
            for ref in way.nodes:
                loc = ref.location
                if loc.valid():
                    run.append(ref.ref)
                    acc.lons.append(loc.lon)
                    acc.lats.append(loc.lat)
                    continue
                n_cut += 1
                acc.close(run, way.id, values)
                run = []
            acc.close(run, way.id, values)
    except RuntimeError as exc:
        raise _corrupt(path, exc) from exc
    if n_cut:
        log.info("`%s`: %d way nodes are missing from the file; ways were cut there", path, n_cut)
    gdf = acc.frame()
    log.debug("`%s`: read %d ways", path, len(gdf))
    return gdf


@dataclass
class _Ways:
    """Accumulates way runs (located vertices) while a file is read."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in ("osm_id", *WAY_COLUMNS)})
    node_ids: list[list[int]] = field(default_factory=list)
    lons: list[float] = field(default_factory=list)
    lats: list[float] = field(default_factory=list)

    def close(self, run: list[int], way_id: int, values: list[str | None]) -> None:
        """Store ``run`` as one line, or forget its vertex when it is too short for a line."""
        if len(run) >= 2:
            self.columns["osm_id"].append(way_id)
            for name, value in zip(WAY_COLUMNS, values, strict=True):
                self.columns[name].append(value)
            self.node_ids.append(run)
        elif run:
            del self.lons[-1], self.lats[-1]

    def frame(self) -> gpd.GeoDataFrame:
        xy = np.column_stack([np.asarray(self.lons, np.float64), np.asarray(self.lats, np.float64)])
        counts = np.fromiter((len(r) for r in self.node_ids), np.int64, len(self.node_ids))
        geometry = shapely.linestrings(xy, indices=np.repeat(np.arange(len(counts)), counts))
        flat = np.fromiter((i for r in self.node_ids for i in r), np.int64, int(counts.sum()))
        gdf = gpd.GeoDataFrame(self.columns, geometry=geometry, crs="EPSG:4326")
        gdf["osm_id"] = gdf["osm_id"].astype(np.int64)
        gdf["node_ids"] = np.split(flat, np.cumsum(counts)[:-1]) if len(counts) else []
        return gdf


def _normalise_tags(tags: TagSpec) -> dict[str, frozenset[str] | bool]:
    if not tags:
        msg = "`tags` is empty. Fix: pass at least one tag, for example {'amenity': 'fire_station'}."
        raise InputError(msg)
    out: dict[str, frozenset[str] | bool] = {}
    for key, value in tags.items():
        if isinstance(value, bool):
            out[key] = value
        elif isinstance(value, str):
            out[key] = frozenset([value])
        elif isinstance(value, Iterable):
            out[key] = frozenset(str(v) for v in value)
        else:
            msg = f"`tags[{key!r}]` is {value!r}. Fix: give a string, a list of strings, or True (any value)."
            raise InputError(msg)
    return out


def read_osm_features(path: str | Path, tags: TagSpec) -> gpd.GeoDataFrame:
    """Read the nodes, ways and multipolygon relations matching ``tags``.

    Polygons cut at the edge of the extract are rebuilt from the nodes present (see
    :func:`read_osm_layers`); the frame's ``attrs["repaired"]`` and ``attrs["dropped"]`` list them.

    Parameters
    ----------
    path
        OSM XML or PBF file.
    tags
        ``{key: value}``, ``{key: [values]}`` or ``{key: True}`` (any value). An object is kept
        when it matches any entry, as in :func:`osmnx.features_from_place`.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, sorted by ``osm_type`` then ``osm_id``, with columns ``osm_id`` (int),
        ``osm_type`` (``"node"``, ``"way"`` or ``"relation"``), ``name``, one column per key
        of ``tags``, ``tags`` (every tag as a JSON object) and ``geometry``: points for nodes,
        polygons for closed ways and multipolygon relations, lines for open ways.

    Raises
    ------
    InputError
        When the file is missing, not an OSM file, or corrupt, or ``tags`` is malformed.

    Examples
    --------
    >>> f = read_osm_features("tests/fixtures/tiny_city.osm.xml", {"amenity": ["hospital", "school"]})
    >>> f[["osm_type", "osm_id", "amenity"]].to_numpy().tolist()
    [['node', 905, 'hospital'], ['way', 901, 'hospital'], ['relation', 902, 'school']]
    >>> f.geom_type.tolist()
    ['Point', 'Polygon', 'Polygon']
    """
    layers = read_osm_layers(path, {"features": tags})
    gdf = layers["features"]
    gdf.attrs.update(repaired=list(layers.repaired), dropped=list(layers.dropped))
    log.debug("`%s`: %d features match %s", path, len(gdf), dict(tags))
    return gdf


@dataclass(frozen=True)
class OsmLayers(Mapping[str, gpd.GeoDataFrame]):
    """The frames of :func:`read_osm_layers`, by selection name, and the polygons it repaired.

    Attributes
    ----------
    frames
        ``{selection name: GeoDataFrame}`` (see :func:`read_osm_features` for the columns).
    repaired
        Ids (``w123``, ``r45``) of polygons cut at the edge of the extract (or broken) that
        were rebuilt from the nodes present.
    dropped
        Ids of polygons with too few nodes left to rebuild.
    """

    frames: Mapping[str, gpd.GeoDataFrame]
    repaired: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        return self.frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.frames)

    def __len__(self) -> int:
        return len(self.frames)


def read_osm_layers(
    path: str | Path,
    specs: Mapping[str, TagSpec],
    *,
    lines: Collection[str] = (),
    columns: Sequence[str] = (),
) -> OsmLayers:
    """Read several tag selections from an OSM file in one pass.

    Each selection is read as :func:`read_osm_features` would read it alone; an object that
    matches several selections appears in each. Polygons cut at the edge of the extract are
    not dropped silently: a closed way with missing nodes, an open way whose tags describe
    an area (``building``, ``landuse``, ``amenity``...) and a multipolygon relation with
    missing members are rebuilt from the nodes present (the ring is closed), or dropped when
    fewer than three are left; both are listed in the result and logged as a warning.

    Parameters
    ----------
    path
        OSM XML or PBF file.
    specs
        ``{selection name: tags}``, each ``tags`` as in :func:`read_osm_features`.
    lines
        Selections read as lines: ways only (closed ways as closed lines, never polygons),
        without nodes or relations; for roads, rivers and railways. Their vertices are the
        nodes present in the file.
    columns
        Extra tag keys copied into a column of every frame (besides the selection's keys).

    Returns
    -------
    OsmLayers
        A mapping of selection name to GeoDataFrame, with the ``repaired`` and ``dropped`` ids.

    Raises
    ------
    InputError
        When the file is missing, not an OSM file, or corrupt, or a selection is malformed.

    Examples
    --------
    >>> got = read_osm_layers(
    ...     "tests/fixtures/tiny_city.osm.xml",
    ...     {"stations": {"amenity": "fire_station"}, "roads": {"highway": True}},
    ...     lines=["roads"], columns=["oneway"])
    >>> len(got["stations"]), len(got["roads"]), got["roads"].geom_type.unique().tolist()
    (1, 9, ['LineString'])
    """
    path = _check_file(path)
    if not specs:
        msg = "`specs` is empty. Fix: pass at least one selection, for example {'stations': {...}}."
        raise InputError(msg)
    unknown = sorted(set(lines) - set(specs))
    if unknown:
        msg = f"`lines` names selections {unknown} that `specs` does not have. Fix: use {sorted(specs)}."
        raise InputError(msg)
    table = {name: _normalise_tags(tags) for name, tags in specs.items()}
    try:
        frames, repaired, dropped = _features.read_layers(path, table, lines=lines, columns=columns)
    except RuntimeError as exc:
        raise _corrupt(path, exc) from exc
    return OsmLayers(frames, tuple(repaired), tuple(dropped))


def has_drivable_way(path: str | Path, *, road_speeds: TableOverrides = None) -> bool:
    """True as soon as the file holds one way that the road graph would use.

    A cheap check (no node locations, stops at the first hit) with the graph builder's own
    filter: a ``highway`` class drivable in the speed table, not ``area=yes``, two nodes or more.

    Examples
    --------
    >>> has_drivable_way("tests/fixtures/tiny_city.osm.xml")
    True
    """
    path = _check_file(path)
    table = speed_table(road_speeds)
    known: dict[str, bool] = {}
    fp = osmium.FileProcessor(str(path), osmium.osm.WAY).with_filter(osmium.filter.KeyFilter("highway"))
    try:
        for way in fp:
            if not isinstance(way, Way):
                continue
            tags = way.tags
            highway = tags.get("highway")
            if highway is None or tags.get("area") == "yes" or len(way.nodes) < 2:
                continue
            if highway not in known:
                values = np.array([highway], dtype=object)
                known[highway] = bool(_speeds(values, np.array([None], dtype=object), table)[1][0])
            if known[highway]:
                return True
    except RuntimeError as exc:
        raise _corrupt(path, exc) from exc
    return False
