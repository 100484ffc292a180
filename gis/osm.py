"""Read OpenStreetMap files offline: road ways for the graph, tagged features for layers.

The readers use pyosmium, which reads OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) and PBF
(``.pbf``, ``.osm.pbf``) files, streaming, with node locations cached in memory. Results are
GeoDataFrames in EPSG:4326.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
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
    "OsmWayArrays",
    "has_drivable_way",
    "is_osm_file",
    "read_osm_features",
    "read_osm_layers",
    "read_osm_way_arrays",
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
    dropped and the way is split there, so every vertex of a line has a location. The lines
    are those of :func:`read_osm_way_arrays`, as shapely geometries.

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
    return read_osm_way_arrays(path, keys=keys).frame()


@dataclass(frozen=True)
class OsmWayArrays:
    """Way lines read from an OSM file as packed arrays (GeoArrow-style), one row per line.

    A line is a way, or a part of a way cut where its nodes are missing from the file. Line
    ``i`` has the vertices ``offsets[i]:offsets[i + 1]`` of ``lon``, ``lat`` and ``node_id``.

    Attributes
    ----------
    lon, lat
        Vertex coordinates in degrees (EPSG:4326), exactly as pyosmium gives them.
    node_id
        OSM node id of each vertex.
    offsets
        Start of each line's vertices, and the end of the last (``n_lines + 1`` values).
    osm_id
        OSM way id of each line.
    tags
        ``{key: object array}`` of tag values (None where absent), one per :data:`WAY_COLUMNS`.
    n_cut
        Way nodes missing from the file (where ways were cut).
    """

    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    node_id: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    osm_id: npt.NDArray[np.int64]
    tags: Mapping[str, npt.NDArray[np.object_]]
    n_cut: int = 0

    def __len__(self) -> int:
        return len(self.osm_id)

    @property
    def counts(self) -> npt.NDArray[np.int64]:
        """Number of vertices of each line."""
        return np.diff(self.offsets)

    def frame(self) -> gpd.GeoDataFrame:
        """The lines as a GeoDataFrame (the columns of :func:`read_osm_ways`)."""
        counts = self.counts
        xy = np.column_stack([self.lon, self.lat])
        geometry = shapely.linestrings(xy, indices=np.repeat(np.arange(len(counts)), counts))
        columns: dict[str, Any] = {"osm_id": self.osm_id}
        columns.update({c: list(self.tags[c]) for c in WAY_COLUMNS})
        gdf = gpd.GeoDataFrame(columns, geometry=geometry, crs="EPSG:4326")
        gdf["osm_id"] = gdf["osm_id"].astype(np.int64)
        gdf["node_ids"] = np.split(self.node_id, self.offsets[1:-1]) if len(counts) else []
        return gdf


#: Largest valid fixed-point coordinates of libosmium (degrees x 1e7).
_MAX_X, _MAX_Y = 1_800_000_000, 900_000_000


def read_osm_way_arrays(path: str | Path, *, keys: Sequence[str] = ("highway",)) -> OsmWayArrays:
    """Read the ways that carry any of ``keys`` as packed arrays, streaming, without geometries.

    pyosmium streams the file with node locations cached; each way gives its node ids, its
    nodes' fixed-point locations and its tags, and the lines are cut where nodes are missing
    from the file, in numpy. A part left with one vertex is dropped. The coordinates are
    libosmium's own (``Location.lon`` / ``lat``: the fixed-point value / 1e7), bit for bit.

    Raises
    ------
    InputError
        When the file is missing, not an OSM file, or corrupt.

    Examples
    --------
    >>> ways = read_osm_way_arrays("tests/fixtures/tiny_city.osm.xml")
    >>> len(ways), ways.offsets[:3].tolist(), ways.tags["highway"][0]
    (9, [0, 5, 8], 'residential')
    """
    path = _check_file(path)
    xs, ys, refs = array("i"), array("i"), array("q")
    way_ids, lengths = array("q"), array("q")
    values: list[list[str | None]] = []
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
            values.append([tags.get(c) for c in WAY_COLUMNS])
            way_ids.append(way.id)
            n = 0
            for ref in way.nodes:
                loc = ref.location
                xs.append(loc.x)
                ys.append(loc.y)
                refs.append(ref.ref)
                n += 1
            lengths.append(n)
    except RuntimeError as exc:
        raise _corrupt(path, exc) from exc
    ways = _cut_ways(xs, ys, refs, way_ids=way_ids, lengths=lengths, values=values)
    if ways.n_cut:
        log.info("`%s`: %d way nodes are missing from the file; ways were cut there", path, ways.n_cut)
    log.debug("`%s`: read %d ways", path, len(ways))
    return ways


def _cut_ways(
    xs: array[int],
    ys: array[int],
    refs: array[int],
    *,
    way_ids: array[int],
    lengths: array[int],
    values: list[list[str | None]],
) -> OsmWayArrays:
    """Cut ways into lines of located vertices (runs of two or more) and pack them."""
    x = np.frombuffer(xs, np.int32) if len(xs) else np.zeros(0, np.int32)
    y = np.frombuffer(ys, np.int32) if len(ys) else np.zeros(0, np.int32)
    node = np.frombuffer(refs, np.int64) if len(refs) else np.zeros(0, np.int64)
    n_nodes = np.frombuffer(lengths, np.int64) if len(lengths) else np.zeros(0, np.int64)
    way_of = np.repeat(np.arange(len(n_nodes)), n_nodes)
    valid = (np.abs(x.astype(np.int64)) <= _MAX_X) & (np.abs(y.astype(np.int64)) <= _MAX_Y)
    # a run starts at a way's first node or after a missing one; runs number the located nodes
    starts = np.ones(len(valid), dtype=bool)
    starts[1:] = (way_of[1:] != way_of[:-1]) | ~valid[:-1]
    run = (np.cumsum(starts & valid) - 1)[valid]
    way_of_run = way_of[valid][np.r_[True, run[1:] != run[:-1]]] if len(run) else way_of[:0]
    size = np.bincount(run, minlength=len(way_of_run)) if len(run) else np.zeros(0, np.int64)
    keep_run = size >= 2
    keep = keep_run[run]
    kept_ways = way_of_run[keep_run]
    offsets = np.zeros(len(kept_ways) + 1, np.int64)
    np.cumsum(size[keep_run], out=offsets[1:])
    column_values = list(zip(*values, strict=True)) if values else [() for _ in WAY_COLUMNS]
    tags = {}
    for name, column in zip(WAY_COLUMNS, column_values, strict=True):
        per_way = np.empty(len(column), dtype=object)
        per_way[:] = column
        tags[name] = per_way[kept_ways]
    return OsmWayArrays(
        lon=x[valid][keep] / 1e7,
        lat=y[valid][keep] / 1e7,
        node_id=node[valid][keep].copy(),
        offsets=offsets,
        osm_id=np.frombuffer(way_ids, np.int64)[kept_ways] if len(way_ids) else np.zeros(0, np.int64),
        tags=tags,
        n_cut=int((~valid).sum()),
    )


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
