"""Zip archives of uploads, checked whole before anything is extracted, and unpacking budgets.

:func:`safe_extract` reads an archive's directory first and refuses, before writing a byte:
unsafe member names (absolute, ``..``, drive letters, symbolic links, encrypted members),
too many members, a file twice, several datasets for one name, content that is not what the
archive is for (one dataset, or one file per distinct layer), an unpacked size over the limit
of the archive, of the upload (:class:`UploadTally`) or of the server (:class:`UnpackBudget`,
shared by concurrent uploads), and compression ratios of zip bombs, for the archive as a whole
and per member. Extraction then counts the real bytes, since headers can lie.
"""

from __future__ import annotations

import logging
import re
import stat
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from gis import Problem, ScenarioError
from gis.schema import LAYERS

from ..jobs import BusyError

__all__ = [
    "DATA_SUFFIXES",
    "Expect",
    "Member",
    "UnpackBudget",
    "UploadError",
    "UploadLimits",
    "UploadTally",
    "display_name",
    "fail",
    "layer_name",
    "safe_extract",
]

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".csv", ".tsv")
_SIDECAR_SUFFIXES = (".shx", ".dbf", ".prj", ".cpg")
_CHUNK = 1 << 20
_SMALL_MEMBER = 1 << 20  # below this, any compression ratio is fine (a member, or a whole archive)


class UploadError(ScenarioError):
    """An upload that cannot become a scenario; :attr:`problems` says why, per layer."""


@dataclass(frozen=True)
class UploadLimits:
    """Guards applied to uploads and archives.

    Attributes
    ----------
    max_bytes
        Largest request body (checked while streaming, by the API).
    max_zip_members
        Most entries in one zip archive.
    max_unzipped_bytes
        Largest total uncompressed size of the archives of one upload.
    max_ratio
        Largest compression ratio of a member bigger than 1 MiB, and of a whole archive
        bigger than 1 MiB unpacked (zip bombs reach 1000+).
    max_server_unzipped_bytes
        Largest total being unpacked by every upload in progress on the server at once.
    """

    max_bytes: int = 200 * 1024**2
    max_zip_members: int = 1000
    max_unzipped_bytes: int = 1024**3
    max_ratio: float = 200.0
    max_server_unzipped_bytes: int = 2 * 1024**3


def display_name(filename: str | None, fallback: str = "upload") -> str:
    r"""A client file name made safe for messages: base name only, printable, at most 80 chars.

    Examples
    --------
    >>> display_name("../../etc/passwd"), display_name("C:\\data\\危化品.csv"), display_name(None)
    ('passwd', '危化品.csv', 'upload')
    """
    if not filename:
        return fallback
    base = re.split(r"[\\/]", filename)[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:80]
    return base or fallback


def fail(layer: str, message: str, fix: str, file: str | None = None) -> UploadError:
    return UploadError([Problem(layer, message, fix, file=file)], "upload")


class UploadTally:
    """The bytes one upload has unpacked so far, against its own cap and the server's budget.

    Made by :meth:`UnpackBudget.upload`; :meth:`reserve` is called before each archive is
    extracted, with the archive's declared unpacked size (extraction never writes more).
    """

    def __init__(self, budget: UnpackBudget | None, max_bytes: int) -> None:
        self._budget = budget
        self.max_bytes = max_bytes
        self.reserved = 0

    def reserve(self, n_bytes: int, shown: str) -> None:
        """Count ``n_bytes`` more for this upload, or raise over a cap.

        :class:`UploadError` over the upload's cap (422), :class:`BusyError` over the server's
        (503, retry later).
        """
        if self.reserved + n_bytes > self.max_bytes:
            msg = (
                f"`{shown}` would bring the files unpacked by this upload to {self.reserved + n_bytes:,} "
                f"bytes, more than the limit of {self.max_bytes:,}"
            )
            raise fail("upload", msg, "send smaller archives, or fewer at once")
        if self._budget is not None:
            self._budget.take(n_bytes, shown)
        self.reserved += n_bytes


class UnpackBudget:
    """Bytes being unpacked by all the uploads in progress on one server, bounded.

    Parameters
    ----------
    max_bytes
        Most bytes unpacked at once by every upload in progress.

    Examples
    --------
    >>> budget = UnpackBudget(max_bytes=100)
    >>> with budget.upload(max_bytes=80) as tally:
    ...     tally.reserve(60, "a.zip")
    ...     budget.in_use
    60
    >>> budget.in_use
    0
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.in_use = 0
        self._lock = threading.Lock()

    def take(self, n_bytes: int, shown: str) -> None:
        """Count ``n_bytes`` as being unpacked, or raise :class:`BusyError` over the budget."""
        with self._lock:
            if self.in_use + n_bytes > self.max_bytes:
                msg = (
                    f"`{shown}` unpacks to {n_bytes:,} bytes; with the uploads in progress that is more "
                    f"than this server unpacks at once ({self.max_bytes:,} bytes). Fix: retry in a "
                    "minute, or send a smaller archive."
                )
                words = {"upload": shown, "size": f"{n_bytes:,}", "limit": f"{self.max_bytes:,}"}
                raise BusyError(msg, key="unpack_busy", values=words)
            self.in_use += n_bytes

    def give_back(self, n_bytes: int) -> None:
        """Release bytes taken by :meth:`take` (the upload's files are gone)."""
        with self._lock:
            self.in_use = max(0, self.in_use - n_bytes)

    @contextmanager
    def upload(self, *, max_bytes: int) -> Iterator[UploadTally]:
        """A tally for one upload of at most ``max_bytes`` unpacked; released when the block ends."""
        tally = UploadTally(self, max_bytes)
        try:
            yield tally
        finally:
            self.give_back(tally.reserved)


@dataclass(frozen=True)
class Member:
    """A data file extracted from an archive: server path plus the client's name for messages."""

    path: Path
    shown: str
    stem: str
    suffix: str
    sidecars: frozenset[str] = frozenset()


def _check_member_name(info: zipfile.ZipInfo, shown: str) -> None:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if (
        name.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", name)
        or ".." in parts
        or "\x00" in name
        or "\\" in name
    ):
        raise fail("upload", f"the archive member `{shown}` has an unsafe path", "zip relative paths only")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise fail("upload", f"the archive member `{shown}` is a symbolic link", "zip regular files only")
    if info.flag_bits & 0x1:
        raise fail("upload", f"the archive member `{shown}` is encrypted", "zip without a password")


Expect = Literal["files", "layers", "one"]


def layer_name(stem: str) -> str:
    """The layer a file in a scenario archive is for, from its name without suffix.

    Examples
    --------
    >>> layer_name("fire-stations"), layer_name("Sensitive Sites")
    ('fire_stations', 'sensitive_sites')
    """
    return stem.lower().replace("-", "_").replace(" ", "_")


def _plan(infos: list[zipfile.ZipInfo], shown: str) -> dict[tuple[str, str], dict[str, zipfile.ZipInfo]]:
    """The members to extract, grouped by (folder, name) and suffix; refuses unsafe or doubled ones."""
    groups: dict[tuple[str, str], dict[str, zipfile.ZipInfo]] = {}
    for info in infos:
        member_name = display_name(info.filename)
        _check_member_name(info, member_name)
        if info.is_dir():
            continue
        posix = PurePosixPath(info.filename)
        if "__MACOSX" in posix.parts or posix.name.startswith("."):
            continue
        suffix = posix.suffix.lower()
        if suffix == ".zip":
            raise fail("upload", f"`{member_name}` is an archive inside the archive", "unzip it first")
        if suffix not in DATA_SUFFIXES + _SIDECAR_SUFFIXES:
            log.info("skipping archive member of unknown type %r", member_name)
            continue
        group = groups.setdefault((str(posix.parent).lower(), posix.stem.lower()), {})
        if suffix in group:
            raise fail("upload", f"`{member_name}` appears twice in the archive", "keep one copy")
        group[suffix] = info
    for files in groups.values():
        data = [s for s in DATA_SUFFIXES if s in files]
        if len(data) > 1:
            what = ", ".join(display_name(files[s].filename) for s in data)
            raise fail("upload", f"the archive has several files for one name: {what}", "rename all but one")
    return groups


def _check_datasets(
    groups: Mapping[tuple[str, str], Mapping[str, zipfile.ZipInfo]], expect: Expect, shown: str
) -> None:
    """What the archive holds is what it is for: one dataset, or one file per distinct layer."""
    datasets = [
        (key, next(s for s in DATA_SUFFIXES if s in files))
        for key, files in groups.items()
        if any(s in files for s in DATA_SUFFIXES)
    ]
    if expect == "one" and len(datasets) != 1:
        found = [display_name(groups[k][s].filename) for k, s in datasets] or "no data file"
        msg = f"`{shown}` must hold exactly one dataset (found {found})"
        raise fail("upload", msg, "zip one Shapefile (with .shx, .dbf, .prj) or one file")
    if expect != "layers" or (
        len(datasets) == 1 and datasets[0][1] == ".gpkg" and layer_name(datasets[0][0][1]) not in LAYERS
    ):
        return  # a whole GeoPackage in a zip is read as the scenario
    seen: dict[str, str] = {}
    for key, suffix in datasets:
        member = display_name(groups[key][suffix].filename)
        layer = layer_name(key[1])
        if layer not in LAYERS:
            msg = f"`{member}` does not name a layer"
            raise fail("upload", msg, f"name each file after its layer: {', '.join(LAYERS)}", shown)
        if layer in seen:
            msg = f"two files for layer `{layer}` in the archive (`{seen[layer]}` and `{member}`)"
            raise fail(layer, msg, "keep one", shown)
        seen[layer] = member


def _check_sizes(members: list[zipfile.ZipInfo], limits: UploadLimits, shown: str) -> int:
    """Refuse oversize or over-compressed archives from their headers; return the unpacked size."""
    declared = sum(i.file_size for i in members)
    if declared > limits.max_unzipped_bytes:
        limit = limits.max_unzipped_bytes
        msg = f"`{shown}` unpacks to {declared:,} bytes, more than the limit of {limit:,}"
        raise fail("upload", msg, "send a smaller archive")
    packed = max(1, sum(i.compress_size for i in members))
    if declared > _SMALL_MEMBER and declared > limits.max_ratio * packed:
        msg = (
            f"`{shown}` is compressed {declared / packed:,.0f} times as a whole (more than "
            f"{limits.max_ratio:g}; a zip bomb?)"
        )
        raise fail("upload", msg, "send the data without extreme compression")
    for info in members:
        if info.file_size > _SMALL_MEMBER and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            member_name = display_name(info.filename)
            msg = f"`{member_name}` is compressed more than {limits.max_ratio:g} times (a zip bomb?)"
            raise fail("upload", msg, "send the data without extreme compression")
    return declared


def safe_extract(
    archive: Path,
    dest: Path,
    limits: UploadLimits,
    *,
    shown: str = "upload.zip",
    expect: Expect = "files",
    tally: UploadTally | None = None,
) -> list[Member]:
    """Extract the data files of a zip into ``dest`` under server-chosen names.

    Directories, ``__MACOSX`` and hidden entries and files of other types are skipped.
    Everything is checked from the archive's directory before the first byte is written:
    member names and count, doubled files, what the archive holds (``expect``: ``files``,
    ``layers``, one file per distinct layer, or ``one`` dataset), the unpacked size of the
    archive (and of the whole upload and the server, through ``tally``) and its compression
    ratio, as a whole and per member. Extraction then counts the real bytes (headers can lie).

    Raises
    ------
    UploadError
        For unsafe, oversize or over-compressed archives, or the wrong content.
    BusyError
        When the uploads in progress already unpack as much as the server allows.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise fail(
            "upload", f"`{shown}` is not a readable zip archive ({exc})", "re-create the zip"
        ) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            msg = f"`{shown}` has {len(infos)} entries, more than the limit of {limits.max_zip_members}"
            raise fail("upload", msg, "send fewer files")
        groups = _plan(infos, shown)
        _check_datasets(groups, expect, shown)
        members = [info for files in groups.values() for info in files.values()]
        declared = _check_sizes(members, limits, shown)
        (tally or UploadTally(None, limits.max_unzipped_bytes)).reserve(declared, shown)
        written: dict[tuple[str, str], dict[str, Path]] = {}
        total = 0
        for n, (key, files) in enumerate(groups.items()):
            for suffix, info in files.items():
                target = dest / f"f{n:04d}{suffix}"
                total += _copy_member(
                    zf, info, target, limits=limits, done=total, shown=display_name(info.filename)
                )
                written.setdefault(key, {})[suffix] = target
    out = []
    for key, paths in written.items():
        data = [s for s in DATA_SUFFIXES if s in paths]
        if data:
            suffix = data[0]
            sidecars = frozenset(s for s in paths if s in _SIDECAR_SUFFIXES)
            stem = PurePosixPath(groups[key][suffix].filename).stem
            out.append(Member(paths[suffix], stem + suffix, key[1], suffix, sidecars))
    return out


def _copy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, *, limits: UploadLimits, done: int, shown: str
) -> int:
    """Copy one member, counting real bytes (headers can lie); return the bytes written."""
    written = 0
    try:
        with zf.open(info) as src, target.open("wb") as out:
            while chunk := src.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size or done + written > limits.max_unzipped_bytes:
                    msg = f"`{shown}` unpacks to more than its header says or than the limit allows"
                    raise fail("upload", msg, "send a smaller, well-formed archive")
                out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise fail("upload", f"`{shown}` cannot be extracted ({exc})", "re-create the zip") from None
    return written
