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
checked whole before anything is extracted, and again while extracting
(:mod:`service.api._archives`): unsafe names, doubled files or layers, sizes and compression
ratios over the limits of the archive, the upload and the server are refused. The files are
then read through :func:`gis.load_scenario` (a generated scenario TOML, or the GeoPackage),
so the library does all validation; a :class:`gis.ScenarioError` reaches the client as a
422 problem listing every layer, row and column at fault.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis import InputError, Problem, Scenario, ScenarioError, load_scenario
from gis.schema import LAYERS

from ._archives import (
    Member,
    UnpackBudget,
    UploadError,
    UploadLimits,
    UploadTally,
    display_name,
    fail,
    layer_name,
    safe_extract,
)

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "MAX_OPTIONS_DEPTH",
    "SCENARIO_FIELD",
    "UnpackBudget",
    "UploadError",
    "UploadLimits",
    "UploadTally",
    "UploadedFile",
    "display_name",
    "layer_name",
    "parse_options",
    "read_sheet_form",
    "safe_extract",
    "scenario_from_upload",
    "sheet_suffix",
]

log = logging.getLogger(__name__)

SCENARIO_FIELD = "file"
ALLOWED_OPTIONS = frozenset(
    {"x", "y", "crs", "coords", "rename", "values", "defaults", "id", "encoding", "layer"}
)
#: Deepest nesting of the ``options`` JSON: {layer: {option: {column: {value: new}}}}.
MAX_OPTIONS_DEPTH = 4


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


# -- options and TOML --------------------------------------------------------------------------


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise fail(where, "an option value is not a finite number", "use a finite number")
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(v, where)}" for k, v in value.items()
        )
        return "{ " + inner + " }" if inner else "{}"
    raise fail(where, f"option value {value!r} has an unsupported type", "use strings, numbers or tables")


def _max_nesting(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), without parsing it.

    Examples
    --------
    >>> _max_nesting('{"a": [1, {"b": "[[["}]}')
    3
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}]":
            depth -= 1
    return deepest


def parse_options(text: str | None) -> dict[str, dict[str, Any]]:
    """Parse the ``options`` form field: JSON ``{layer: {option: value}}``.

    Examples
    --------
    >>> parse_options('{"hazards": {"coords": "gcj02"}}')
    {'hazards': {'coords': 'gcj02'}}
    """
    if not text:
        return {}
    nesting = _max_nesting(text)
    if nesting > MAX_OPTIONS_DEPTH:
        msg = f"`options` is nested {nesting} levels deep, more than the {MAX_OPTIONS_DEPTH} it may be"
        raise fail(
            "options",
            msg,
            'send {"layer": {"option": value}}, e.g. {"hazards": {"rename": {"名称": "name"}}}',
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail("options", f"`options` is not valid JSON ({exc.msg})", 'send {"layer": {...}}') from None
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise fail("options", "`options` must map layer names to tables", 'send {"hazards": {"x": "lon"}}')
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


def _layer_from_member(member: Member, layer: str) -> Path:
    if member.suffix == ".shp" and not {".shx", ".dbf"} <= member.sidecars:
        msg = f"the Shapefile `{member.shown}` lacks its .shx or .dbf file"
        raise fail(layer, msg, "zip the .shp with its .shx, .dbf and .prj", member.shown)
    return member.path


def _layer_file(
    upload: UploadedFile, work: Path, limits: UploadLimits, tally: UploadTally
) -> tuple[Path, str]:
    """The server path of one per-layer upload, extracted when zipped, with its shown name."""
    shown = display_name(upload.filename, f"{upload.field} upload")
    kind = _sniff(upload.path)
    if kind == "zip":
        sub = work / f"z_{upload.field}"
        sub.mkdir()
        try:
            members = safe_extract(upload.path, sub, limits, shown=shown, expect="one", tally=tally)
        except UploadError as exc:
            raise UploadError(
                [
                    dataclasses.replace(p, layer=upload.field) if p.layer == "upload" else p
                    for p in exc.problems
                ],
                "upload",
            ) from None
        return _layer_from_member(members[0], upload.field), f"{shown}:{members[0].shown}"
    if kind == "binary":
        msg = "the file is neither GeoJSON, CSV, GeoPackage nor a zip"
        raise fail(upload.field, msg, "send one of those formats (zip a Shapefile with its sidecars)", shown)
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
    return fail("upload", _scrub(str(exc), work, shown).rstrip("."), "see the message")


def scenario_from_upload(
    files: Sequence[UploadedFile],
    work: Path,
    *,
    name: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    limits: UploadLimits | None = None,
    tally: UploadTally | None = None,
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
    tally
        What this upload may unpack, within the server's budget
        (:meth:`UnpackBudget.upload`); default: the per-upload limit alone.

    Raises
    ------
    UploadError
        Every problem found, with server paths replaced by the client's file names.
    BusyError
        When the uploads in progress already unpack as much as the server allows.
    """
    limits = limits or UploadLimits()
    tally = tally or UploadTally(None, limits.max_unzipped_bytes)
    options = dict(options or {})
    fields = [f.field for f in files]
    unknown = sorted({f for f in fields if f != SCENARIO_FIELD and f not in LAYERS})
    if unknown:
        fix = f"name each file field after its layer ({', '.join(LAYERS)}) or send one `{SCENARIO_FIELD}`"
        raise fail("upload", f"unknown form field(s) {unknown}", fix)
    if not files:
        raise fail("upload", "no file was uploaded", f"send `{SCENARIO_FIELD}` or one field per layer")
    if len(set(fields)) != len(fields):
        dup = sorted({f for f in fields if fields.count(f) > 1})
        raise fail("upload", f"form field(s) {dup} sent more than once", "send each layer once")
    if SCENARIO_FIELD in fields and len(fields) > 1:
        raise fail("upload", f"`{SCENARIO_FIELD}` was sent with layer fields", "send one or the other")
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
            raise fail("upload", msg, fix, where)
        sub = work / "z"
        sub.mkdir()
        members = safe_extract(upload.path, sub, limits, shown=where, expect="layers", tally=tally)
        if len(members) == 1 and members[0].suffix == ".gpkg" and layer_name(members[0].stem) not in LAYERS:
            return _load(work, members[0].path, f"{where}:{members[0].shown}", shown, name)
        for member in members:
            layer = layer_name(member.stem)
            entries[layer] = (_layer_from_member(member, layer), f"{where}:{member.shown}")
    else:
        for upload in files:
            entries[upload.field] = _layer_file(upload, work, limits, tally)
    for layer in options:
        if layer not in entries:
            raise fail(layer, f"`options` names layer `{layer}` that was not uploaded", "remove it")
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
        raise fail(
            "upload", f"the upload cannot be read ({type(exc).__name__})", "check the files", where
        ) from None
    if name:
        scenario = dataclasses.replace(scenario, name=name)
    return scenario


# -- one sheet with form fields (the register's import, the community survey) --------------------


async def read_sheet_form(
    request: Request, fields: Collection[str], *, what: str, max_bytes: int
) -> tuple[dict[str, str], bytes, str]:
    """A multipart form of one sheet as ``file`` and text ``fields``: the fields, the bytes, the shown name.

    ``what`` names the request in messages (``"An import"``). Anything but ``file`` and
    ``fields``, or a second file, is refused (:class:`gis.InputError`, a 422); a body or file
    over ``max_bytes`` is a 413 (:class:`~service.api.problems.BodyTooLargeError`).
    """
    from starlette.datastructures import UploadFile

    from .problems import BodyTooLargeError

    allowed = set(fields) | {"file"}
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        msg = f"{what} is multipart/form-data with the sheet as `file`. Fix: send it as a form."
        raise InputError(msg)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise BodyTooLargeError(max_bytes)
    values: dict[str, str] = {}
    data, name = b"", ""
    async with request.form(max_files=1, max_fields=len(allowed)) as form:
        for key, value in form.multi_items():
            if key not in allowed:
                msg = f"Form field `{key}` is not part of {what.lower()}. Fix: send {sorted(allowed)}."
                raise InputError(msg)
            if isinstance(value, UploadFile):
                if key != "file":
                    msg = f"File field `{key}` is not part of {what.lower()}. Fix: send the sheet as `file`."
                    raise InputError(msg)
                data = await value.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise BodyTooLargeError(max_bytes)
                name = display_name(value.filename, "sheet")
            elif value.strip():
                values[key] = value.strip()
    if not data:
        msg = f"{what} has no `file`, or it is empty. Fix: attach the sheet (.csv or .xlsx) as `file`."
        raise InputError(msg)
    return values, data, name


def sheet_suffix(data: bytes) -> str:
    r"""A sheet's kind from its content, never from the client's name: .xlsx is a zip.

    Examples
    --------
    >>> sheet_suffix(b"PK\x03\x04..."), sheet_suffix("社区编号,调查日期".encode())
    ('.xlsx', '.csv')
    """
    return ".xlsx" if data[:4] == b"PK\x03\x04" else ".csv"
