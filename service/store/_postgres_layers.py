"""GeoDataFrames in and out of PostGIS tables, for :mod:`service.store.postgres` (private).

A layer becomes one table: a ``fid`` identity primary key (QGIS wants one), a column per
attribute and ``geom``, typed with the layer's geometry type and SRID
(``geometry(MultiPolygon, 32649)``), with a GiST index on it. Rows are sent with ``COPY``
(geometries as hex EWKB) and read back in ``fid`` order, so a layer comes back in the order it
was written. Column types: booleans ``boolean``, integers ``bigint``, floats ``double
precision`` (NaN and infinities as NULL, as in a GeoPackage), timestamps ``timestamptz``,
everything else ``text``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gis import InputError

if TYPE_CHECKING:  # psycopg is imported where it is used: the module loads without it
    from psycopg import Cursor

__all__ = ["GEOMETRY", "drop_tables", "read_table", "replace_tables", "table_name", "write_table"]

#: The geometry column of every layer table.
GEOMETRY = "geom"
_PRIMARY_KEY = "fid"
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1

_TYPES = {
    "b": "boolean",
    "i": "bigint",
    "u": "bigint",
    "f": "double precision",
    "M": "timestamptz",
}


def table_name(*parts: str) -> str:
    """``part1__part2`` as a table name, shortened with a digest when over 63 characters.

    Examples
    --------
    >>> table_name("coverage", "units")
    'coverage__units'
    >>> len(table_name("job_" + "a" * 32, "a_rather_long_layer_name_for_a_table"))
    63
    """
    name = "__".join(parts)
    if len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_IDENTIFIER - 11]}_{digest}"


def srid_of(crs: Any) -> int:
    """The EPSG code of ``crs`` as a PostGIS SRID (0 when it has none)."""
    if crs is None:
        return 0
    return pyproj.CRS.from_user_input(crs).to_epsg() or 0


def _typed(geoms: gpd.GeoSeries) -> tuple[str, npt.NDArray[np.object_]]:
    """The column's geometry type and the geometries to store in it.

    One type when every geometry has it (``Point``, ``MultiPolygon``...); single and multi parts
    of one kind are stored as the multi type, as the GeoPackage writer does (so both stores give
    the same geometries back); any other mix is ``Geometry``.
    """
    values = np.asarray(geoms.array)
    kinds = set(geoms.dropna().geom_type.unique())
    multi = {k.removeprefix("Multi") for k in kinds}
    if len(kinds) == 2 and len(multi) == 1 and next(iter(multi)) in _SINGLE:
        single = next(iter(multi))
        kinds = {f"Multi{single}"}
        promote = shapely.get_type_id(values) == _SINGLE[single]
        values = values.copy()
        values[promote] = [_MULTI[single]([g]) for g in values[promote]]
    kind = kinds.pop() if len(kinds) == 1 else "Geometry"
    return (f"{kind}Z" if len(geoms) and bool(geoms.has_z.any()) else kind), values


_SINGLE = {"Point": 0, "LineString": 1, "Polygon": 3}
_MULTI = {"Point": shapely.MultiPoint, "LineString": shapely.MultiLineString, "Polygon": shapely.MultiPolygon}


def _column_type(values: pd.Series) -> str:
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    return _TYPES.get(getattr(dtype, "kind", "O"), "text")


def _cell(value: Any, kind: str) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if kind == "double precision":
        number = float(value)
        return number if np.isfinite(number) else None
    if kind == "bigint":
        return int(value)
    if kind == "boolean":
        return bool(value)
    if kind == "timestamptz":
        return pd.Timestamp(value).to_pydatetime()
    return value if isinstance(value, str) else str(value)


def write_table(
    cur: Cursor[Any], schema: str, table: str, gdf: gpd.GeoDataFrame, *, comment: str | None = None
) -> None:
    """Create ``schema.table`` from ``gdf`` (plain columns, see :func:`gis.atomic.storable`).

    Raises
    ------
    InputError
        A column is called ``fid`` or ``geom`` (the table's own columns), or two columns have
        the same name.
    """
    from psycopg import sql

    geometry = gdf.geometry.name
    columns = [c for c in gdf.columns if c != geometry]
    clash = sorted({str(c) for c in columns} & {_PRIMARY_KEY, GEOMETRY})
    if clash or len({str(c) for c in columns}) != len(columns):
        msg = (
            f"Layer `{table}` has columns {clash or 'with duplicate names'}, which PostGIS tables "
            f"keep for themselves. Fix: rename them before storing the layer."
        )
        raise InputError(msg)
    srid = srid_of(gdf.crs)
    kinds = [_column_type(gdf[c]) for c in columns]
    geometry_type, geoms = _typed(gdf.geometry)
    target = sql.Identifier(schema, table)
    fields = [
        sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY").format(sql.Identifier(_PRIMARY_KEY))
    ]
    fields += [
        sql.SQL("{} {}").format(sql.Identifier(str(c)), sql.SQL(k))
        for c, k in zip(columns, kinds, strict=True)
    ]
    fields.append(
        sql.SQL("{} geometry({}, {})").format(
            sql.Identifier(GEOMETRY), sql.SQL(geometry_type), sql.Literal(srid)
        )
    )
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(fields)))
    names = sql.SQL(", ").join(sql.Identifier(str(c)) for c in [*columns, GEOMETRY])
    wkb = shapely.to_wkb(shapely.set_srid(geoms, srid) if srid else geoms, hex=True, include_srid=bool(srid))
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, names)) as copy:
        for row in _rows(gdf, columns, kinds, wkb):
            copy.write_row(row)
    index = sql.Identifier(table_name(table[:40], "geom_idx"))
    cur.execute(
        sql.SQL("CREATE INDEX {} ON {} USING GIST ({})").format(index, target, sql.Identifier(GEOMETRY))
    )
    if comment:
        cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comment)))


def _rows(
    gdf: gpd.GeoDataFrame, columns: Sequence[Any], kinds: Sequence[str], wkb: Any
) -> Iterator[list[Any]]:
    series = [gdf[c].tolist() for c in columns]
    for i, geom in enumerate(wkb):
        yield [*(_cell(values[i], kind) for values, kind in zip(series, kinds, strict=True)), geom]


def read_table(
    cur: Cursor[Any],
    schema: str,
    table: str,
    *,
    crs: Any,
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Read ``schema.table`` back as written (``fid`` order), optionally the rows meeting ``bbox``."""
    from psycopg.rows import tuple_row

    with cur.connection.cursor(row_factory=tuple_row) as plain:
        return _read(plain, schema, table, crs=crs, bbox=bbox)


def _read(
    cur: Cursor[Any], schema: str, table: str, *, crs: Any, bbox: tuple[float, float, float, float] | None
) -> gpd.GeoDataFrame:
    from psycopg import sql

    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema, table),
    )
    described = [(name, kind) for name, kind in cur.fetchall() if name not in {_PRIMARY_KEY, GEOMETRY}]
    if not described and not _exists(cur, schema, table):
        raise LookupError(f"{schema}.{table}")
    target = sql.Identifier(schema, table)
    select: list[sql.Composable] = [sql.Identifier(name) for name, _ in described]
    select.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(GEOMETRY)))
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(select), target)
    values: tuple[Any, ...] = ()
    if bbox is not None:
        srid = srid_of(crs)
        query += sql.SQL(" WHERE ST_Intersects({}, ST_MakeEnvelope(%s, %s, %s, %s, %s))").format(
            sql.Identifier(GEOMETRY)
        )
        values = (*map(float, bbox), srid)
    query += sql.SQL(" ORDER BY {}").format(sql.Identifier(_PRIMARY_KEY))
    cur.execute(query, values)
    rows = cur.fetchall()
    data: dict[str, Any] = {}
    for j, (name, kind) in enumerate(described):
        column = [row[j] for row in rows]
        data[name] = _series(column, kind)
    geoms = shapely.from_wkb([row[-1] for row in rows]) if rows else np.array([], dtype=object)
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)


def _exists(cur: Cursor[Any], schema: str, table: str) -> bool:
    cur.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    return cur.fetchone() is not None


def _series(values: list[Any], kind: str) -> pd.Series:
    """A column read back with the dtype it was written with (NULL integers make it float, as in pyogrio)."""
    if kind == "double precision":
        return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    if kind == "bigint":
        if any(v is None for v in values):
            return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
        return pd.Series(values, dtype="int64")
    if kind == "boolean":
        return pd.Series(values, dtype="bool" if None not in values else "object")
    if kind.startswith("timestamp"):
        return pd.Series(pd.to_datetime(values, utc=True))
    return pd.Series(
        values, dtype="object"
    ).infer_objects()  # text as pandas' string dtype, as pyogrio reads it


def drop_tables(cur: Cursor[Any], schema: str, tables: Iterable[str]) -> None:
    """Drop ``schema.table`` for each of ``tables`` (those already gone are fine)."""
    from psycopg import sql

    for table in tables:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))


def replace_tables(
    cur: Cursor[Any],
    schema: str,
    old: Iterable[str],
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    prefix: str,
    comment: str,
) -> dict[str, str]:
    """Drop the ``old`` tables and write ``layers`` as ``<prefix>__<layer>``; ``{layer: table}``.

    ``comment`` (with ``{layer}`` in it) describes each table for QGIS users. Layers go through
    :func:`gis.atomic.storable` (the index as a column, categories as text) as in a GeoPackage.
    """
    from gis.atomic import storable

    drop_tables(cur, schema, old)
    tables = {}
    for layer, gdf in layers.items():
        tables[layer] = table_name(prefix, layer)
        write_table(cur, schema, tables[layer], storable(gdf), comment=comment.format(layer=layer))
    return tables
