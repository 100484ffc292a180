"""The ``layer_styles`` table of a GeoPackage, as QGIS creates it through GDAL, written in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from gis.errors import InputError

__all__ = ["connect", "write_rows"]

#: GeoPackage application ids (PRAGMA application_id): 1.2 and later, 1.0, 1.1.
APPLICATION_IDS = {0x47504B47: "GPKG", 0x47503130: "GP10", 0x47503131: "GP11"}


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection to the GeoPackage ``path``; an error naming the file if it is not one."""
    if not path.is_file():
        msg = f"`{path}`: no such GeoPackage. Fix: write the results first, then their QGIS styles."
        raise InputError(msg)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        app = con.execute("PRAGMA application_id").fetchone()[0]
        has_contents = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_contents'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        con.close()
        msg = f"`{path}` is not a GeoPackage ({exc}). Fix: give a .gpkg written by riskplan or GDAL."
        raise InputError(msg) from exc
    if app not in APPLICATION_IDS or not has_contents:
        con.close()
        msg = f"`{path}` is not a GeoPackage (no GPKG application id or gpkg_contents). Fix: give a .gpkg."
        raise InputError(msg)
    return con


_DDL = (
    'CREATE TABLE "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ','now')"


def _create_table(con: sqlite3.Connection) -> None:
    """``layer_styles`` as GDAL creates it for QGIS, registered in the GeoPackage's tables."""
    con.execute(_DDL)
    # an attributes table, as GDAL (since 2.2) registers one in any GeoPackage version; it needs no
    # gpkg_extensions row (GDAL's gdal_aspatial extension of GeoPackage 1.0 is legacy)
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
        f"VALUES ('layer_styles', 'attributes', 'layer_styles', '', {_NOW}, 0)"
    )
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
        con.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES ('layer_styles', 0)")
        for event, sign in (("insert", "+"), ("delete", "-")):
            con.execute(
                f'CREATE TRIGGER "trigger_{event}_feature_count_layer_styles" AFTER {event.upper()} ON '
                f'"layer_styles" BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count {sign} 1 '
                "WHERE lower(table_name) = lower('layer_styles'); END"
            )


def write_rows(path: Path, rows: Sequence[tuple[str, str, str, str]], *, style_name: str) -> None:
    """Make ``rows`` (layer, geometry column, QML, description) the default styles, in one transaction."""
    if not rows:
        return
    con = connect(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'layer_styles'").fetchone():
                _create_table(con)
            for layer, geometry_column, qml, description in rows:
                key = (layer, geometry_column)
                con.execute(  # QGIS keeps a layer's earlier default as a plain style
                    "UPDATE layer_styles SET useAsDefault = 0 WHERE useAsDefault = 1 AND f_table_schema = '' "
                    "AND f_table_name = ? AND f_geometry_column = ?",
                    key,
                )
                updated = con.execute(
                    "UPDATE layer_styles SET styleQML = ?, styleSLD = '', useAsDefault = 1, "
                    f"description = ?, update_time = {_NOW} WHERE f_table_schema = '' AND f_table_name = ? "
                    "AND f_geometry_column = ? AND styleName = ?",
                    (qml, description, *key, style_name),
                ).rowcount
                if not updated:
                    con.execute(
                        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                        "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')",
                        (*key, style_name, qml, description),
                    )
            con.execute(f"UPDATE gpkg_contents SET last_change = {_NOW} WHERE table_name = 'layer_styles'")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
