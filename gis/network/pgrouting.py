"""A road graph as a pgRouting edge table, to route it in PostgreSQL or check riskplan against it.

One row per directed edge of the :class:`~gis.network.RoadGraph` (a two-way road is already two
edges, u->v and v->u), so the table is routed with ``directed := true`` and every
``reverse_cost`` is -1 (no edge is traversable backwards). Vertex ids are node positions plus
one (pgRouting wants positive ids): node ``i`` of the graph is vertex ``i + 1``; edge ``j`` (in
CSR order) has ``id = j + 1``. Costs are the graph's float64 ``travel_time_s`` (or another edge
weight), sent in text with the shortest exact representation, so PostgreSQL's
``double precision`` holds the same bits.

Examples
--------
Route the demo city from its first node with ``pgr_dijkstraCost``::

    import psycopg
    from gis.network.pgrouting import to_pgrouting

    with psycopg.connect("dbname=gis") as conn:
        to_pgrouting(graph, conn, "demo_edges")
        conn.execute(
            "SELECT end_vid - 1 AS node, agg_cost FROM pgr_dijkstraCost("
            "'SELECT id, source, target, cost, reverse_cost FROM demo_edges', 1, ARRAY[2, 3])"
        ).fetchall()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, MissingDependencyError
from .graph import GraphLike, as_road_graph

if TYPE_CHECKING:
    import psycopg

__all__ = ["EDGES_SQL", "to_pgrouting"]

#: The edges query pgRouting functions take, for a table made by :func:`to_pgrouting` (format ``table``).
EDGES_SQL = "SELECT id, source, target, cost, reverse_cost FROM {table}"


def to_pgrouting(
    graph: GraphLike,
    conn: psycopg.Connection[Any],
    table: str,
    *,
    edge_weight: str = "travel_time_s",
    geometry: bool = True,
    replace: bool = False,
) -> int:
    """Write ``graph`` to a new pgRouting edge table ``table`` (``schema.table`` allowed).

    Parameters
    ----------
    graph
        Road graph (:class:`~gis.network.RoadGraph` or a networkx graph).
    conn
        psycopg 3 connection; the table is written in one transaction on it.
    table
        Name of the table, optionally qualified by a schema.
    edge_weight
        Edge attribute that becomes ``cost`` (seconds by default).
    geometry
        Add each edge's line as ``geom geometry(LineString, <EPSG>)`` with a GiST index (for QGIS
        and ``pgr_withPoints``); needs PostGIS.
    replace
        Drop an existing table of that name first (else an existing table is an error).

    Returns
    -------
    int
        Number of edges written.

    Columns: ``id``, ``source``, ``target`` (bigint; node position + 1), ``cost`` (the edge
    weight), ``reverse_cost`` (-1), ``length_m``, ``travel_time_s`` and ``highway``, and ``geom``.

    Raises
    ------
    InputError
        A negative or non-finite cost (pgRouting would skip the edge silently).
    MissingDependencyError
        psycopg is not installed.
    """
    try:
        from psycopg import sql
    except ImportError:
        raise MissingDependencyError("psycopg", "postgres", purpose="write a pgRouting edge table") from None
    g = as_road_graph(graph)
    raw = g.edge_attribute(edge_weight)
    if raw.dtype.kind == "f":
        cost = np.asarray(raw, dtype=np.float64)
    else:  # text or objects: what is not a number is NaN, refused below
        cost = pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(
            np.float64, na_value=np.nan
        )
    bad = np.flatnonzero(~np.isfinite(cost) | (cost < 0))
    if len(bad):
        msg = (
            f"Edge weight `{edge_weight}` is negative or not finite on {len(bad)} edge(s) (first: "
            f"{bad[:5].tolist()}). Fix: give every edge a finite, non-negative weight."
        )
        raise InputError(msg)
    target = sql.Identifier(*table.split(".", 1))
    srid = (g.crs.to_epsg() or 0) if g.crs is not None else 0
    columns = [
        "id bigint PRIMARY KEY",
        "source bigint NOT NULL",
        "target bigint NOT NULL",
        "cost double precision NOT NULL",
        "reverse_cost double precision NOT NULL",
        "length_m double precision NOT NULL",
        "travel_time_s double precision NOT NULL",
        "highway text",
    ]
    if geometry:
        columns.append(f"geom geometry(LineString, {int(srid)})")
    names = ["id", "source", "target", "cost", "reverse_cost", "length_m", "travel_time_s", "highway"]
    n = g.n_edges
    values: list[Any] = [
        np.arange(1, n + 1).tolist(),
        (g.sources + 1).tolist(),
        (g.targets + 1).tolist(),
        cost.tolist(),
        [-1.0] * n,
        np.asarray(g.length_m, dtype=np.float64).tolist(),
        np.asarray(g.travel_time_s, dtype=np.float64).tolist(),
        [None if pd.isna(h) else str(h) for h in g.highway.tolist()],
    ]
    if geometry:
        lines = g.edge_geometries()
        lines = shapely.set_srid(lines, srid) if srid else lines
        values.append(shapely.to_wkb(lines, hex=True, include_srid=bool(srid)).tolist())
        names.append("geom")
    with conn.transaction():
        if replace:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(target, sql.SQL(", ".join(columns))))
        fields = sql.SQL(", ").join(sql.Identifier(c) for c in names)
        with (
            conn.cursor() as cur,
            cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, fields)) as copy,
        ):
            for row in zip(*values, strict=True):
                copy.write_row(row)
        conn.execute(sql.SQL("CREATE INDEX ON {} (source)").format(target))
        conn.execute(sql.SQL("CREATE INDEX ON {} (target)").format(target))
        if geometry:
            conn.execute(sql.SQL("CREATE INDEX ON {} USING GIST (geom)").format(target))
    return n
