"""Turn an uploaded file set into a validated scenario.

Accepted uploads (multipart form fields):

* ``file``: a whole scenario, either one GeoPackage with the standard layer names, or a
  zip holding such a GeoPackage or one file per layer named after its layer
  (``roads.shp`` + ``.shx`` + ``.dbf`` + ``.prj``, ``hazards.csv``, ``communities.geojson``...);
* or one field per layer, the field name being the layer name (``hazards=@hazards.csv``),
  each a GeoJSON, a CSV, a GeoPackage or a zipped Shapefile;
* ``options`` (optional): JSON ``{layer: {option: value}}`` with the per-layer reading
  options of a scenario TOML that need no path (``x``, ``y``, ``crs``, ``coords``,
  ``rename``, ``values``, ``defaults``, ``id``, ``encoding``, ``layer``);
* ``name`` (optional): the scenario's name.

Formats are recognised from the content, never from the client's file name, and every
file is written under a server-chosen name in a fresh temporary folder. Zip archives are
checked before and during extraction: member count, total uncompressed size, compression
ratio, absolute paths, ``..``, symlinks and encrypted members are refused. The files are
then read through :func:`gis.load_scenario` (a generated scenario TOML, or the GeoPackage),
so the library does all validation; a :class:`gis.ScenarioError` reaches the client as a
422 problem listing every layer, row and column at fault.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import shutil
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gis import InputError, Problem, Scenario, ScenarioError, load_scenario
from gis.schema import LAYERS

__all__ = [
    "SCENARIO_FIELD",
    "UploadError",
    "UploadLimits",
    "UploadedFile",
    "display_name",
    "parse_options",
    "safe_extract",
    "scenario_from_upload",
]

log = logging.getLogger(__name__)

SCENARIO_FIELD = "file"
ALLOWED_OPTIONS = frozenset(
    {"x", "y", "crs", "coords", "rename", "values", "defaults", "id", "encoding", "layer"}
)
_DATA_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".csv", ".tsv")
_SIDECAR_SUFFIXES = (".shx", ".dbf", ".prj", ".cpg")
_CHUNK = 1 << 20
_SMALL_MEMBER = 1 << 20  # below this, any compression ratio is fine


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
        Largest total uncompressed size of one archive.
    max_ratio
        Largest compression ratio of a member bigger than 1 MiB (zip bombs reach 1000+).
    """

    max_bytes: int = 200 * 1024**2
    max_zip_members: int = 1000
    max_unzipped_bytes: int = 1024**3
    max_ratio: float = 200.0


@dataclass(frozen=True)
class UploadedFile:
    """One uploaded file, already saved under a server-chosen name.

    Attributes
    ----------
    field
        The form field: ``file`` or a layer name.
    path
        Where the server saved it.
    filename
        The client's file name, for messages only (never a path).
    """

    field: str
    path: Path
    filename: str | None = None


def display_name(filename: str | None, fallback: str = "upload") -> str:
    """A client file name made safe for messages: base name only, printable, at most 80 chars.

    Examples
    --------
    >>> display_name("../../etc/passwd"), display_name("C:\\\\data\\\\危化品.csv"), display_name(None)
    ('passwd', '危化品.csv', 'upload')
    """
    if not filename:
        return fallback
    base = re.split(r"[\\/]", filename)[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:80]
    return base or fallback


def _fail(layer: str, message: str, fix: str, file: str | None = None) -> UploadError:
    return UploadError([Problem(layer, message, fix, file=file)], "upload")


def _sniff(path: Path) -> str:
    """``zip``, ``gpkg``, ``geojson`` or ``csv`` from the first bytes of a file."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"{", b"[")):
        return "geojson"
    if b"\x00" in head or head.startswith(b"\x1f\x8b"):
        return "binary"
    return "csv"


# -- zip archives ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
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
        raise _fail("upload", f"the archive member `{shown}` has an unsafe path", "zip relative paths only")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise _fail("upload", f"the archive member `{shown}` is a symbolic link", "zip regular files only")
    if info.flag_bits & 0x1:
        raise _fail("upload", f"the archive member `{shown}` is encrypted", "zip without a password")


def safe_extract(
    archive: Path, dest: Path, limits: UploadLimits, *, shown: str = "upload.zip"
) -> list[_Member]:
    """Extract the data files of a zip into ``dest`` under server-chosen names.

    Directories, ``__MACOSX`` and hidden entries and files of other types are skipped.
    Raises :class:`UploadError` for unsafe or oversize archives.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(
            "upload", f"`{shown}` is not a readable zip archive ({exc})", "re-create the zip"
        ) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_zip_members:
            msg = f"`{shown}` has {len(infos)} entries, more than the limit of {limits.max_zip_members}"
            raise _fail("upload", msg, "send fewer files")
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_unzipped_bytes:
            limit = limits.max_unzipped_bytes
            msg = f"`{shown}` unpacks to {declared:,} bytes, more than the limit of {limit:,}"
            raise _fail("upload", msg, "send a smaller archive")
        groups: dict[tuple[str, str], dict[str, Path]] = {}
        shown_names: dict[tuple[str, str], str] = {}
        total = 0
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
                raise _fail("upload", f"`{member_name}` is an archive inside the archive", "unzip it first")
            if suffix not in _DATA_SUFFIXES + _SIDECAR_SUFFIXES:
                log.info("skipping archive member of unknown type %r", member_name)
                continue
            if info.file_size > _SMALL_MEMBER and info.file_size > limits.max_ratio * max(
                info.compress_size, 1
            ):
                msg = f"`{member_name}` is compressed more than {limits.max_ratio:g} times (a zip bomb?)"
                raise _fail("upload", msg, "send the data without extreme compression")
            key = (str(posix.parent).lower(), posix.stem.lower())
            group = groups.setdefault(key, {})
            if suffix in group:
                raise _fail("upload", f"`{member_name}` appears twice in the archive", "keep one copy")
            shown_names.setdefault(key, posix.stem)
            target = dest / f"f{list(groups).index(key):04d}{suffix}"
            total += _copy_member(zf, info, target, limits=limits, done=total, shown=member_name)
            group[suffix] = target
    members = []
    for key, files in groups.items():
        data = [s for s in _DATA_SUFFIXES if s in files]
        if len(data) > 1:
            what = ", ".join(shown_names[key] + s for s in data)
            raise _fail("upload", f"the archive has several files for one name: {what}", "rename all but one")
        if data:
            suffix = data[0]
            sidecars = frozenset(s for s in files if s in _SIDECAR_SUFFIXES)
            members.append(_Member(files[suffix], shown_names[key] + suffix, key[1], suffix, sidecars))
    return members


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
                    raise _fail("upload", msg, "send a smaller, well-formed archive")
                out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise _fail("upload", f"`{shown}` cannot be extracted ({exc})", "re-create the zip") from None
    return written


# -- options and TOML --------------------------------------------------------------------------


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise _fail(where, "an option value is not a finite number", "use a finite number")
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(v, where)}" for k, v in value.items()
        )
        return "{ " + inner + " }" if inner else "{}"
    raise _fail(where, f"option value {value!r} has an unsupported type", "use strings, numbers or tables")


def parse_options(text: str | None) -> dict[str, dict[str, Any]]:
    """Parse the ``options`` form field: JSON ``{layer: {option: value}}``.

    Examples
    --------
    >>> parse_options('{"hazards": {"coords": "gcj02"}}')
    {'hazards': {'coords': 'gcj02'}}
    """
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail("options", f"`options` is not valid JSON ({exc.msg})", 'send {"layer": {...}}') from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise _fail("options", "`options` must map layer names to tables", 'send {"hazards": {"x": "lon"}}')
    problems = []
    for layer, table in doc.items():
        if layer not in LAYERS:
            problems.append(Problem("options", f"unknown layer `{layer}`", f"use one of {sorted(LAYERS)}"))
        unknown = sorted(set(table) - ALLOWED_OPTIONS)
        if unknown:
            problems.append(
                Problem(
                    str(layer),
                    f"options {unknown} are not allowed in uploads",
                    f"use {sorted(ALLOWED_OPTIONS)}",
                )
            )
    if problems:
        raise UploadError(problems, "upload")
    return doc


def _write_toml(
    folder: Path, name: str, entries: Mapping[str, tuple[Path, str]], options: Mapping[str, Any]
) -> Path:
    lines = ["[scenario]", f"name = {_toml_value(name, 'name')}", ""]
    for layer, (path, _) in entries.items():
        lines += [f"[layers.{layer}]", f"path = {_toml_value(path.relative_to(folder).as_posix(), layer)}"]
        for key, value in options.get(layer, {}).items():
            lines.append(f"{key} = {_toml_value(value, layer)}")
        lines.append("")
    toml = folder / "scenario.toml"
    toml.write_text("\n".join(lines), encoding="utf-8")
    return toml


# -- turning files into layers -----------------------------------------------------------------


def _layer_from_member(member: _Member, layer: str) -> Path:
    if member.suffix == ".shp" and not {".shx", ".dbf"} <= member.sidecars:
        msg = f"the Shapefile `{member.shown}` lacks its .shx or .dbf file"
        raise _fail(layer, msg, "zip the .shp with its .shx, .dbf and .prj", member.shown)
    return member.path


def _layer_file(upload: UploadedFile, work: Path, limits: UploadLimits) -> tuple[Path, str]:
    """The server path of one per-layer upload, extracted when zipped, with its shown name."""
    shown = display_name(upload.filename, f"{upload.field} upload")
    kind = _sniff(upload.path)
    if kind == "zip":
        sub = work / f"z_{upload.field}"
        sub.mkdir()
        members = safe_extract(upload.path, sub, limits, shown=shown)
        if len(members) != 1:
            found = [m.shown for m in members] or "no data file"
            msg = f"the zip for layer `{upload.field}` must hold exactly one dataset (found {found})"
            raise _fail(upload.field, msg, "zip one Shapefile (with .shx, .dbf, .prj) or one file", shown)
        return _layer_from_member(members[0], upload.field), f"{shown}:{members[0].shown}"
    if kind == "binary":
        msg = "the file is neither GeoJSON, CSV, GeoPackage nor a zip"
        raise _fail(upload.field, msg, "send one of those formats (zip a Shapefile with its sidecars)", shown)
    suffix = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv"}[kind]
    target = work / f"l_{upload.field}{suffix}"
    shutil.move(upload.path, target)
    return target, shown


def _scrub(text: str, work: Path, shown: Mapping[str, str]) -> str:
    for path, name in sorted(shown.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, name)
    return text.replace(str(work) + "/", "").replace(str(work), "")


def _scrubbed(exc: InputError, work: Path, shown: Mapping[str, str]) -> UploadError:
    if isinstance(exc, ScenarioError):
        problems = [
            dataclasses.replace(
                p,
                message=_scrub(p.message, work, shown),
                fix=_scrub(p.fix, work, shown),
                file=_scrub(p.file, work, shown) if p.file else None,
            )
            for p in exc.problems
        ]
        return UploadError(problems, "upload")
    return _fail("upload", _scrub(str(exc), work, shown).rstrip("."), "see the message")


def scenario_from_upload(
    files: Sequence[UploadedFile],
    work: Path,
    *,
    name: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    limits: UploadLimits | None = None,
) -> Scenario:
    """Validate the uploaded files as one scenario.

    Parameters
    ----------
    files
        The uploaded files, saved by the caller inside ``work``.
    work
        A fresh temporary folder owned by this upload (the caller removes it).
    name
        Scenario name (default: the GeoPackage's, or ``Uploaded scenario``).
    options
        Per-layer reading options (see :func:`parse_options`).
    limits
        Archive guards.

    Raises
    ------
    UploadError
        Every problem found, with server paths replaced by the client's file names.
    """
    limits = limits or UploadLimits()
    options = dict(options or {})
    fields = [f.field for f in files]
    unknown = sorted({f for f in fields if f != SCENARIO_FIELD and f not in LAYERS})
    if unknown:
        fix = f"name each file field after its layer ({', '.join(LAYERS)}) or send one `{SCENARIO_FIELD}`"
        raise _fail("upload", f"unknown form field(s) {unknown}", fix)
    if not files:
        raise _fail("upload", "no file was uploaded", f"send `{SCENARIO_FIELD}` or one field per layer")
    if len(set(fields)) != len(fields):
        dup = sorted({f for f in fields if fields.count(f) > 1})
        raise _fail("upload", f"form field(s) {dup} sent more than once", "send each layer once")
    if SCENARIO_FIELD in fields and len(fields) > 1:
        raise _fail("upload", f"`{SCENARIO_FIELD}` was sent with layer fields", "send one or the other")
    shown: dict[str, str] = {}
    entries: dict[str, tuple[Path, str]] = {}
    if fields == [SCENARIO_FIELD]:
        upload = files[0]
        where = display_name(upload.filename, "scenario upload")
        kind = _sniff(upload.path)
        if kind == "gpkg":
            gpkg = work / "scenario.gpkg"
            shutil.move(upload.path, gpkg)
            return _load(work, gpkg, where, shown, name)
        if kind != "zip":
            msg = "a whole scenario must be a GeoPackage or a zip of per-layer files"
            fix = "send a single GeoJSON or CSV as a layer field instead, e.g. hazards=@hazards.csv"
            raise _fail("upload", msg, fix, where)
        sub = work / "z"
        sub.mkdir()
        members = safe_extract(upload.path, sub, limits, shown=where)
        if len(members) == 1 and members[0].suffix == ".gpkg" and members[0].stem not in LAYERS:
            return _load(work, members[0].path, f"{where}:{members[0].shown}", shown, name)
        for member in members:
            layer = member.stem.replace("-", "_").replace(" ", "_")
            if layer not in LAYERS:
                msg = f"`{member.shown}` does not name a layer"
                raise _fail("upload", msg, f"name each file after its layer: {', '.join(LAYERS)}", where)
            if layer in entries:
                raise _fail(layer, f"two files for layer `{layer}` in the archive", "keep one", where)
            entries[layer] = (_layer_from_member(member, layer), f"{where}:{member.shown}")
    else:
        for upload in files:
            entries[upload.field] = _layer_file(upload, work, limits)
    for layer in options:
        if layer not in entries:
            raise _fail(layer, f"`options` names layer `{layer}` that was not uploaded", "remove it")
    shown = {str(path): label for path, label in entries.values()}
    toml = _write_toml(work, name or "Uploaded scenario", entries, options)
    return _load(work, toml, "upload", shown, None)


def _load(work: Path, path: Path, where: str, shown: dict[str, str], name: str | None) -> Scenario:
    shown = {str(path): where, **shown}
    try:
        scenario = load_scenario(path)
    except InputError as exc:
        raise _scrubbed(exc, work, shown) from None
    except Exception as exc:  # GDAL and parsers raise many kinds on corrupt files
        log.warning("upload could not be read: %s", type(exc).__name__, exc_info=True)
        raise _fail(
            "upload", f"the upload cannot be read ({type(exc).__name__})", "check the files", where
        ) from None
    if name:
        scenario = dataclasses.replace(scenario, name=name)
    return scenario
