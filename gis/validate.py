"""Check scenario layers and report every problem at once.

Each :class:`~gis.errors.Problem` names the file, layer, row ids and column
and says how to fix it. :func:`validate_layer` never stops at the first
problem, so a user fixes a file in one pass.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .errors import Problem
from .schema import LAYERS, ColumnSpec, LayerSpec

__all__ = [
    "index_by_id",
    "normalise_layer",
    "parse_inventory",
    "validate_layer",
    "validate_layers",
    "vocabulary_key",
]

# A projected layer whose whole extent fits in this many units is probably in degrees.
_DEGREE_LIKE_EXTENT = 360.0


def _ids(gdf: gpd.GeoDataFrame, mask: pd.Series | np.ndarray, spec: LayerSpec) -> tuple[object, ...]:
    """Row ids for a mask: the `id` column when usable, else 0-based row numbers."""
    mask = np.asarray(mask, dtype=bool)
    if spec.has_ids and "id" in gdf.columns:
        ids = gdf["id"].to_numpy()[mask]
        return tuple(
            f"row {i}" if pd.isna(v) or str(v).strip() == "" else v
            for i, v in zip(np.flatnonzero(mask), ids, strict=True)
        )
    return tuple(int(i) for i in np.flatnonzero(mask))


def validate_layer(
    gdf: gpd.GeoDataFrame,
    layer: str,
    *,
    file: str | None = None,
) -> list[Problem]:
    """Return every problem of the scenario layer ``layer`` (empty when it is valid).

    Examples
    --------
    >>> from shapely import Point
    >>> gdf = gpd.GeoDataFrame(
    ...     {"id": ["a", "a"], "name": ["x", "y"], "category": ["mining", "chem"]},
    ...     geometry=[Point(112.5, 37.8), Point(112.6, 37.9)], crs=4326)
    >>> for p in validate_layer(gdf, "hazards"):
    ...     print(p)  # doctest: +ELLIPSIS
    layer `hazards`, rows [a], column `id`: duplicate id... Fix: give every row a unique id
    layer `hazards`, rows [a], column `category`: unknown value(s) ['chem']... Fix: use one of ...
    """
    spec = LAYERS[layer]
    problems: list[Problem] = []

    def add(
        message: str, fix: str, mask: object = None, column: str | None = None, *, key: str | None = None
    ) -> None:
        rows = _ids(gdf, mask, spec) if mask is not None else ()
        values = {"column": column} if column else {}
        problems.append(
            Problem(layer, message, fix, file=file, rows=rows, column=column, key=key, values=values)
        )

    if len(gdf) == 0:
        add("the layer is empty", "add features, or leave the layer out if it is optional", key="layer_empty")
        return problems
    problems += _crs_problems(gdf, spec, file)
    missing = [c for c in spec.required_columns if c not in gdf.columns]
    for column in missing:
        add(
            "required column is missing",
            f'add the column, or map an existing one with `rename = {{ "..." = "{column}" }}`',
            column=column,
            key="column_missing",
        )
    problems += _geometry_problems(gdf, spec, file)
    if spec.has_ids and "id" in gdf.columns:
        ids = gdf["id"]
        empty = ids.isna() | (ids.astype(str).str.strip() == "")
        if empty.any():
            add("empty id", "give every row an id", empty, "id", key="empty_id")
        dup = ids.duplicated(keep=False) & ~empty
        if dup.any():
            first = ids.duplicated(keep="first") & ~empty
            add(
                "duplicate id (each listed id occurs more than once)",
                "give every row a unique id",
                first,
                "id",
                key="duplicate_id",
            )
    for column_spec in spec.columns:
        if column_spec.name in gdf.columns and column_spec.name != "id":
            problems += _column_problems(gdf, spec, column_spec, file)
    return problems


def _crs_problems(gdf: gpd.GeoDataFrame, spec: LayerSpec, file: str | None) -> list[Problem]:
    if gdf.crs is None:
        return [
            Problem(
                spec.name,
                "the layer has no CRS",
                'declare it with `crs = "EPSG:4326"` (or the real one) in the scenario TOML',
                file=file,
                key="no_crs",
            )
        ]
    geoms = gdf.geometry
    ok = ~(geoms.isna() | geoms.is_empty)
    if not ok.any():
        return []
    b = geoms[ok].bounds
    if gdf.crs.is_geographic:
        bad = np.zeros(len(gdf), dtype=bool)
        bad[np.flatnonzero(ok)] = (
            (b.miny < -90) | (b.maxy > 90) | (b.minx < -180) | (b.maxx > 180)
        ).to_numpy()
        if bad.any():
            return [
                Problem(
                    spec.name,
                    "coordinates out of range for degrees (latitude beyond +-90 or longitude beyond "
                    "+-180): latitude and longitude look swapped, or the data is not in degrees",
                    "swap the coordinate columns (x = longitude, y = latitude), or declare the real "
                    'projected CRS with `crs = "EPSG:..."`',
                    file=file,
                    rows=_ids(gdf, bad, spec),
                )
            ]
        return []
    extent = max(b.maxx.max() - b.minx.min(), b.maxy.max() - b.miny.min())
    inside_degrees = (
        b.minx.min() >= -180 and b.maxx.max() <= 180 and b.miny.min() >= -90 and b.maxy.max() <= 90
    )
    if inside_degrees and extent < _DEGREE_LIKE_EXTENT and len(gdf) > 1:
        return [
            Problem(
                spec.name,
                f"the CRS `{gdf.crs.to_string()}` is in metres but the coordinates look like "
                f"degrees (extent {extent:.4g} units)",
                'declare `crs = "EPSG:4326"` for longitude/latitude data',
                file=file,
            )
        ]
    return []


def _geometry_problems(gdf: gpd.GeoDataFrame, spec: LayerSpec, file: str | None) -> list[Problem]:
    problems = []
    geoms = gdf.geometry
    empty = (geoms.isna() | geoms.is_empty).to_numpy()
    if empty.any():
        problems.append(
            Problem(
                spec.name,
                "missing or empty geometry",
                "add coordinates or remove these rows",
                file=file,
                rows=_ids(gdf, empty, spec),
                key="missing_geometry",
            )
        )
    present = ~empty
    kinds = np.asarray(shapely.get_type_id(np.asarray(geoms.array)))
    names = np.array(
        [
            "Point",
            "LineString",
            "LinearRing",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
            "GeometryCollection",
        ],
        dtype=object,
    )
    type_names = np.where(kinds >= 0, names[np.clip(kinds, 0, 7)], "")
    wrong = present & ~np.isin(type_names, list(spec.geometry))
    if wrong.any():
        found = sorted(set(type_names[wrong]))
        problems.append(
            Problem(
                spec.name,
                f"geometry type {found} where {sorted(spec.geometry)} is expected",
                "convert the geometries (for example points of polygons with a representative point)",
                file=file,
                rows=_ids(gdf, wrong, spec),
            )
        )
    invalid = present & ~np.asarray(shapely.is_valid(np.asarray(geoms.array)), dtype=bool)
    if invalid.any():
        problems.append(
            Problem(
                spec.name,
                "invalid geometry (self-intersection, unclosed ring...)",
                "repair it, for example with `shapely.make_valid` or QGIS 'Fix geometries'",
                file=file,
                rows=_ids(gdf, invalid, spec),
                key="invalid_geometry",
            )
        )
    return problems


def _column_problems(
    gdf: gpd.GeoDataFrame, spec: LayerSpec, column: ColumnSpec, file: str | None
) -> list[Problem]:
    s = gdf[column.name]
    present = s.notna().to_numpy()
    out: list[Problem] = []

    def add(message: str, fix: str, mask: np.ndarray, *, key: str | None = None, **values: object) -> None:
        rows = _ids(gdf, mask, spec)
        out.append(
            Problem(spec.name, message, fix, file=file, rows=rows, column=column.name, key=key, values=values)
        )

    if column.required:
        missing = ~present
        if missing.any():
            add("missing value", "fill in a value for every row", missing, key="missing_value")
    if column.values is not None:
        unknown = present & ~vocabulary_key(s).isin(column.values).to_numpy()
        if unknown.any():
            found = sorted({str(v) for v in s[unknown]})[:10]
            keys = vocabulary_key(pd.Series(found))
            hints = {
                v: difflib.get_close_matches(k, column.values, n=1) for v, k in zip(found, keys, strict=True)
            }
            close = "; ".join(f"{v!r} -> {m[0]!r}?" for v, m in hints.items() if m)
            add(
                f"unknown value(s) {found}" + (f" (did you mean: {close})" if close else ""),
                f"use one of {list(column.values)} (map your own names "
                f'with `values = {{ {column.name} = {{ "..." = "..." }} }}`)',
                unknown,
            )
    elif column.kind in {"float", "int", "share"}:
        num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
        not_num = present & np.isnan(num)
        if not_num.any():
            add(
                "not a number",
                "write plain numbers (no units or thousands separators)",
                not_num,
                key="not_a_number",
            )
        if column.minimum is not None:
            low = present & (num < column.minimum)
            if low.any():
                add(
                    f"negative value (must be >= {column.minimum:g})",
                    "correct the value",
                    low,
                    key="negative",
                    minimum=f"{column.minimum:g}",
                )
        if column.kind == "share":
            out_of = present & ((num < 0) | (num > 1))
            if out_of.any():
                add(
                    "share outside 0..1",
                    "give shares as fractions (0.25, not 25%)",
                    out_of,
                    key="share_range",
                )
    elif column.kind == "json":
        bad = np.zeros(len(gdf), dtype=bool)
        for i, value in enumerate(s.to_numpy()):
            if present[i] and str(value).strip() and parse_inventory(value) is None:
                bad[i] = True
        if bad.any():
            add(
                "not a valid inventory",
                'write a JSON list like [{"substance": "chlorine", "q_t": 12, '
                '"Q_t": 5}] with q_t >= 0 and Q_t > 0',
                bad,
            )
    return out


def parse_inventory(value: object) -> list[dict[str, float | str]] | None:
    """Parse a hazard ``inventory`` cell; ``None`` when it is malformed.

    Examples
    --------
    >>> parse_inventory('[{"substance": "chlorine", "q_t": 12, "Q_t": 5}]')
    [{'substance': 'chlorine', 'q_t': 12.0, 'Q_t': 5.0}]
    >>> parse_inventory('[{"substance": "chlorine", "q_t": 12, "Q_t": 0}]') is None
    True
    """
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return []
    try:
        items = json.loads(str(value))
    except json.JSONDecodeError:
        return None
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not isinstance(item, Mapping) or not {"substance", "q_t", "Q_t"} <= set(item):
            return None
        try:
            q, big_q = float(item["q_t"]), float(item["Q_t"])
        except (TypeError, ValueError):
            return None
        if not (q >= 0 and big_q > 0):
            return None
        entry: dict[str, float | str] = {
            "substance": str(item["substance"]),
            "q_t": q,
            "Q_t": big_q,
        }
        if "beta" in item:
            entry["beta"] = float(item["beta"])
        out.append(entry)
    return out


def validate_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    files: Mapping[str, str] | None = None,
    *,
    required: Iterable[str] | None = None,
) -> list[Problem]:
    """Validate every layer and report missing required layers.

    Parameters
    ----------
    layers
        ``{layer name: GeoDataFrame}``.
    files
        ``{layer name: file}`` for the messages.
    required
        Layers that must be present; default: the ones marked required in :mod:`gis.schema`.
    """
    files = files or {}
    problems: list[Problem] = []
    needed = list(required) if required is not None else [n for n, s in LAYERS.items() if s.required]
    for name in needed:
        if name not in layers:
            problems.append(
                Problem(
                    name,
                    "required layer is missing",
                    f"add a layer `{name}` to the scenario (see README, Scenario)",
                )
            )
    for name, gdf in layers.items():
        if name not in LAYERS:
            problems.append(Problem(name, "unknown layer name", f"use one of {list(LAYERS)}, or remove it"))
            continue
        problems += validate_layer(gdf, name, file=files.get(name))
    return problems


def vocabulary_key(values: pd.Series) -> pd.Series:
    """Values as vocabulary entries are written: trimmed, lower case, ``_`` for spaces and dashes.

    So ``"Hazardous chemicals"``, ``"FUEL-GAS"`` and ``" mining "`` match the vocabulary.

    Examples
    --------
    >>> vocabulary_key(pd.Series(["Hazardous chemicals", "FUEL-GAS", " mining "])).tolist()
    ['hazardous_chemicals', 'fuel_gas', 'mining']
    """
    return values.astype(str).str.strip().str.lower().str.replace(r"[\s\-]+", "_", regex=True)


def index_by_id(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The one rule for ids: a layer with an ``id`` column is indexed by it, as strings.

    The ``id`` column is kept and the index is unnamed. :func:`gis.load_scenario` and
    :func:`gis.demo_city` return every layer this way, so analyses take the id from the index;
    functions that accept a plain mapping of layers apply the same rule. A layer without an
    ``id`` column, or already indexed by it, is returned as given.

    Examples
    --------
    >>> gdf = gpd.GeoDataFrame({"id": [7, 8]}, geometry=[None, None])
    >>> out = index_by_id(gdf)
    >>> out.index.tolist(), out.index.name, list(out.columns)
    (['7', '8'], None, ['id', 'geometry'])
    >>> index_by_id(out) is out
    True
    """
    if "id" not in gdf.columns:
        return gdf
    ids = pd.Index(gdf["id"].astype(str).to_numpy(), dtype=object)
    if gdf.index.name is None and gdf.index.dtype == object and gdf.index.equals(ids):
        return gdf
    return gdf.set_index(ids)


def normalise_layer(gdf: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Coerce a *valid* layer to the scenario types: string ids, float numbers, defaults filled."""
    spec = LAYERS[layer]
    out = gdf.copy()
    for column in spec.columns:
        if column.name not in out.columns:
            if column.fill_from is not None and column.fill_from in out.columns:
                out[column.name] = out[column.fill_from]
            elif column.default is not None:
                out[column.name] = column.default
                continue
            else:
                continue
        if column.fill_from is not None and column.fill_from in out.columns:
            out[column.name] = out[column.name].where(out[column.name].notna(), out[column.fill_from])
        if column.kind in {"float", "int", "share"}:
            out[column.name] = pd.to_numeric(out[column.name], errors="coerce").astype(float)
        elif column.kind == "str":
            s = out[column.name]
            if column.values is not None:
                s = s.where(s.isna(), vocabulary_key(s))
            out[column.name] = s.where(s.isna(), s.astype(str))
            if column.default is not None:
                out[column.name] = out[column.name].fillna(column.default)
    return index_by_id(out) if spec.has_ids else out
