"""The demo province's scenario folder and its summary figures (private).

:func:`write_folder` writes ``scenario.toml`` and ``demo_province.gpkg`` into a folder, through
a hidden staging folder beside it (the GeoPackage first, the TOML last), so a failed run leaves
no half-written scenario; other files in the folder are left alone. The GeoPackage's
timestamps are fixed, so the same layers give byte-identical files. :func:`province_summary`
counts what the command line reports (cities, road nodes, people, stations, depots by tier,
mines, chemical parks); :func:`road_node_count` counts graph nodes the way the network builder
makes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ..atomic import staging_dir
from ..errors import InputError
from ..scenario import write_scenario
from ..schema import DEPOT_TIERS

__all__ = [
    "GPKG_FILE",
    "SCENARIO_FILE",
    "province_summary",
    "road_node_count",
    "scenario_text",
    "write_folder",
]

SCENARIO_FILE = "scenario.toml"
GPKG_FILE = "demo_province.gpkg"
# The GeoPackage's `last_change` stamps: fixed, so that equal layers give equal bytes.
_STAMP = "2000-01-01T00:00:00.000Z"
_MINE_WORDS = ("mine", "quarry")


def road_node_count(roads: gpd.GeoDataFrame) -> int:
    """Graph nodes of a road line layer: line ends and vertices shared by lines (1 cm).

    Parameters
    ----------
    roads
        Road lines in a metric CRS.

    Returns
    -------
    int
        The number of distinct positions (rounded to 1 cm) that end a line or lie on two
        lines, as :func:`gis.network.graph_from_lines` joins them.
    """
    xy, line = shapely.get_coordinates(roads.geometry.to_numpy(), return_index=True)
    if len(xy) == 0:
        return 0
    cm = np.rint(xy * 100.0).astype(np.int64)
    cm -= cm.min(axis=0)
    _, key = np.unique(cm[:, 0] * (int(cm[:, 1].max()) + 1) + cm[:, 1], return_inverse=True)
    key = key.ravel()
    # a vertex repeated in one line is no junction: count each position once per line
    first = np.r_[True, line[1:] != line[:-1]]
    last = np.r_[line[1:] != line[:-1], True]
    pairs = np.unique(np.column_stack([key, line]), axis=0)
    node = np.bincount(pairs[:, 0], minlength=int(key.max()) + 1) > 1
    node[key[first | last]] = True
    return int(node.sum())


def province_summary(
    layers: Mapping[str, gpd.GeoDataFrame], *, n_road_nodes: int | None = None
) -> dict[str, Any]:
    """The figures of a generated province, as the command line prints them.

    Parameters
    ----------
    layers
        The layers of :func:`gis.demo.demo_province`.
    n_road_nodes
        The road graph's node count when known; None counts it (:func:`road_node_count`).

    Returns
    -------
    dict
        ``cities``, ``road_nodes``, ``road_lines``, ``population``, ``communities``,
        ``fire_stations``, ``depots`` (count by tier, every tier of
        :data:`gis.schema.DEPOT_TIERS`), ``mines``, ``chemical_parks``, ``hazards``.
    """
    hazards = layers["hazards"]
    names = hazards["name"].astype(str).str.lower()
    mines = names.str.contains("|".join(_MINE_WORDS)) & (hazards["category"] == "mining")
    cluster = hazards["cluster"].dropna().astype(str) if "cluster" in hazards else hazards["name"].iloc[:0]
    parks = sorted({c for c in cluster if "park" in c.lower()})
    tiers = layers["depots"]["tier"].value_counts()
    nodes = road_node_count(layers["roads"]) if n_road_nodes is None else int(n_road_nodes)
    return {
        "cities": len(layers["cities"]),
        "road_nodes": nodes,
        "road_lines": len(layers["roads"]),
        "population": round(float(layers["communities"]["population"].sum())),
        "communities": len(layers["communities"]),
        "fire_stations": len(layers["fire_stations"]),
        "depots": {t: int(tiers.get(t, 0)) for t in DEPOT_TIERS},
        "mines": int(mines.sum()),
        "chemical_parks": len(parks),
        "hazards": len(hazards),
    }


def _string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


def scenario_text(
    *, name: str, description: str, crs: str, layers: Sequence[str], notes: Sequence[str]
) -> str:
    """The text of the province's ``scenario.toml``: every layer from ``demo_province.gpkg``."""
    lines = [
        "# SYNTHETIC demo province written by `riskplan demo --province` (gis.demo.write_demo_province).",
        "# Nothing in it is real. Check it with `riskplan validate`; run it with `riskplan run`.",
        "# The `cities` layer of the GeoPackage (each city's territory) is for per-city planning.",
        "[scenario]",
        f"name = {_string(name)}",
        f"description = {_string(description)}",
        "synthetic = true",
        f"metric_crs = {_string(crs)}",
        "notes = [",
        *(f"  {_string(n)}," for n in notes),
        "]",
        "",
    ]
    for layer in layers:
        lines += [f"[layers.{layer}]", f"path = {_string(GPKG_FILE)}", f"layer = {_string(layer)}", ""]
    return "\n".join(lines)


def _fix_stamps(gpkg: Path) -> None:
    with contextlib.closing(sqlite3.connect(gpkg)) as db, db:
        db.execute("UPDATE gpkg_contents SET last_change = ?", (_STAMP,))
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "gpkg_metadata_reference" in tables:
            db.execute("UPDATE gpkg_metadata_reference SET timestamp = ?", (_STAMP,))


def write_folder(
    out_dir: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    scenario_layers: Sequence[str],
    metadata: Mapping[str, str],
    notes: Sequence[str],
) -> Path:
    """Write ``demo_province.gpkg`` (every layer, and ``metadata``) and ``scenario.toml``.

    ``scenario_layers`` are the layers the TOML lists (the scenario's own; ``cities`` stays
    in the GeoPackage only). Returns the path of ``scenario.toml``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        msg = f"`out_dir` `{out_dir}` is a file. Fix: give a folder (it is created when missing)."
        raise InputError(msg)
    meta = {**metadata, "notes": json.dumps(list(notes), ensure_ascii=False)}
    with staging_dir(out_dir, "demo") as tmp:
        write_scenario(layers, tmp / GPKG_FILE, metadata=meta)
        _fix_stamps(tmp / GPKG_FILE)
        text = scenario_text(
            name=meta["name"],
            description=meta["description"],
            crs=meta["metric_crs"],
            layers=[n for n in scenario_layers if len(layers[n])],
            notes=notes,
        )
        (tmp / SCENARIO_FILE).write_text(text, encoding="utf-8")
        out_dir.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / GPKG_FILE, out_dir / GPKG_FILE)
        os.replace(tmp / SCENARIO_FILE, out_dir / SCENARIO_FILE)
    return out_dir / SCENARIO_FILE
