"""What changes in a what-if: closed roads, stations out of service, temporary stations.

A :class:`ScenarioChange` closes roads by edge position (the index of
:meth:`gis.network.RoadGraph.edges_gdf`), by OSM way id, by street name (a bridge) or by area
(a flooded polygon: every edge whose line intersects it, both directions), takes stations out
of service and adds temporary stations. :func:`read_change` reads one from a file: a polygon
layer (GeoJSON, GeoPackage, Shapefile), a CSV of ``edge`` / ``way_id`` / ``name`` rows, or a TOML
change file that can do all of it::

    crs = "EPSG:4326"                   # of the temporary stations and WKT areas below
    [close]
    edges = [120, 121]
    ways = [245776112]
    names = ["Jianshe Bridge"]
    areas = "flood_2020.geojson"        # a polygon layer, relative to this file
    areas_wkt = ["POLYGON ((...))"]
    [stations]
    out = ["FS3"]
    [[stations.temporary]]
    id = "T1"
    x = 112.55
    y = 37.86

Every check names the file, the rows and the fix (:class:`gis.InputError`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gis.errors import CRSError, InputError
from gis.network import MISSING_ID, as_road_graph

if TYPE_CHECKING:
    from gis.network.graph import GraphLike, RoadGraph
    from gis.scenario import Scenario

__all__ = ["ScenarioChange", "read_change", "temporary_stations"]

IntArray = npt.NDArray[np.int64]


def _where(source: str | None) -> str:
    return f" (in `{source}`)" if source else ""


@dataclass(frozen=True, eq=False)
class ScenarioChange:
    """Roads closed, stations out of service and temporary stations: one what-if.

    Attributes
    ----------
    closed_edges
        Edge positions to close (one direction each; close both directions by name, way or area).
    closed_ways
        OSM way ids to close (every edge of the way).
    closed_names
        Street names to close (every edge of that name: a bridge, a tunnel, a street).
    closed_areas
        Polygons (with a CRS) closing every edge whose line intersects them, or None.
    closed_at
        Points (with a CRS) closing the road segment nearest each (both directions between its
        two nodes: a click on the map), or None.
    stations_out
        Ids of stations out of service.
    temporary_stations
        Temporary stations (points with a CRS, indexed by id), or None.
    source
        The file the change came from, for messages.

    Examples
    --------
    >>> ScenarioChange(closed_names=("Jianshe Bridge",), stations_out=("FS2",)).describe()
    'close name Jianshe Bridge; stations out FS2'
    """

    closed_edges: tuple[int, ...] = ()
    closed_ways: tuple[int, ...] = ()
    closed_names: tuple[str, ...] = ()
    closed_areas: gpd.GeoSeries | None = None
    closed_at: gpd.GeoSeries | None = None
    stations_out: tuple[str, ...] = ()
    temporary_stations: gpd.GeoDataFrame | None = None
    source: str | None = None

    def describe(self) -> str:
        """One line saying what changes."""
        parts = []
        if self.closed_edges:
            parts.append(f"close edges {_short(self.closed_edges)}")
        if self.closed_ways:
            parts.append(f"close ways {_short(self.closed_ways)}")
        if self.closed_names:
            parts.append(f"close name {_short(self.closed_names)}")
        if self.closed_areas is not None and len(self.closed_areas):
            parts.append(f"close {len(self.closed_areas)} area(s)")
        if self.closed_at is not None and len(self.closed_at):
            parts.append(f"close the road at {len(self.closed_at)} point(s)")
        if self.stations_out:
            parts.append(f"stations out {_short(self.stations_out)}")
        if self.temporary_stations is not None and len(self.temporary_stations):
            parts.append(f"temporary stations {_short(self.temporary_station_ids())}")
        return "; ".join(parts) or "no change"

    def apply(self, scenario: Scenario, graph: GraphLike) -> tuple[Scenario, RoadGraph]:
        """The scenario with its stations changed and the graph without the closed edges.

        For analyses that rebuild everything anyway (``riskplan coverage --close``: isochrones,
        districts); :func:`planning.what_if` never rebuilds the graph.
        """
        import dataclasses

        g = as_road_graph(graph)
        closed = self.closed_edge_positions(g)
        stations = scenario["fire_stations"]
        self.removed_station_positions(stations.index)
        self.temporary_station_nodes(g)
        stations = stations.drop(index=list(self.stations_out))
        t = self.temporary_stations
        if t is not None and len(t):
            clash = sorted(set(map(str, t.index)) & set(map(str, stations.index)))
            if clash:
                msg = (
                    f"Temporary stations {_short(clash)}{_where(self.source)} "
                    "reuse ids of stations. Fix: rename them."
                )
                raise InputError(msg)
            stations = pd.concat([stations, t.to_crs(stations.crs)])
        if not len(stations):
            msg = (
                f"The change{_where(self.source)} takes every "
                "station out of service. Fix: keep one in service."
            )
            raise InputError(msg)
        changed = dataclasses.replace(scenario, layers={**scenario.layers, "fire_stations": stations})
        return changed, (g.without_edges(closed) if len(closed) else g)

    # ------------------------------------------------------------------------------ roads

    def closed_edge_positions(self, graph: GraphLike) -> IntArray:
        """Positions of every edge the change closes, ascending and unique.

        Raises
        ------
        InputError
            Unknown edges, ways or names; empty areas, areas in no CRS or closing no road.

        Examples
        --------
        With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

        >>> from gis import graph_from_lines
        >>> g = graph_from_lines(city["roads"])
        >>> edges = ScenarioChange(closed_names=("Xinhua Bridge",)).closed_edge_positions(g)
        >>> len(edges) > 0, set(np.asarray(g.name, dtype=object)[edges])
        (True, {'Xinhua Bridge'})
        """
        g = as_road_graph(graph)
        where = _where(self.source)
        parts: list[IntArray] = []
        if self.closed_edges:
            e = np.asarray(self.closed_edges, dtype=np.int64)
            bad = e[(e < 0) | (e >= g.n_edges)]
            if len(bad):
                msg = (
                    f"Edges {_short(bad.tolist())}{where} are not "
                    f"edges of the road graph (0..{g.n_edges - 1}). "
                    "Fix: give edge positions, the index of `graph.edges_gdf()` (the `edge` column of "
                    "`riskplan network` outputs)."
                )
                raise InputError(msg)
            parts.append(e)
        if self.closed_ways:
            ways = np.asarray(self.closed_ways, dtype=np.int64)
            known = np.isin(ways, g.osm_way_id)
            if not known.all():
                has = bool((g.osm_way_id != MISSING_ID).any())
                hint = (
                    "check the ids against the OSM extract the graph was built from"
                    if has
                    else "this graph has no OSM way ids (it was built from a road layer): "
                    "close by edge or name"
                )
                msg = (
                    f"OSM ways {_short(ways[~known].tolist())}{where} are not in the road graph. Fix: {hint}."
                )
                raise InputError(msg)
            parts.append(np.flatnonzero(np.isin(g.osm_way_id, ways)))
        if self.closed_names:
            cats = pd.Index(g.name.categories)
            at = cats.get_indexer(list(self.closed_names))
            if (at < 0).any():
                missing = [n for n, i in zip(self.closed_names, at, strict=True) if i < 0]
                present = [str(c) for c in cats]
                close = sorted({c for n in missing for c in difflib.get_close_matches(n, present, n=3)})
                hint = f" Near: {_short(close)}." if close else ""
                msg = (
                    f"No road of the graph is named {_short(missing)}{where}.{hint} Fix: use a `name` of the "
                    "roads layer exactly as written there."
                )
                raise InputError(msg)
            parts.append(np.flatnonzero(np.isin(np.asarray(g.name.codes), at)))
        if self.closed_areas is not None:
            parts.append(_area_edges(g, self.closed_areas, where))
        if self.closed_at is not None and len(self.closed_at):
            parts.append(_edges_at(g, self.closed_at, where))
        if not parts:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(parts)).astype(np.int64)

    # --------------------------------------------------------------------------- stations

    def removed_station_positions(self, station_ids: pd.Index) -> IntArray:
        """Positions (in ``station_ids``) of the stations out of service."""
        if not self.stations_out:
            return np.zeros(0, np.int64)
        pos = station_ids.get_indexer(list(self.stations_out))
        if (pos < 0).any():
            bad = [s for s, p in zip(self.stations_out, pos, strict=True) if p < 0]
            msg = (
                f"Stations {_short(bad)}{_where(self.source)} are not in the scenario's `fire_stations` "
                f"(it has {_short(station_ids.tolist())}). Fix: use the stations' ids."
            )
            raise InputError(msg)
        return np.unique(pos).astype(np.int64)

    def temporary_station_ids(self) -> list[str]:
        """Ids of the temporary stations."""
        t = self.temporary_stations
        return [] if t is None else [str(i) for i in t.index]

    def temporary_station_nodes(self, graph: GraphLike, *, max_snap_m: float | None = None) -> IntArray:
        """Road-node positions of the temporary stations (snapped as stations are).

        Raises
        ------
        InputError
            A station with no CRS, an empty point, or one beyond the snap limit.
        """
        from .snapping import snap_points

        t = self.temporary_stations
        if t is None or not len(t):
            return np.zeros(0, np.int64)
        where = _where(self.source)
        if t.crs is None:
            msg = (
                f"The temporary stations{where} have no CRS. Fix: "
                'give their coordinates\' CRS (`crs = "EPSG:4326"`).'
            )
            raise CRSError(msg)
        empty = t.geometry.is_empty | t.geometry.isna()
        if empty.any():
            msg = (
                f"Temporary stations {_short(t.index[empty].tolist())}{where} "
                "have no point. Fix: give x and y."
            )
            raise InputError(msg)
        g = as_road_graph(graph)
        snaps = snap_points(g, t, layer="temporary_stations", max_snap_m=max_snap_m)
        if snaps["flagged"].any():
            bad = snaps.index[snaps["flagged"]].tolist()
            msg = (
                f"Temporary stations {_short(bad)}{where} are beyond the snap limit from every road "
                f"(nearest {snaps['snap_distance_m'].max():,.0f} m). Fix: check the coordinates and their "
                "CRS (longitude first), or move the station next to a road."
            )
            raise InputError(msg)
        index = pd.RangeIndex(g.n_nodes) if g.labels is None else pd.Index(g.nodes)
        return np.asarray(index.get_indexer(snaps["node"].tolist()), dtype=np.int64)


def _short(values: Any, n: int = 8) -> str:
    values = list(values)
    shown = ", ".join(str(v) for v in values[:n])
    return shown + (f" ... ({len(values)} in all)" if len(values) > n else "")


def _area_edges(g: Any, areas: gpd.GeoSeries, where: str) -> IntArray:
    if areas.crs is None:
        msg = (
            f"The closed areas{where} have no CRS. Fix: give the polygons' CRS (GeoJSON is EPSG:4326; "
            "`crs` in a TOML change file)."
        )
        raise CRSError(msg)
    geoms = areas.geometry
    empty = geoms.isna() | geoms.is_empty
    if empty.any() or not len(geoms):
        rows = geoms.index[empty].tolist()
        msg = f"The closed areas{where} are empty (rows {_short(rows)}). Fix: draw a polygon with an area."
        raise InputError(msg)
    kinds = set(geoms.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        msg = (
            f"The closed areas{where} hold {sorted(kinds)}; only polygons close roads. "
            "Fix: give Polygon or MultiPolygon features (close a road by edge, way or name)."
        )
        raise InputError(msg)
    if not shapely.is_valid(geoms.to_numpy()).all():
        geoms = gpd.GeoSeries(shapely.make_valid(geoms.to_numpy()), index=geoms.index, crs=geoms.crs)
    local = geoms.to_crs(g.crs).to_numpy()
    with np.errstate(invalid="ignore"):  # coordinates beyond the CRS's area project to inf
        zero = shapely.area(local) <= 0
    if zero.any():
        msg = (
            f"The closed areas{where} rows {_short(geoms.index[zero].tolist())} "
            "have no area. Fix: draw a polygon."
        )
        raise InputError(msg)
    _, hit = g.edge_tree().query(local, predicate="intersects")
    if not len(hit):
        bounds = shapely.bounds(shapely.multipoints(g.node_xy))
        area_crs = pyproj.CRS(areas.crs).to_string()
        msg = (
            f"The closed areas{where} (in {area_crs}) close no road: none of the graph's edges intersects "
            f"them (graph extent {bounds.round(0).tolist()} in {g.crs.to_string() if g.crs else 'no CRS'}). "
            "Fix: check the areas' CRS (longitude first) and that they lie on the city's roads."
        )
        raise InputError(msg)
    return np.unique(hit).astype(np.int64)


#: How far from a road a point closing "the road here" may be.
CLOSE_AT_MAX_M = 100.0


def _edges_at(g: Any, points: gpd.GeoSeries, where: str) -> IntArray:
    from .travel import lowest_nearest

    if points.crs is None:
        msg = (
            f"The points of roads to close{where} have no CRS. Fix: give their CRS (EPSG:4326 for lon / lat)."
        )
        raise CRSError(msg)
    local = points.to_crs(g.crs).to_numpy()
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(shapely.get_coordinates(local)).all(axis=1) if len(local) else np.zeros(0, bool)
    if len(ok) != len(local) or not ok.all():
        msg = (
            f"Some points of roads to close{where} are empty or "
            "outside the map projection. Fix: give lon / lat."
        )
        raise InputError(msg)
    which, edge, dist = lowest_nearest(g.edge_tree(), local, max_distance=CLOSE_AT_MAX_M)
    if len(which) < len(local):
        missing = sorted(set(range(len(local))) - set(which.tolist()))
        msg = (
            f"Points {_short(points.index[missing].tolist())}{where} "
            f"are more than {CLOSE_AT_MAX_M:.0f} m from "
            "every road. Fix: click on the road to close (longitude first)."
        )
        raise InputError(msg)
    _ = dist
    u, v = g.sources[edge], g.targets[edge]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    key = np.minimum(g.sources, g.targets) * np.int64(g.n_nodes) + np.maximum(g.sources, g.targets)
    return np.flatnonzero(np.isin(key, lo * np.int64(g.n_nodes) + hi)).astype(np.int64)


# ------------------------------------------------------------------------------ files


def read_change(path: str | Path) -> ScenarioChange:
    r"""Read a :class:`ScenarioChange` from a TOML change file, a CSV of roads or a polygon layer.

    Raises
    ------
    InputError
        A missing or unreadable file, unknown keys or columns, no rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "close.csv"
    >>> _ = p.write_text("name\nJianshe Bridge\n")
    >>> read_change(p).closed_names
    ('Jianshe Bridge',)
    """
    path = Path(path)
    if not path.exists():
        msg = f"Change file `{path}` does not exist. Fix: check the path."
        raise InputError(msg)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return _read_toml(path)
    if suffix in (".csv", ".txt"):
        return _read_csv(path)
    if suffix in (".geojson", ".json", ".gpkg", ".shp", ".fgb", ".parquet"):
        return ScenarioChange(closed_areas=_read_areas(path), source=str(path))
    msg = (
        f"Change file `{path}` is neither a TOML change file, a CSV of roads nor a polygon layer. "
        "Fix: give a .toml, .csv, .geojson or .gpkg file."
    )
    raise InputError(msg)


def _read_areas(path: Path) -> gpd.GeoSeries:
    try:
        gdf = gpd.read_parquet(path) if path.suffix.lower() == ".parquet" else gpd.read_file(path)
    except Exception as exc:
        msg = f"Polygon layer `{path}` cannot be read: {exc}. Fix: give a valid GeoJSON or GeoPackage."
        raise InputError(msg) from None
    if not len(gdf):
        msg = f"Polygon layer `{path}` has no features. Fix: draw the closed area."
        raise InputError(msg)
    return gdf.geometry


_CSV_COLUMNS = {
    "edge": ("edge", "edge_id"),
    "way": ("way_id", "osm_way_id", "osmid", "way"),
    "name": ("name",),
}


def _read_csv(path: Path) -> ScenarioChange:
    try:
        table = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"CSV `{path}` cannot be read: {exc}. Fix: give a UTF-8 CSV with a header row."
        raise InputError(msg) from None
    cols = {c.strip().lower(): c for c in table.columns}
    found = {k: next((cols[n] for n in names if n in cols), None) for k, names in _CSV_COLUMNS.items()}
    if not any(found.values()):
        msg = (
            f"CSV `{path}` has columns {list(table.columns)}, none of `edge`, `way_id`, `name`. "
            "Fix: name the column of edge positions `edge`, of OSM way ids `way_id`, of street names `name`."
        )
        raise InputError(msg)
    if not len(table):
        msg = f"CSV `{path}` has no rows. Fix: list the roads to close, one a row."
        raise InputError(msg)
    out: dict[str, tuple[Any, ...]] = {}
    for key, column in found.items():
        if column is None:
            continue
        values = table[column].dropna().str.strip()
        values = values[values != ""]
        if key == "name":
            out[key] = tuple(values.tolist())
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() | (numbers != numbers.round())
        if bad.any():
            rows = (values.index[bad] + 2).tolist()  # header row 1
            msg = (
                f"CSV `{path}` column `{column}` rows {_short(rows)} "
                "are not whole numbers. Fix: give integer ids."
            )
            raise InputError(msg)
        out[key] = tuple(int(v) for v in numbers)
    return ScenarioChange(
        closed_edges=out.get("edge", ()),
        closed_ways=out.get("way", ()),
        closed_names=out.get("name", ()),
        source=str(path),
    )


def _read_toml(path: Path) -> ScenarioChange:
    from gis.tables import read_toml

    doc = read_toml(path)
    unknown = set(doc) - {"crs", "close", "stations"}
    close = doc.get("close", {})
    stations = doc.get("stations", {})
    if not isinstance(close, dict) or not isinstance(stations, dict):
        msg = (
            f"Change file `{path}`: `close` and `stations` must "
            "be tables. Fix: write `[close]` / `[stations]`."
        )
        raise InputError(msg)
    unknown |= {f"close.{k}" for k in set(close) - {"edges", "ways", "names", "areas", "areas_wkt"}}
    unknown |= {f"stations.{k}" for k in set(stations) - {"out", "temporary"}}
    if unknown:
        msg = (
            f"Change file `{path}` has unknown keys {sorted(unknown)}. "
            "Fix: use `crs`, `[close]` edges / ways / "
            "names / areas / areas_wkt and `[stations]` out / temporary."
        )
        raise InputError(msg)
    crs = doc.get("crs")
    try:
        edges = tuple(int(v) for v in close.get("edges", []))
        ways = tuple(int(v) for v in close.get("ways", []))
    except (TypeError, ValueError):
        msg = (
            f"Change file `{path}`: `close.edges` and `close.ways` "
            "must be lists of integers. Fix: write [12, 13]."
        )
        raise InputError(msg) from None
    names = tuple(str(v) for v in close.get("names", []))
    areas: list[gpd.GeoSeries] = []
    if "areas" in close:
        areas.append(_read_areas((path.parent / str(close["areas"])).resolve()))
    if close.get("areas_wkt"):
        if crs is None:
            msg = (
                f"Change file `{path}`: `close.areas_wkt` needs "
                '`crs`. Fix: add `crs = "EPSG:4326"` at the top.'
            )
            raise InputError(msg)
        try:
            polys = shapely.from_wkt(list(close["areas_wkt"]))
        except shapely.errors.GEOSException as exc:
            msg = (
                f"Change file `{path}`: `close.areas_wkt` is not WKT: {exc}. Fix: write POLYGON ((x y, ...))."
            )
            raise InputError(msg) from None
        areas.append(gpd.GeoSeries(polys, crs=crs))
    closed_areas = None
    if areas:
        target = areas[0].crs
        closed_areas = gpd.GeoSeries(
            pd.concat([a.to_crs(target) for a in areas], ignore_index=True), crs=target
        )
    temporary = None
    rows = stations.get("temporary", [])
    if rows:
        temporary = temporary_stations(rows, crs, where=f"Change file `{path}`")
    return ScenarioChange(
        closed_edges=edges,
        closed_ways=ways,
        closed_names=names,
        closed_areas=closed_areas,
        stations_out=tuple(str(s) for s in stations.get("out", [])),
        temporary_stations=temporary,
        source=str(path),
    )


def temporary_stations(
    rows: Any, crs: Any, *, where: str, key: str = "stations.temporary", crs_at: str = "at the top"
) -> gpd.GeoDataFrame:
    """Temporary stations from rows of ``x``, ``y`` (and ``id``, default ``T1``, ``T2`` ...) in ``crs``.

    ``where`` names the file or table in the messages, ``key`` the rows' key there and
    ``crs_at`` where its ``crs`` goes.

    Raises
    ------
    InputError
        No ``crs``, a row without numbers ``x`` and ``y``, ids that repeat, or a ``crs`` pyproj
        does not know, naming ``where`` and the fix.

    Examples
    --------
    >>> temporary_stations([{"x": 112.5, "y": 37.8}], "EPSG:4326", where="t").index.tolist()
    ['T1']
    """
    if crs is None:
        msg = f'{where}: `{key}` needs `crs`. Fix: add `crs = "EPSG:4326"` {crs_at}.'
        raise InputError(msg)
    ids, xs, ys = [], [], []
    for i, row in enumerate(rows):
        try:
            xs.append(float(row["x"]))
            ys.append(float(row["y"]))
        except (KeyError, TypeError, ValueError):
            msg = f"{where}: temporary station {i + 1} needs numbers `x` and `y`. Fix: add them."
            raise InputError(msg) from None
        ids.append(str(row.get("id", f"T{i + 1}")))
    if len(set(ids)) < len(ids):
        msg = f"{where}: temporary station ids repeat ({_short(ids)}). Fix: give each its own id."
        raise InputError(msg)
    try:
        return gpd.GeoDataFrame(
            {"id": ids}, geometry=gpd.points_from_xy(xs, ys), crs=crs, index=pd.Index(ids, name="id")
        )
    except Exception as exc:  # pyproj's CRSError for a CRS it does not know
        msg = f"{where}: `crs` {crs!r} is not a coordinate reference system ({exc}). Fix: write EPSG:4326."
        raise InputError(msg) from None
