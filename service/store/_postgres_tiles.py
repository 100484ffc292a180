"""Vector tiles straight from PostGIS, for :mod:`service.store.postgres` (private).

A tiled layer version is a layer result of the scenario (``tiles_<layer>_<digest>``, one
table ``tiles_<layer>_<digest>__<version>`` in the scenario's schema, EPSG:3857, GiST index),
with ``unit_id``, the tile attributes and ``pos`` (the feature's position in the layer, which
breaks ties when a tile is thinned, as :class:`maps.TileSource` does). A tile is then one
``ST_AsMVT`` query (:func:`maps.postgis_tile_sql`) on that table, run by whichever server
process gets the request: the layer is written once, by the first process to tile it.

The table is written by one ``COPY ... FROM STDIN`` whose text is built column by column
with numpy and pandas (geometries as hex EWKB), never a Python loop over rows, and the GiST
index and the primary key are built after the rows are in (a million cells: see
``benchmarks/bench_tiles.py --postgres``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ._postgres_connection import PostgresConnection
from ._postgres_layers import drop_tables, table_name
from ._postgres_support import locked_result_tables, upsert_result
from .base import NotFoundError, check_result_name

if TYPE_CHECKING:
    import psycopg

    import maps

__all__ = ["PostgresTiles"]


class PostgresTiles(PostgresConnection):
    """The tile tables of :class:`~service.store.PostgresStore`."""

    def tile_layer_stored(self, scenario_id: str, name: str, version: str) -> bool:
        """Whether the result ``name`` holds the tile table of layer version ``version``."""
        row = self._one(
            "SELECT layers FROM riskplan.results WHERE scenario_id = %s AND name = %s AND kind = 'layers'",
            (scenario_id, name),
        )
        return row is not None and version in (row["layers"] or {})

    def put_tile_layer(self, scenario_id: str, name: str, version: str, source: maps.TileSource) -> None:
        """Store ``source`` (its Web Mercator geometries, ids and attributes) as result ``name``.

        Replaces an older version of the result in one transaction (its table is dropped).
        """
        check_result_name(name)
        with self._transaction() as cur:
            scenario = self._lock_scenario(cur, scenario_id)
            schema = scenario["layer_schema"]
            tables = locked_result_tables(cur, scenario_id, name)
            if version in tables:  # another process wrote it meanwhile
                return
            drop_tables(cur, schema, tables.values())
            table = table_name(name, version)
            label = str(scenario["label"])
            write_tile_table(
                cur, schema, table, source, comment=f"riskplan scenario {label}: tiles {name}, {version}"
            )
            upsert_result(
                cur,
                scenario_id,
                name,
                kind="layers",
                media_type="application/vnd.mapbox-vector-tile",
                data=None,
                layers={version: table},
            )

    def vector_tile(
        self,
        scenario_id: str,
        name: str,
        version: str,
        source: maps.TileSource,
        *,
        z: int,
        x: int,
        y: int,
    ) -> bytes:
        """Tile ``z/x/y`` of the stored layer version, built by ``ST_AsMVT`` (``b""`` when empty).

        ``source`` gives the layer's name, attributes and thinning rule, so the tile equals
        ``source.tile(z, x, y)`` feature by feature.

        Raises
        ------
        NotFoundError
            The scenario, or this version of the layer, is not stored.
        """
        import maps

        def read(cur: psycopg.Cursor[Any]) -> bytes:
            scenario = self._lock_scenario(cur, scenario_id)
            cur.execute(
                "SELECT layers FROM riskplan.results WHERE scenario_id = %s AND name = %s",
                (scenario_id, name),
            )
            row = cur.fetchone()
            table = (row["layers"] or {}).get(version) if row is not None else None
            if table is None:
                msg = f"Scenario `{scenario_id}` has no tile layer `{name}` version `{version}`."
                raise NotFoundError(msg)
            sql = maps.postgis_tile_sql(
                table,
                list(source.columns),
                name=source.name,
                rank_by=source.rank_by,
                max_features=source.max_features,
                thin_bins=source.thin_bins,
                schema=scenario["layer_schema"],
                merge_by=source.merge_by,
            )
            cur.execute(sql.encode("utf-8"), {"z": z, "x": x, "y": y})
            found = cur.fetchone()
            data = next(iter(found.values())) if found else None
            return bytes(data) if data else b""

        out: bytes = self._retrying(read)
        return out


#: Rows per ``COPY`` write (some 25 MB of binary rows for risk cells).
_COPY_ROWS = 100_000
#: The binary ``COPY`` header (signature, flags, no extension) and trailer.
_COPY_HEAD = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TAIL = b"\xff\xff"


def write_tile_table(
    cur: psycopg.Cursor[Any], schema: str, table: str, source: maps.TileSource, *, comment: str
) -> None:
    """Create ``schema.table`` from ``source`` by one binary ``COPY``, then its GiST index and key.

    Columns: ``unit_id text``, the tile attributes (``double precision``, ``bigint``,
    ``boolean`` or ``text`` by dtype), the ``rank_by`` column when it is not one of them,
    ``pos bigint`` (the primary key: the feature's position) and ``geom`` (EPSG:3857, sent as
    EWKB). The rows are laid out with numpy, a column at a time, never a Python loop over rows.
    """
    from psycopg import sql

    columns: dict[str, np.ndarray] = {"unit_id": source.ids}
    columns |= {c: source.attributes[c].to_numpy() for c in source.columns}
    if source.rank_by is not None and source.rank_by not in columns:  # ranked by, not carried
        columns[source.rank_by] = np.where(np.isfinite(source.rank), source.rank, np.nan)
    columns["pos"] = np.arange(len(source), dtype=np.int64)
    kinds = {c: _sql_type(v) for c, v in columns.items()}
    kinds["unit_id"] = "text"
    types = set(shapely.get_type_id(source.geometry).tolist())
    names_of = {0: "Point", 1: "LineString", 3: "Polygon", 5: "MultiLineString", 6: "MultiPolygon"}
    geometry_type = names_of.get(types.pop() if len(types) == 1 else -1, "Geometry")
    target = sql.Identifier(schema, table)
    fields = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(k)) for c, k in kinds.items()]
    fields.append(sql.SQL("geom geometry({}, 3857)").format(sql.SQL(geometry_type)))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ").join(fields)))
    names = sql.SQL(", ").join(sql.Identifier(c) for c in [*columns, "geom"])
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, names)
    geoms = shapely.set_srid(source.geometry, 3857)
    with cur.copy(statement) as copy:
        copy.write(_COPY_HEAD)
        for start in range(0, len(source), _COPY_ROWS):
            part = slice(start, start + _COPY_ROWS)
            values = [_binary(v[part], kinds[c]) for c, v in columns.items()]
            values.append(_binary(shapely.to_wkb(geoms[part], include_srid=True), "bytea"))
            copy.write(_rows(values))
        copy.write(_COPY_TAIL)
    index = sql.Identifier(table_name(table[:40], "geom_idx"))
    cur.execute(sql.SQL("CREATE INDEX {} ON {} USING GIST (geom)").format(index, target))
    cur.execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (pos)").format(target))
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comment)))
    cur.execute(sql.SQL("ANALYZE {}").format(target))


def _sql_type(values: np.ndarray) -> str:
    kind = values.dtype.kind
    return {"b": "boolean", "i": "bigint", "u": "bigint", "f": "double precision"}.get(kind, "text")


def _binary(values: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """One column in ``COPY`` binary form: (bytes of the present values, length per row, -1 NULL)."""
    if kind == "double precision":
        floats = values.astype(np.float64)
        present = np.isfinite(floats)  # NaN and infinities as NULL, as in a GeoPackage
        data = floats[present].astype(">f8").view(np.uint8)
        return data, np.where(present, 8, -1)
    if kind == "bigint":
        return values.astype(">i8").view(np.uint8), np.full(len(values), 8)
    if kind == "boolean":
        return values.astype(bool).astype(np.uint8), np.full(len(values), 1)
    items = pd.Series(values, dtype=object)
    missing = items.isna().to_numpy()
    raws = [
        b"" if gone else (v if isinstance(v, bytes) else str(v).encode("utf-8"))
        for v, gone in zip(items, missing, strict=True)
    ]
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    return np.frombuffer(b"".join(raws), dtype=np.uint8), np.where(missing, -1, lengths)


def _rows(columns: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """Binary ``COPY`` tuples of the columns: a field count, then per field a length and its bytes."""
    n = len(columns[0][1])
    sizes = 2 + sum(4 + np.maximum(lengths, 0) for _, lengths in columns)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    count = np.array([len(columns)], dtype=">i2").view(np.uint8)
    out[start] = count[0]
    out[start + 1] = count[1]
    at = start + 2
    for data, lengths in columns:
        head = lengths.astype(">i4").view(np.uint8).reshape(n, 4)
        for k in range(4):
            out[at + k] = head[:, k]
        at = at + 4
        width = np.maximum(lengths, 0).astype(np.int64)
        total = int(width.sum())
        if total:
            run = np.concatenate([[0], np.cumsum(width)[:-1]])
            within = np.arange(total, dtype=np.int64) - np.repeat(run, width)
            out[np.repeat(at, width) + within] = data
        at = at + width
    return out.tobytes()
