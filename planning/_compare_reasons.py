"""The reasons of a before / after comparison, in words of the glossary (issue 19).

A reason is kept as its parts, ``(glossary text key, values)``, so one comparison can be read in
either language (:func:`render`); a value that is itself a word (a hazard category, a measure,
a risk level) is a :class:`Word`, translated when the reason is rendered. :class:`Changes` says
what differs between the two sides beyond their figures (the safety measures done, the stations
added or removed, the hazard sources changed), so the reasons can name it;
:func:`serving_station` finds each unit's station from a station districts layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError
from gis.i18n import Lang, load_glossary

__all__ = ["Changes", "Joined", "Part", "Text", "Word", "render", "render_all", "serving_station"]

#: The hazard columns of a risk layer that are not a hazard's share.
NOT_HAZARDS = frozenset({"hazard_vs_median", "hazard_factor", "hazard_index", "hazard_term"})
#: Hazard sources named per reason, nearest first.
MAX_SOURCES = 3


class Word(NamedTuple):
    """A word translated when a reason is rendered: a glossary text ``key``, else ``fallback``."""

    key: str
    fallback: str


class Text(NamedTuple):
    """A glossary text ``key`` with its values (strings, words, texts or lists), rendered later."""

    key: str
    values: Mapping[str, Value]


class Joined(NamedTuple):
    """Several values, rendered one by one and joined by the language's list separator."""

    items: tuple[Value, ...]


Value = str | Word | Text | Joined
#: One reason of a unit: a :class:`Text`.
Part = Text


@dataclass(frozen=True)
class Changes:
    """What differs between the two sides of a comparison, so its reasons can name it.

    Attributes
    ----------
    measures
        The safety measures done on the other side, one row each: ``community_id`` and
        ``measure`` (a measure id of ``planning/data/upgrade_measures.toml``, named by the
        glossary's ``cmp_m_<id>``) and optionally ``title`` (the words of a city's own measure).
    stations_added, stations_removed
        Fire station ids only on the other side, only on the baseline.
    hazards
        The hazard sources changed, indexed by source id: ``category``, geometry (reprojected to
        the units' CRS), optionally ``name`` and ``majors_closed`` (the open major hidden dangers
        closed at the source).
    """

    measures: pd.DataFrame | None = None
    stations_added: tuple[str, ...] = ()
    stations_removed: tuple[str, ...] = ()
    hazards: gpd.GeoDataFrame | None = field(default=None, repr=False)


def render(parts: Sequence[Text], lang: Lang) -> str:
    """One unit's reasons in ``lang``, joined.

    Examples
    --------
    >>> level = Text("cmp_r_level", {"before": level_word("red"), "after": level_word("orange")})
    >>> render([Text("cmp_r_covered", {}), level], "en")
    'now covered in time; level red -> orange'
    """
    return ("\uff1b" if lang == "zh" else "; ").join(_value(p, lang) for p in parts)


def render_all(parts: Sequence[Sequence[Text]], lang: Lang) -> list[str]:
    """:func:`render` of every unit."""
    return [render(p, lang) for p in parts]


def _value(value: Value, lang: Lang) -> str:
    if isinstance(value, Text):
        filled = {k: _value(v, lang) for k, v in value.values.items()}
        return load_glossary().text(value.key, lang, **filled)
    if isinstance(value, Word):
        g = load_glossary()
        return g.text(value.key, lang) if value.key in g.texts else value.fallback
    if isinstance(value, Joined):
        return ("\u3001" if lang == "zh" else ", ").join(_value(v, lang) for v in value.items)
    return str(value)


def level_word(level: str) -> Word:
    """A risk level's colour name."""
    return Word(f"cmp_level_{level}", level)


def hazard_word(column: str) -> Word:
    """The hazard category (or natural hazard) of a ``hazard_<name>`` column."""
    name = column.removeprefix("hazard_")
    return Word(f"cmp_cat_{name}", name.replace("_", " "))


def measure_word(measure: str, title: str | None = None) -> Word:
    """A safety measure's name: the glossary's ``cmp_m_<id>``, else its own title."""
    return Word(f"cmp_m_{measure}", title or measure.replace("_", " "))


def serving_station(units: gpd.GeoDataFrame, districts: gpd.GeoDataFrame) -> pd.Series:
    """Each unit's station: the station district its representative point lies in.

    Parameters
    ----------
    units
        Polygons or points, indexed by unit id.
    districts
        A station districts layer (``districts`` of ``coverage.gpkg``,
        :func:`planning.station_districts`): indexed by station id, or with a ``station`` column.

    Returns
    -------
    pandas.Series
        Station id per unit (object), None where no district holds the unit.

    Examples
    --------
    >>> import shapely
    >>> d = gpd.GeoDataFrame({"station": ["S1", "S2"]}, geometry=[shapely.box(0, 0, 5, 9),
    ...                      shapely.box(5, 0, 9, 9)], crs=32650)
    >>> u = gpd.GeoDataFrame(geometry=[shapely.box(1, 1, 2, 2), shapely.box(6, 1, 8, 2)],
    ...                      index=["a", "b"], crs=32650)
    >>> serving_station(u, d).tolist()
    ['S1', 'S2']
    """
    d = districts
    if "station" in d.columns:
        d = d.set_index(d["station"].astype(str))
    elif "station_id" in d.columns:
        d = d.set_index(d["station_id"].astype(str))
    if units.crs is not None and d.crs is not None and d.crs != units.crs:
        d = d.to_crs(units.crs)
    elif units.crs is not None and d.crs is None:
        msg = (
            "The station districts layer has no CRS. "
            "Fix: write it with riskplan (coverage.gpkg, `districts`)."
        )
        raise InputError(msg)
    pts = units.geometry.representative_point()
    ui, di = d.sindex.query(pts.values, predicate="intersects")
    out = pd.Series([None] * len(units), index=units.index, dtype=object)
    if len(ui):
        first = pd.Series(di, index=ui).groupby(level=0).min()  # a point on a shared border: one
        out.iloc[first.index.to_numpy()] = d.index.astype(str).to_numpy()[first.to_numpy()]
    return out


def hazard_parts(
    units: gpd.GeoDataFrame,
    column: str,
    change: npt.NDArray[np.float64],
    rows: npt.NDArray[np.intp],
    hazards: gpd.GeoDataFrame | None,
) -> list[Text]:
    """The reasons of a changed hazard share at ``rows``.

    Each names the changed sources of its category nearest the unit (at most :data:`MAX_SOURCES`).
    """
    cat = column.removeprefix("hazard_")
    src = None
    if hazards is not None and len(hazards) and "category" in hazards.columns:
        src = hazards[hazards["category"].astype(str) == cat]
        if units.crs is not None and src.crs is not None and src.crs != units.crs:
            src = src.to_crs(units.crs)
    out: list[Text] = []
    for i in rows:
        values: dict[str, Value] = {"category": hazard_word(column), "change": f"{change[i]:+.2f}"}
        if src is None or not len(src):
            out.append(Text("cmp_r_hazard", values))
            continue
        dist = src.geometry.distance(units.geometry.iloc[i]).sort_values(kind="stable")
        names: list[Value] = []
        for sid in dist.index[:MAX_SOURCES]:
            row = src.loc[sid]
            name = str(row["name"]) if "name" in src.columns and pd.notna(row["name"]) else ""
            label = f"{sid} {name}" if name and name != str(sid) else str(sid)
            closed = int(row["majors_closed"]) if "majors_closed" in src.columns else 0
            names.append(
                Text("cmp_r_source_closed", {"source": label, "count": str(closed)}) if closed else label
            )
        out.append(Text("cmp_r_hazard_sources", {**values, "sources": Joined(tuple(names))}))
    return out
