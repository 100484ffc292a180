"""Atomic file output: write beside the target, then rename over it; the one GeoPackage writer.

A run that fails half-way leaves the previous file (or no file) in place, never
a half-written one. :func:`write_gpkg` writes every riskplan result GeoPackage (coverage,
risk, plans, the service's stored layers) the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["atomic_path", "staging_dir", "storable", "write_gpkg"]


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it onto ``dest`` when the block succeeds.

    The temporary file keeps ``dest``'s suffix so that drivers chosen by
    extension (GeoPackage, GeoJSON) still recognise it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "out.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "out.txt").read_text()
    'done'
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".part{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # drivers such as GPKG refuse to open an existing empty file
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        for leftover in (
            tmp,
            tmp.with_name(tmp.name + "-journal"),
            tmp.with_name(tmp.name + "-wal"),
        ):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


@contextlib.contextmanager
def staging_dir(out_dir: Path, tag: str) -> Iterator[Path]:
    """Yield a fresh hidden folder beside ``out_dir`` (named after it and ``tag``); remove it after.

    Files are written there, then moved into ``out_dir`` so that a failed run leaves no half of them.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{tag}-", dir=out_dir.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def storable(frame: pd.DataFrame, *, index_label: str = "id") -> pd.DataFrame:
    """``frame`` in plain columns for a GeoPackage: its index as a column, no infinities, text as str.

    The index becomes the column ``index_label`` (or its own name when it has one), replacing a
    column of that name; categories become their labels; infinities (unreached) become NaN
    (NULL); other objects become their text.

    Examples
    --------
    >>> import numpy as np
    >>> t = pd.DataFrame({"t": [1.0, np.inf], "level": pd.Categorical(["red", "blue"])}, index=["a", "b"])
    >>> storable(t).to_dict("list")
    {'id': ['a', 'b'], 't': [1.0, nan], 'level': ['red', 'blue']}
    """
    out = frame.copy()
    if not isinstance(out.index, pd.RangeIndex) or out.index.name:
        name = out.index.name or index_label
        out = out.drop(columns=[name], errors="ignore").rename_axis(name).reset_index()
    geometry = getattr(out, "_geometry_column_name", None)
    for col in out.columns:
        if col == geometry:
            continue
        values = out[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            out[col] = values.astype(str)
        elif values.dtype.kind == "f":
            out[col] = values.replace([np.inf, -np.inf], np.nan)
        elif values.dtype == object:
            out[col] = values.map(lambda v: None if v is None or v is pd.NA else str(v))
    return out.reset_index(drop=True)


def write_gpkg(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    *,
    index_label: str = "id",
    durable: bool = False,
) -> Path:
    """Write spatial ``layers`` and plain ``tables`` to one GeoPackage, atomically.

    Every frame goes through :func:`storable` (its index becomes a column); empty ones are left
    out; a layer mixing single and multi geometries is written as the multi type. With
    ``durable`` the file is flushed to disk before it replaces ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, pyogrio
    >>> from shapely import Point
    >>> pts = gpd.GeoDataFrame({"name": ["A"]}, geometry=[Point(0, 0)], crs=32649, index=["S1"])
    >>> out = write_gpkg(pathlib.Path(tempfile.mkdtemp()) / "o.gpkg", {"stations": pts},
    ...                  {"notes": pd.DataFrame({"note": ["made up"]}), "empty": pd.DataFrame()})
    >>> sorted(pyogrio.list_layers(out)[:, 0]), pyogrio.read_dataframe(out, layer="stations")["id"].tolist()
    (['notes', 'stations'], ['S1'])
    """
    import pyogrio

    path = Path(path)
    with atomic_path(path) as tmp:
        for name, gdf in (layers or {}).items():
            if len(gdf):
                frame = storable(gdf, index_label=index_label)
                pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG")
        for name, table in (tables or {}).items():
            if len(table):
                pyogrio.write_dataframe(
                    storable(table, index_label=index_label), tmp, layer=name, driver="GPKG"
                )
        if durable and tmp.exists():
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    return path
