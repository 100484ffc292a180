"""On-disk cache of built road graphs, keyed by the contents of their inputs.

The cache directory is ``$RISKPLAN_CACHE_DIR`` when set, else ``~/.cache/riskplan/graphs``
(read at each call: no global state). A graph is stored as a pickle (protocol 5) named by the
SHA-256 of its key parts and :data:`GRAPH_MODEL_VERSION`; files are written atomically. A
cache file that cannot be read is rebuilt and overwritten, never fatal. Pickles run code when
loaded: only point the cache at a directory you trust.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import networkx as nx

from ._atomic import atomic_path

__all__ = ["GRAPH_MODEL_VERSION", "cache_dir", "cache_key", "cached_graph"]

log = logging.getLogger(__name__)

#: Bump when the graph model or the build changes, so that old cache entries are ignored.
GRAPH_MODEL_VERSION = "1"

KeyPart = str | bytes | Path
KeyParts = Mapping[str, KeyPart] | Sequence[KeyPart]

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Return the graph cache directory (not created).

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"RISKPLAN_CACHE_DIR": "/tmp/riskplan-cache"}):
    ...     cache_dir()
    PosixPath('/tmp/riskplan-cache')
    """
    env = os.environ.get("RISKPLAN_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "riskplan" / "graphs"


def _update(h: hashlib._Hash, name: str, part: KeyPart) -> None:
    h.update(f"\x00{name}\x00".encode())
    if isinstance(part, Path):
        h.update(b"file\x00")
        with part.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    elif isinstance(part, bytes):
        h.update(b"bytes\x00" + part)
    elif isinstance(part, str):
        h.update(b"str\x00" + part.encode())
    else:
        msg = f"cache key part `{name}` is a {type(part).__name__}; use str, bytes or Path"
        raise TypeError(msg)


def cache_key(key_parts: KeyParts) -> str:
    """Return the hex SHA-256 of ``key_parts`` and :data:`GRAPH_MODEL_VERSION`.

    ``Path`` parts are hashed by file contents (in chunks), ``str`` and ``bytes`` parts as
    they are; mapping parts are taken in key order, so their insertion order does not matter.

    Examples
    --------
    >>> cache_key({"a": "x", "b": b"y"}) == cache_key({"b": b"y", "a": "x"})
    True
    >>> len(cache_key(["x"]))
    64
    """
    h = hashlib.sha256(f"riskplan-graph-v{GRAPH_MODEL_VERSION}".encode())
    items = (
        sorted(key_parts.items())
        if isinstance(key_parts, Mapping)
        else [(str(i), p) for i, p in enumerate(key_parts)]
    )
    for name, part in items:
        _update(h, name, part)
    return h.hexdigest()


def _write_atomic(path: Path, graph: nx.MultiDiGraph) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        pickle.dump(graph, f, protocol=5)


def cached_graph(
    key_parts: KeyParts,
    build: Callable[[], nx.MultiDiGraph],
) -> nx.MultiDiGraph:
    """Return the cached graph for ``key_parts``, or ``build()`` it and cache it.

    Parameters
    ----------
    key_parts
        What the graph depends on: input files as ``Path`` (hashed by contents), the speed
        table and options as ``str``.
    build
        Called on a cache miss; must return the graph.

    Examples
    --------
    >>> import tempfile
    >>> from unittest import mock
    >>> calls = []
    >>> def build():
    ...     calls.append(1)
    ...     return nx.MultiDiGraph([(0, 1)])
    >>> with tempfile.TemporaryDirectory() as d, mock.patch.dict(os.environ, {"RISKPLAN_CACHE_DIR": d}):
    ...     G1 = cached_graph({"speeds": "v1"}, build)
    ...     G2 = cached_graph({"speeds": "v1"}, build)
    >>> len(calls), list(G2.edges)
    (1, [(0, 1, 0)])
    """
    directory = cache_dir()
    path = directory / f"{cache_key(key_parts)}.pickle"
    if path.is_file():
        try:
            with path.open("rb") as f:
                graph = pickle.load(f)
            if isinstance(graph, nx.MultiDiGraph):
                log.info("road graph loaded from cache `%s`", path)
                return graph
            log.warning("cache file `%s` does not hold a graph; rebuilding it", path)
        except Exception as exc:  # any unreadable pickle: truncated, foreign, old classes
            log.warning("cache file `%s` is unreadable (%r); rebuilding it", path, exc)
    graph = build()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, graph)
        log.info("road graph cached in `%s`", path)
    except OSError as exc:
        log.warning("could not write the graph cache `%s` (%s); continuing without it", path, exc)
    return graph
