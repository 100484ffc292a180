"""Vector tiles straight from PostGIS, for :mod:`service.store.postgres` (private).

A tiled layer version is a layer result of the scenario (``tiles_<layer>_<digest>``, one
table ``tiles_<layer>_<digest>__v<version>`` in the scenario's schema, EPSG:3857, GiST index),
with ``unit_id``, the tile attributes and ``pos`` (the feature's position in the layer, which
breaks ties when a tile is thinned, as :class:`maps.TileSource` does). A tile is then one
``ST_AsMVT`` query (:func:`maps.postgis_tile_sql`) on that table, run by whichever server
process gets the request: the layer is written once, by the first process to tile it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np

from ._postgres_connection import PostgresConnection
from .base import NotFoundError

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
        return row is not None and _layer(version) in (row["layers"] or {})

    def put_tile_layer(self, scenario_id: str, name: str, version: str, source: maps.TileSource) -> None:
        """Store ``source`` (its Web Mercator geometries, ids and attributes) as result ``name``.

        Replaces an older version of the result in one transaction (its table is dropped).
        """
        columns = {"unit_id": source.ids, **{c: source.attributes[c].to_numpy() for c in source.columns}}
        if source.rank_by is not None and source.rank_by not in columns:  # ranked by, not carried
            columns[source.rank_by] = np.where(np.isfinite(source.rank), source.rank, np.nan)
        frame = gpd.GeoDataFrame(
            columns,
            geometry=gpd.GeoSeries(source.geometry, crs=3857),
            crs=3857,
        )
        frame["pos"] = np.arange(len(frame), dtype=np.int64)
        put = getattr(self, "put_result_layers")  # noqa: B009 - the store's own method
        put(scenario_id, name, {_layer(version): frame})

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
            table = (row["layers"] or {}).get(_layer(version)) if row is not None else None
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
            )
            cur.execute(sql.encode("utf-8"), {"z": z, "x": x, "y": y})
            found = cur.fetchone()
            data = next(iter(found.values())) if found else None
            return bytes(data) if data else b""

        out: bytes = self._retrying(read)
        return out


def _layer(version: str) -> str:
    """The result layer of a version: a hex digest may begin with a digit, a layer name may not.

    Examples
    --------
    >>> _layer("58a3d367153a3b9b")
    'v58a3d367153a3b9b'
    """
    return f"v{version}"
