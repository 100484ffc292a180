"""Census tables: read one (codes kept as text, UTF-8 or GB18030) and join it to polygons.

A statistics bureau's table has one row per community (社区) or street (街道), keyed by a code
or a name. :func:`read_census` reads it without mangling the codes; :func:`join_census` joins it
to community polygons by code or by name and reports what matched on one side only, the usual
surprise (communities merged or split since the census, polygons drawn for new estates).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from .errors import InputError

__all__ = ["POPULATION_NAMES", "CensusJoin", "join_census", "normalise_key", "read_census"]

log = logging.getLogger(__name__)

#: Census column names read as ``population`` when the table has no ``population`` column.
POPULATION_NAMES: tuple[str, ...] = (
    "population",
    "常住人口",
    "总人口",
    "人口",
    "户籍人口",
    "pop",
    "residents",
)
_SPACE = re.compile(r"\s+")


def read_census(path: str | Path, key: str, *, encoding: str | None = None) -> pd.DataFrame:
    r"""Read a census CSV, keeping the key column as text; UTF-8 first, then GB18030.

    Parameters
    ----------
    path
        CSV (``.csv``, ``.tsv``, ``.txt``) with one row per area.
    key
        Column holding the area code or name (codes such as ``140105001001`` keep their
        leading digits and zeros).
    encoding
        Force a text encoding (default: try UTF-8, then GB18030, as Excel saves Chinese tables).

    Returns
    -------
    pandas.DataFrame
        The table with ``key`` as text, in file order.

    Raises
    ------
    InputError
        When the file is missing or unreadable, or has no column ``key``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> csv = pathlib.Path(tempfile.mkdtemp()) / "census.csv"
    >>> _ = csv.write_text("社区代码,常住人口\n0101,1200\n0102,800\n", encoding="gb18030")
    >>> read_census(csv, "社区代码")["社区代码"].tolist()
    ['0101', '0102']
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Census table `{path}` does not exist. Fix: check the path."
        raise InputError(msg)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    for enc in [encoding] if encoding else ["utf-8-sig", "gb18030"]:
        try:
            table = pd.read_csv(path, sep=sep, dtype={key: str}, encoding=enc)
            break
        except UnicodeDecodeError:
            continue
        except Exception as exc:  # pandas' parser errors
            msg = f"Census table `{path}` cannot be parsed ({exc}). Fix: check the delimiter and quoting."
            raise InputError(msg) from None
    else:
        msg = f"Census table `{path}` is neither UTF-8 nor GB18030. Fix: save it as UTF-8 CSV."
        raise InputError(msg)
    if key not in table.columns:
        msg = (
            f"Census table `{path}` has no column `{key}` (it has {list(table.columns)}). "
            "Fix: name the code or name column with `--census-key`."
        )
        raise InputError(msg)
    return table


def normalise_key(value: object) -> str | None:
    r"""Text key for matching: Unicode NFKC, trimmed, inner spaces collapsed, case-folded.

    Examples
    --------
    >>> normalise_key("  Garden  Estate "), normalise_key("\uff21\uff22\uff11"), normalise_key(None)
    ('garden estate', 'ab1', None)
    """
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = _SPACE.sub(" ", unicodedata.normalize("NFKC", str(value))).strip().casefold()
    return text or None


@dataclass(frozen=True)
class CensusJoin:
    """A census table joined to polygons, with what matched on one side only.

    Attributes
    ----------
    joined
        The polygons (same index and order) with the census columns; NaN where unmatched.
    on
        What the census key was matched against: ``"index"`` or a polygon column name.
    matched
        Polygon ids that found a census row.
    only_census
        Census keys (as written in the table) that match no polygon.
    only_polygons
        Polygon ids that match no census row.
    unmatched_population
        Residents of the census rows that match no polygon (0 without a population column).
    """

    joined: gpd.GeoDataFrame
    on: str
    matched: tuple[object, ...]
    only_census: tuple[str, ...]
    only_polygons: tuple[object, ...]
    unmatched_population: float

    def report(self) -> str:
        """A short text for people: how many matched, and the first unmatched keys each side."""
        lines = [
            f"census joined by {'polygon id' if self.on == 'index' else f'polygon `{self.on}`'}: "
            f"{len(self.matched)} of {len(self.joined)} polygons matched"
        ]
        if self.only_census:
            lost = self.unmatched_population
            lost_text = f" ({lost:,.0f} residents not on the map)" if lost else ""
            shown = list(self.only_census[:20])
            lines.append(f"census rows without a polygon ({len(self.only_census)}): {shown}{lost_text}")
        if self.only_polygons:
            lines.append(
                f"polygons without census ({len(self.only_polygons)}): {list(self.only_polygons[:20])}"
            )
        return "\n".join(lines)


def _population_column(census: pd.DataFrame) -> str | None:
    return next((c for c in POPULATION_NAMES if c in census.columns), None)


def join_census(
    polygons: gpd.GeoDataFrame,
    census: pd.DataFrame,
    *,
    key: str | None = None,
    on: str | Sequence[str] = "index",
) -> CensusJoin:
    """Join a census table to polygons by code or name, and report what matched on one side only.

    Parameters
    ----------
    polygons
        Community polygons, indexed by id.
    census
        The table; its key is the column ``key``, or its index when ``key`` is None.
    key
        Census column holding the code or name.
    on
        What to match the key against: ``"index"`` (the polygons' ids), a polygon column
        (``"name"``, ``"ref"``), or several of them: the one that matches the most polygons
        wins. Keys are compared after :func:`normalise_key` (case, width and spaces ignored).

    Returns
    -------
    CensusJoin
        The joined polygons and the match report.

    Raises
    ------
    InputError
        When the key is missing, the census has duplicate keys, or ``on`` names no column.

    Examples
    --------
    >>> from shapely import box
    >>> polys = gpd.GeoDataFrame({"name": ["East", "West", "New Estate"]}, index=["a", "b", "c"],
    ...                          geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=32649)
    >>> census = pd.DataFrame({"社区名称": ["east", "West ", "Old Town"], "常住人口": [100, 200, 50]})
    >>> j = join_census(polys, census, key="社区名称", on=["index", "name"])
    >>> j.on, j.joined["常住人口"].tolist(), j.only_census, j.only_polygons
    ('name', [100.0, 200.0, nan], ('Old Town',), ('c',))
    """
    table = census.copy()
    if key is not None:
        if key not in table.columns:
            msg = (
                f"The census table has no column `{key}` (it has {list(table.columns)}). "
                "Fix: name the key column."
            )
            raise InputError(msg)
        table = table.set_index(key, drop=False)
    keys = pd.Series([normalise_key(k) for k in table.index], index=table.index)
    dup = keys[keys.duplicated(keep=False) & keys.notna()]
    if len(dup):
        msg = (
            f"The census table has duplicate keys {sorted(set(map(str, dup.index)))[:10]}. "
            "Fix: keep one row per area (sum or drop the duplicates)."
        )
        raise InputError(msg)
    candidates = [on] if isinstance(on, str) else list(on)
    missing = [c for c in candidates if c != "index" and c not in polygons.columns]
    if missing:
        msg = (
            f"`on` names polygon column(s) {missing} that do not exist (have {list(polygons.columns)}). "
            "Fix: correct `on`."
        )
        raise InputError(msg)
    lookup = dict(zip(keys.to_numpy(), range(len(table)), strict=True))
    best: tuple[int, str, list[int | None]] | None = None
    for column in candidates:
        values = polygons.index if column == "index" else polygons[column]
        rows = [lookup.get(normalise_key(v)) for v in values]
        hits = sum(r is not None for r in rows)
        if best is None or hits > best[0]:
            best = (hits, column, rows)
    assert best is not None
    _, column, rows = best
    taken = [r if r is not None else -1 for r in rows]
    right = table.reset_index(drop=True).reindex(taken).set_axis(polygons.index)
    right = right.drop(columns=[c for c in right.columns if c in polygons.columns or c == key])
    joined = polygons.join(right, how="left")
    used = {r for r in rows if r is not None}
    only_census = tuple(str(table.index[i]) for i in range(len(table)) if i not in used)
    pop = _population_column(table)
    unused = [i for i in range(len(table)) if i not in used]
    lost = float(pd.to_numeric(table[pop], errors="coerce").iloc[unused].sum()) if pop else 0.0
    result = CensusJoin(
        joined=joined,
        on=column,
        matched=tuple(polygons.index[[r is not None for r in rows]]),
        only_census=only_census,
        only_polygons=tuple(polygons.index[[r is None for r in rows]]),
        unmatched_population=lost,
    )
    log.info("%s", result.report())
    return result
