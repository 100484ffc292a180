"""Atomic file output: write beside the target, then rename over it.

A run that fails half-way leaves the previous file (or no file) in place, never
a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


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
