"""Parts of the embedded store (private).

Per-thread readers, durable renames, bounds, CRS names, keyset paging and
layer reads.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj

from gis import Scenario

from .base import After, NotFoundError, ScenarioRecord, now

__all__ = ["Reader", "bounds_wgs84", "crs_text", "fsync", "paged", "read_layer"]


class Reader:
    """A thread's read-only connection; closed when the thread (its only owner) goes away."""

    __slots__ = ("__weakref__", "conn", "generation")

    def __init__(self, db_path: Path, generation: int) -> None:
        # check_same_thread=False only so that close() may close it from another thread;
        # it is used by the thread that opened it and by nobody else.
        self.conn = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
        self.conn.execute("PRAGMA query_only=ON")  # reads only: every write has its own connection
        self.conn.row_factory = sqlite3.Row
        self.generation = generation

    def __del__(self) -> None:
        self.conn.close()


def fsync(path: Path) -> None:
    """Flush a file or folder to disk (folders: so that a rename inside it is durable)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bounds_wgs84(scenario: Scenario) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` in degrees over every layer of ``scenario``."""
    frames = [g.total_bounds for g in scenario.layers.values() if len(g)]
    if not frames:
        return None
    table = pd.DataFrame(frames, columns=["w", "s", "e", "n"])
    west, south, east, north = table["w"].min(), table["s"].min(), table["e"].max(), table["n"].max()
    transformer = pyproj.Transformer.from_crs(scenario.crs, 4326, always_xy=True)
    out = transformer.transform_bounds(west, south, east, north)
    return (round(out[0], 7), round(out[1], 7), round(out[2], 7), round(out[3], 7))


def crs_text(crs: pyproj.CRS) -> str:
    """``EPSG:<code>`` when the CRS has one, else its WKT."""
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt()


def paged(query: str, values: list[Any], limit: int | None, after: After | None) -> tuple[str, list[Any]]:
    """``query`` ordered newest first, from after ``after``, at most ``limit`` rows (keyset paging)."""
    if after is not None:
        query += " AND (created_at < ? OR (created_at = ? AND id > ?))"
        values = [*values, after[0], after[0], after[1]]
    query += " ORDER BY created_at DESC, id"
    if limit is not None:
        query += " LIMIT ?"
        values = [*values, int(limit)]
    return query, values


def read_layer(path: Path, layer: str, bbox: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
    """One layer of a result GeoPackage, indexed by its ``id`` column when it has one."""
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, bbox=bbox)
    except pyogrio.errors.DataLayerError:
        msg = f"No result layer `{layer}`."
        raise NotFoundError(msg) from None
    if "id" in gdf.columns:
        gdf = gdf.set_index("id", drop=False)
        gdf.index.name = None
    return gdf


def new_scenario_record(scenario_id: str, scenario: Scenario, *, origin: str) -> ScenarioRecord:
    """The record of a scenario being stored now (both stores write the same fields)."""
    return ScenarioRecord(
        id=scenario_id,
        name=scenario.name,
        label=scenario.label,
        synthetic=scenario.synthetic,
        crs=crs_text(scenario.crs),
        origin=origin,
        created_at=now(),
        layers={name: len(gdf) for name, gdf in scenario.layers.items()},
        bounds_wgs84=bounds_wgs84(scenario),
    )


def scenario_record(row: Any, *, layers: Mapping[str, int], bounds: Any) -> ScenarioRecord:
    """A stored scenario's record from its row, ``layers`` and ``bounds`` decoded by the backend."""
    return ScenarioRecord(
        id=row["id"],
        name=row["name"],
        label=row["label"],
        synthetic=bool(row["synthetic"]),
        crs=row["crs"],
        origin=row["origin"],
        created_at=row["created_at"],
        layers=dict(layers),
        bounds_wgs84=tuple(bounds) if bounds else None,
    )
