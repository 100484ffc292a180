"""On-disk cache of built road graphs, keyed by the contents of their inputs, bounded in size.

The command line's cache directory is ``$RISKPLAN_CACHE_DIR`` when set, else
``~/.cache/riskplan/graphs``, and its size bound ``$RISKPLAN_CACHE_MAX_MB`` (default
:data:`DEFAULT_MAX_MB`; ``0`` turns the bound off), both read at each call: no global state.
Other callers (the web service keeps its own cache in its data directory) use a
:class:`GraphCache` of their own.

A graph is stored as an ``.npz`` file of plain arrays (:mod:`gis.network._store`: no pickle,
so loading an entry never runs code) named by the SHA-256 of its key parts and
:data:`GRAPH_MODEL_VERSION`, optionally prefixed by a tag (a scenario id) so that one owner's
entries can be dropped together; files are written atomically. Reading an entry marks it
used (its modification time); after each write the least recently used entries are deleted
until the cache fits its bound. A cache file that cannot be read (truncated, corrupt, foreign)
is rebuilt and overwritten, never fatal. Entries of older versions (``.pickle`` files) are
never loaded; they count towards the bound and are evicted first, being the oldest.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_path
from ..errors import InputError
from ._store import StoreError, read_npz, write_npz
from .graph import GraphLike, RoadGraph, as_road_graph

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_MAX_MB_ENV",
    "DEFAULT_MAX_MB",
    "GRAPH_MODEL_VERSION",
    "GraphCache",
    "cache_dir",
    "cache_key",
    "cache_max_bytes",
    "cached_graph",
]

log = logging.getLogger(__name__)

#: Bump when the graph model or the build changes, so that old cache entries are ignored.
GRAPH_MODEL_VERSION = "2"
CACHE_DIR_ENV = "RISKPLAN_CACHE_DIR"
CACHE_MAX_MB_ENV = "RISKPLAN_CACHE_MAX_MB"
#: Size bound of the command line's graph cache, in MiB, when ``$RISKPLAN_CACHE_MAX_MB`` is unset.
DEFAULT_MAX_MB = 2048

KeyPart = str | bytes | Path
KeyParts = Mapping[str, KeyPart] | Sequence[KeyPart]

_CHUNK = 1 << 20
_MIB = 1024**2
_SUFFIX = ".npz"
_LEGACY_SUFFIXES = (".pickle",)  # entries of older versions: never loaded, evicted first
_TAG = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def cache_dir() -> Path:
    """Return the command line's graph cache directory (not created).

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"RISKPLAN_CACHE_DIR": "/tmp/riskplan-cache"}):
    ...     cache_dir()
    PosixPath('/tmp/riskplan-cache')
    """
    env = os.environ.get(CACHE_DIR_ENV)
    return Path(env) if env else Path.home() / ".cache" / "riskplan" / "graphs"


def cache_max_bytes() -> int | None:
    """Return the command line's cache size bound in bytes (``$RISKPLAN_CACHE_MAX_MB``), None if off.

    Examples
    --------
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"RISKPLAN_CACHE_MAX_MB": "64"}):
    ...     cache_max_bytes()
    67108864
    """
    text = os.environ.get(CACHE_MAX_MB_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_MB * _MIB
    try:
        mb = float(text)
    except ValueError:
        mb = -1.0
    if not mb >= 0:  # also NaN
        msg = (
            f"${CACHE_MAX_MB_ENV} is {text!r}. Fix: give a size in MiB such as 2048 (0 turns the bound off)."
        )
        raise InputError(msg)
    return int(mb * _MIB) or None


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


@dataclass(frozen=True)
class GraphCache:
    """A directory of cached road graphs, bounded in size with least-recently-used eviction.

    Parameters
    ----------
    directory
        Where the entries live (created on the first write).
    max_bytes
        Size bound of the directory's entries; ``None`` for no bound.

    Examples
    --------
    >>> import tempfile
    >>> cache = GraphCache(Path(tempfile.mkdtemp()), max_bytes=10_000_000)
    >>> from gis.network import graph_from_osm
    >>> G = cache.get({"roads": "v1"}, lambda: graph_from_osm("tests/fixtures/tiny_city.osm.xml"), tag="s1")
    >>> cache.get({"roads": "v1"}, lambda: None, tag="s1").n_edges  # a hit: nothing built
    19
    >>> cache.drop("s1"), cache.size_bytes()
    (1, 0)
    """

    directory: Path
    max_bytes: int | None = None

    @classmethod
    def from_env(cls) -> GraphCache:
        """The command line's cache: ``$RISKPLAN_CACHE_DIR`` bounded by ``$RISKPLAN_CACHE_MAX_MB``."""
        return cls(cache_dir(), cache_max_bytes())

    def _entries(self) -> list[Path]:
        try:
            return [
                p
                for p in self.directory.iterdir()
                if p.suffix in (_SUFFIX, *_LEGACY_SUFFIXES) and p.is_file()
            ]
        except FileNotFoundError:
            return []

    def size_bytes(self) -> int:
        """Total size of the entries."""
        total = 0
        for path in self._entries():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def get(
        self, key_parts: KeyParts, build: Callable[[], GraphLike], *, tag: str | None = None
    ) -> RoadGraph:
        """The cached graph for ``key_parts``, or ``build()`` it, cache it (under ``tag``) and prune.

        ``build`` may return a networkx graph: it is converted (:func:`gis.network.as_road_graph`).
        """
        if tag is not None and not _TAG.match(tag):
            msg = f"cache tag {tag!r} is invalid. Fix: use letters, digits and `_` (at most 64)."
            raise ValueError(msg)
        path = self.directory / f"{tag + '-' if tag else ''}{cache_key(key_parts)}{_SUFFIX}"
        if path.is_file():
            graph = _load(path)
            if graph is not None:
                with contextlib.suppress(OSError):
                    os.utime(path)  # mark it recently used
                return graph
        graph = as_road_graph(build())
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                write_npz(graph, tmp)
            log.info("road graph cached in `%s`", path)
            self.prune(keep=path)
        except OSError as exc:
            log.warning("could not write the graph cache `%s` (%s); continuing without it", path, exc)
        return graph

    def prune(self, *, keep: Path | None = None) -> int:
        """Delete the least recently used entries until the cache fits ``max_bytes``; return how many.

        ``keep`` (the entry just written) is deleted last, only if it alone is over the bound.
        """
        if self.max_bytes is None:
            return 0
        entries = []
        for path in self._entries():
            with contextlib.suppress(FileNotFoundError):
                info = path.stat()
                entries.append((path == keep, info.st_mtime_ns, info.st_size, path))
        entries.sort()
        total = sum(size for _, _, size, _ in entries)
        removed = 0
        for _, _, size, path in entries:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
            total -= size
        if removed:
            log.info(
                "graph cache `%s`: %d entries evicted to stay under %d bytes",
                self.directory,
                removed,
                self.max_bytes,
            )
        return removed

    def drop(self, tag: str) -> int:
        """Delete every entry stored under ``tag``; return how many."""
        removed = 0
        for path in self._entries():
            if path.stem.startswith(tag + "-"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed


def _load(path: Path) -> RoadGraph | None:
    try:
        graph = read_npz(path)
    except FileNotFoundError:  # evicted or dropped meanwhile
        return None
    except StoreError as exc:  # truncated, corrupt, foreign
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        log.warning("cache file `%s` is unreadable (%s); rebuilding it", path, exc)
        return None
    log.info("road graph loaded from cache `%s`", path)
    return graph


def cached_graph(key_parts: KeyParts, build: Callable[[], GraphLike]) -> RoadGraph:
    """Return the cached graph for ``key_parts``, or ``build()`` it and cache it.

    The cache is :meth:`GraphCache.from_env`: ``$RISKPLAN_CACHE_DIR``, bounded by
    ``$RISKPLAN_CACHE_MAX_MB``.

    Parameters
    ----------
    key_parts
        What the graph depends on: input files as ``Path`` (hashed by contents), the speed
        table and options as ``str``.
    build
        Called on a cache miss; must return the graph (a RoadGraph, or a networkx graph to convert).

    Examples
    --------
    >>> import tempfile
    >>> from unittest import mock
    >>> from gis.network import graph_from_osm
    >>> calls = []
    >>> def build():
    ...     calls.append(1)
    ...     return graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> with tempfile.TemporaryDirectory() as d, mock.patch.dict(os.environ, {"RISKPLAN_CACHE_DIR": d}):
    ...     G1 = cached_graph({"speeds": "v1"}, build)
    ...     G2 = cached_graph({"speeds": "v1"}, build)
    >>> len(calls), G2.n_edges, bool((G2.travel_time_s == G1.travel_time_s).all())
    (1, 19, True)
    """
    return GraphCache.from_env().get(key_parts, build)
