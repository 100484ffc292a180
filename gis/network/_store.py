"""A RoadGraph as one ``.npz`` file of plain arrays: what the build cache stores.

Every array is a number or fixed-width text array and the metadata (CRS, source, report) is a
JSON string, so :func:`read_npz` loads with ``allow_pickle=False``: loading never runs code.
Attributes of converted networkx graphs that are Python objects are stored as JSON text.
:func:`read_npz` checks what it reads and raises :class:`StoreError` for anything inconsistent
(a truncated or foreign file), which the cache treats as a miss.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from ._report import NetworkReport
from .graph import RoadGraph

__all__ = ["FORMAT", "StoreError", "read_npz", "write_npz"]

#: Format tag inside every file; a file with another tag is not read.
FORMAT = "riskplan-road-graph-npz-1"
#: The format of a file with text attributes stored as codes (kind ``text``), which a reader of
#: :data:`FORMAT` alone would read as numbers; files without them keep :data:`FORMAT`.
FORMAT_TEXT_CODES = "riskplan-road-graph-npz-2"

_ARRAYS = (
    "node_xy",
    "indptr",
    "targets",
    "key",
    "length_m",
    "speed_kph",
    "travel_time_s",
    "oneway",
    "osm_way_id",
    "geometry_xy",
    "geometry_offsets",
)
_DTYPES = {
    "indptr": "i",
    "targets": "i",
    "key": "i",
    "osm_way_id": "i",
    "geometry_offsets": "i",
    "oneway": "b",
}


class StoreError(ValueError):
    """A stored graph file that cannot be read back (corrupt, truncated, foreign)."""


def _text_array(values: list[Any]) -> npt.NDArray[np.str_]:
    return np.array([json.dumps(v, default=str) for v in values], dtype=str)


def _text_codes(values: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.str_]] | None:
    """Codes (-1: None) and distinct values of an array of text or None; None for anything else."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if len(codes) != len(values) or not all(type(u) is str for u in uniques):
        return None
    if (codes < 0).any() and not all(v is None for v in values[codes < 0]):  # NaN is not None
        return None
    return codes.astype(np.int32), np.array(list(uniques), dtype=str)


def _attrs(prefix: str, attrs: Any, arrays: dict[str, Any], kinds: dict[str, str]) -> None:
    for i, (name, values) in enumerate(attrs.items()):
        slot = f"{prefix}{i}"
        if values.dtype.kind in "biuf":
            arrays[slot], kinds[name] = values, "array"
        elif (coded := _text_codes(values)) is not None:  # a city per edge: codes, not 11 M JSON texts
            arrays[slot], arrays[f"{slot}_values"] = coded
            kinds[name] = "text"
        else:
            arrays[slot], kinds[name] = _text_array(values.tolist()), "json"


def write_npz(graph: RoadGraph, path: Path) -> None:
    """Write ``graph`` to ``path`` (an open-for-writing location; the cache writes atomically)."""
    arrays: dict[str, Any] = {name: getattr(graph, name) for name in _ARRAYS}
    for name in ("highway", "name"):
        cat = getattr(graph, name)
        arrays[f"{name}_codes"] = np.asarray(cat.codes)
        arrays[f"{name}_values"] = np.array([str(c) for c in cat.categories], dtype=str)
    if graph.osm_node_id is not None:
        arrays["osm_node_id"] = graph.osm_node_id
    labels = None
    if graph.labels is not None:
        if graph.labels.dtype.kind in "iu":
            arrays["labels"] = graph.labels
        else:
            labels = graph.labels.tolist()
    node_kinds: dict[str, str] = {}
    edge_kinds: dict[str, str] = {}
    _attrs("node_attr_", graph.node_attrs, arrays, node_kinds)
    _attrs("edge_attr_", graph.edge_attrs, arrays, edge_kinds)
    meta = {
        "format": FORMAT_TEXT_CODES if "text" in {*node_kinds.values(), *edge_kinds.values()} else FORMAT,
        "crs": graph.crs.to_wkt() if graph.crs is not None else None,
        "source": graph.source,
        "report": asdict(graph.report) if graph.report is not None else None,
        "labels": labels,
        "node_attrs": node_kinds,
        "edge_attrs": edge_kinds,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with path.open("wb") as f:
        np.savez(f, **arrays)


def _read_attrs(prefix: str, kinds: dict[str, str], data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (name, kind) in enumerate(kinds.items()):
        values = data[f"{prefix}{i}"]
        if kind == "text":
            table = np.empty(len(data[f"{prefix}{i}_values"]) + 1, dtype=object)
            table[:-1] = data[f"{prefix}{i}_values"].tolist()
            table[-1] = None
            values = table[values]  # code -1 picks the trailing None
        elif kind == "json":
            obj = np.empty(len(values), dtype=object)
            obj[:] = [json.loads(v) for v in values.tolist()]
            values = obj
        out[name] = values
    return out


def read_npz(path: Path) -> RoadGraph:
    """Read a graph written by :func:`write_npz`; raise :class:`StoreError` when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") not in (FORMAT, FORMAT_TEXT_CODES):
                msg = f"`{path}` is not a {FORMAT} file (format {meta.get('format')!r})"
                raise StoreError(msg)
            arrays = {name: data[name] for name in _ARRAYS}
            cats = {
                name: pd.Categorical.from_codes(
                    data[f"{name}_codes"], categories=pd.Index(data[f"{name}_values"].astype(object))
                )
                for name in ("highway", "name")
            }
            osm_node_id = data.get("osm_node_id")
            labels: Any = data.get("labels")
            node_attrs = _read_attrs("node_attr_", meta["node_attrs"], data)
            edge_attrs = _read_attrs("edge_attr_", meta["edge_attrs"], data)
    except StoreError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"`{path}` is unreadable ({exc!r})"
        raise StoreError(msg) from exc
    if meta["labels"] is not None:
        labels = np.empty(len(meta["labels"]), dtype=object)
        labels[:] = meta["labels"]
    for name, kind in _DTYPES.items():
        if arrays[name].dtype.kind != kind:
            msg = f"`{path}`: array `{name}` has dtype {arrays[name].dtype}"
            raise StoreError(msg)
    try:
        graph = RoadGraph(
            **arrays,
            highway=cats["highway"],
            name=cats["name"],
            crs=pyproj.CRS.from_wkt(meta["crs"]) if meta["crs"] else None,
            source=meta["source"],
            report=NetworkReport(**meta["report"]) if meta["report"] else None,
            osm_node_id=osm_node_id,
            labels=labels,
            node_attrs=node_attrs,
            edge_attrs=edge_attrs,
        )
    except (ValueError, TypeError) as exc:  # InputError is a ValueError
        msg = f"`{path}` holds inconsistent arrays ({exc})"
        raise StoreError(msg) from exc
    _check(graph, path)
    return graph


def _check(graph: RoadGraph, path: Path) -> None:
    """The invariants a graph's searches rely on: offsets ordered, node positions in range."""
    n, m = graph.n_nodes, graph.n_edges
    ok = (
        graph.node_xy.ndim == 2
        and graph.node_xy.shape[1] == 2
        and graph.geometry_xy.ndim == 2
        and graph.geometry_xy.shape[1] == 2
        and graph.indptr[0] == 0
        and bool((np.diff(graph.indptr) >= 0).all())
        and (m == 0 or (int(graph.targets.min()) >= 0 and int(graph.targets.max()) < n))
        and graph.geometry_offsets[0] == 0
        and bool((np.diff(graph.geometry_offsets) >= 2).all())
        and int(graph.geometry_offsets[-1]) == len(graph.geometry_xy)
    )
    if not ok:
        msg = f"`{path}`: the graph's offsets or node positions are out of range"
        raise StoreError(msg)
