"""Chinese and English: the glossary, the language setting and Chinese conventions for dates and codes.

Everything a person reads takes its words from one reviewed glossary
(``gis/data/glossary.toml``): :func:`load_glossary` loads and checks it (every entry in both
languages, the same ``{placeholders}`` in each), :meth:`Glossary.term` gives a domain term
(风险点, 隐患, 销号 ...), :meth:`Glossary.text` a sentence with its placeholders filled.

The language of every output (the map, the report, its figures, the register's pages, the CLI's
summaries and errors, the API's answers) comes from ONE rule, :func:`resolve_lang`:

1. the explicit choice (``--lang``, ``lang=`` in Python, ``?lang=``, the pages' switch);
2. ``$RISKPLAN_LANG`` (:data:`LANG_ENV`, :func:`env_lang`; a bad value is an InputError);
3. the HTTP request's ``Accept-Language`` (the API only; :func:`parse_accept_language`);
4. the scenario TOML's ``[scenario] lang`` (:func:`scenario_lang`);
5. the scenario's place (:func:`default_lang` of :func:`scenario_bounds_wgs84`: Chinese for a
   scenario in China, else English). A synthetic scenario's coordinates count as its place: the
   demo city is set in Shanxi, so it is Chinese;
6. English.

Chinese administrative conventions: :func:`format_month` / :func:`format_date` (2026年12月 in
Chinese), and :func:`check_division_code` for the 12-digit statistical division codes (区划代码)
of communities and streets.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal, cast

from .errors import InputError
from .tables import TableOverrides, load_table

__all__ = [
    "LANGS",
    "LANG_ENV",
    "Glossary",
    "Lang",
    "check_division_code",
    "check_division_codes",
    "default_lang",
    "env_lang",
    "format_date",
    "format_month",
    "load_glossary",
    "parse_accept_language",
    "resolve_lang",
    "scenario_bounds_wgs84",
    "scenario_lang",
]

Lang = Literal["zh", "en"]
#: The languages riskplan speaks, the first the default for scenarios in China.
LANGS: tuple[Lang, ...] = ("zh", "en")

_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
#: The environment variable with the default language of every output (``zh`` or ``en``).
LANG_ENV = "RISKPLAN_LANG"
# The layers whose extent places a scenario, in this order (``units``: a bare layer of units).
_BOUNDS_LAYERS = ("study_area", "communities", "fire_stations", "roads", "units")
# Provinces' first two digits of the statistical division codes (GB/T 2260).
_PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82",
    }
)  # fmt: skip
# Mainland China, Hong Kong, Macao and Taiwan, as a box in WGS84 degrees (west, south, east, north).
_CHINA = (73.5, 18.0, 135.1, 53.6)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check(kind: str, key: str, entry: Any) -> None:
    where = f"Glossary entry `{kind}.{key}`"
    if not isinstance(entry, Mapping):
        msg = f'{where} is not a table. Fix: give `zh = "..."` and `en = "..."`.'
        raise InputError(msg)
    missing = [lang for lang in LANGS if not isinstance(entry.get(lang), str) or not entry[lang].strip()]
    if missing:
        msg = f"{where} has no text in {', '.join(missing)}. Fix: give both `zh` and `en`."
        raise InputError(msg)
    fields = {lang: _fields(entry[lang]) for lang in LANGS}
    if fields["zh"] != fields["en"]:
        msg = (
            f"{where} has placeholders {sorted(fields['zh'])} in Chinese but {sorted(fields['en'])} "
            "in English. Fix: use the same {names} in both."
        )
        raise InputError(msg)


@dataclass(frozen=True)
class Glossary:
    """The loaded glossary: ``terms`` and ``texts``, each key -> ``{"zh": ..., "en": ...}``."""

    terms: Mapping[str, Mapping[str, str]]
    texts: Mapping[str, Mapping[str, str]]

    def term(self, key: str, lang: Lang) -> str:
        """A domain term in ``lang``.

        Examples
        --------
        >>> g = load_glossary()
        >>> g.term("cancel_number", "zh"), g.term("fire_station_district", "en")
        ('销号', 'fire station district')
        """
        return self._entry("terms", self.terms, key)[_lang(lang)]

    def text(self, key: str, lang: Lang, **values: object) -> str:
        """A sentence in ``lang`` with its placeholders filled.

        Examples
        --------
        >>> load_glossary().text("minutes", "zh", minutes=5)
        '5分钟'
        """
        entry = self._entry("texts", self.texts, key)
        missing = _fields(entry["en"]) - set(values)
        if missing:
            msg = f"Glossary text `{key}` needs {sorted(missing)}. Fix: pass them."
            raise InputError(msg)
        return entry[_lang(lang)].format(**values)

    def keys(self) -> dict[str, set[str]]:
        """The keys of ``terms`` and ``texts`` (for the tests that every string exists)."""
        return {"terms": set(self.terms), "texts": set(self.texts)}

    @staticmethod
    def _entry(kind: str, table: Mapping[str, Mapping[str, str]], key: str) -> Mapping[str, str]:
        try:
            return table[key]
        except KeyError:
            msg = f"The glossary has no {kind[:-1]} `{key}`. Fix: add `[{kind}.{key}]` to glossary.toml."
            raise InputError(msg) from None


def _lang(lang: str) -> Lang:
    if lang not in LANGS:
        msg = f"Language `{lang}` is not one riskplan speaks. Fix: use one of {', '.join(LANGS)}."
        raise InputError(msg)
    return cast(Lang, lang)


@lru_cache(maxsize=1)
def _shipped() -> Glossary:
    return _build(load_table("glossary"))


def _build(table: Mapping[str, Any]) -> Glossary:
    parts: dict[str, dict[str, dict[str, str]]] = {}
    for kind in ("terms", "texts"):
        entries = table.get(kind, {})
        for key, entry in entries.items():
            _check(kind, key, entry)
        parts[kind] = {k: {lang: str(v[lang]) for lang in LANGS} for k, v in entries.items()}
    return Glossary(parts["terms"], parts["texts"])


def load_glossary(overrides: TableOverrides = None) -> Glossary:
    """The glossary, with a deployment's overrides (a mapping or a TOML path) merged and checked.

    Raises
    ------
    InputError
        An entry without both languages, or with different placeholders in each.

    Examples
    --------
    >>> load_glossary({"terms": {"risk_point": {"zh": "风险点位"}}}).term("risk_point", "zh")
    '风险点位'
    """
    if overrides is None:
        return _shipped()
    return _build(load_table("glossary", overrides))


def parse_accept_language(header: str | None) -> Lang | None:
    """The first language riskplan speaks in an HTTP ``Accept-Language`` header, by quality.

    Examples
    --------
    >>> parse_accept_language("en-US;q=0.8,en;q=0.7,zh-CN;q=0.95")
    'zh'
    >>> parse_accept_language("fr, de;q=0.5") is None
    True
    >>> parse_accept_language("zh-TW;q=0, en")
    'en'
    """
    if not header:
        return None
    best: tuple[float, int, Lang] | None = None
    for order, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        m = re.search(r"q\s*=\s*([^;\s]*)", params)
        if m:
            try:
                q = float(m.group(1))
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if q <= 0 or primary not in LANGS:
            continue
        key = (-q, order, cast(Lang, primary))
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def default_lang(bounds_wgs84: tuple[float, float, float, float] | None) -> Lang:
    """Chinese for a scenario whose centre lies in China, else English.

    Examples
    --------
    >>> default_lang((112.4, 37.7, 112.7, 38.0)), default_lang((-74.02, 40.70, -73.93, 40.88))
    ('zh', 'en')
    """
    if bounds_wgs84 is None:
        return "en"
    west, south, east, north = bounds_wgs84
    x, y = (west + east) / 2, (south + north) / 2
    w, s, e, n = _CHINA
    return "zh" if w <= x <= e and s <= y <= n else "en"


def env_lang() -> Lang | None:
    """The language of ``$RISKPLAN_LANG`` (:data:`LANG_ENV`), or None when it is unset or empty.

    Raises
    ------
    InputError
        A value riskplan does not speak, naming the variable and the fix.
    """
    value = os.environ.get(LANG_ENV, "").strip()
    if not value:
        return None
    code = value.lower()
    if code not in LANGS:
        msg = f"${LANG_ENV} is `{value}`. Fix: set it to one of {', '.join(LANGS)}, or unset it."
        raise InputError(msg)
    return cast(Lang, code)


def scenario_bounds_wgs84(scenario: Any) -> tuple[float, float, float, float] | None:
    """West, south, east, north in degrees of a scenario's place, or None when it has none.

    ``scenario`` is a :class:`gis.Scenario` or a mapping of layer name -> GeoDataFrame; its place
    is the extent of its study area, else its communities, fire stations, roads (or a bare
    ``units`` layer). A synthetic scenario's generated coordinates count as its place.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> taiyuan = gpd.GeoDataFrame(geometry=[Point(112.55, 37.87)], crs=4326)
    >>> scenario_bounds_wgs84({"fire_stations": taiyuan})
    (112.55, 37.87, 112.55, 37.87)
    >>> scenario_bounds_wgs84({}) is None
    True
    """
    layers = getattr(scenario, "layers", scenario)
    if not isinstance(layers, Mapping):
        return None
    for name in _BOUNDS_LAYERS:
        layer = layers.get(name)
        if layer is not None and len(layer) and getattr(layer, "crs", None) is not None:
            w, s, e, n = (float(v) for v in layer.to_crs(4326).total_bounds)
            return (w, s, e, n)
    return None


def resolve_lang(
    explicit: str | None = None,
    *,
    accept_language: str | None = None,
    scenario: Any = None,
    bounds_wgs84: tuple[float, float, float, float] | None = None,
) -> Lang:
    """The language of an output: the one rule every map, report, page, summary and answer follows.

    In this order, the first that gives a language wins:

    1. ``explicit``: ``--lang``, ``lang=`` in Python, the API's ``?lang=``, the pages' switch
       (checked: ``zh`` or ``en``, any case);
    2. ``$RISKPLAN_LANG`` (:func:`env_lang`);
    3. ``accept_language``: an HTTP request's ``Accept-Language`` (the API passes it; elsewhere None);
    4. ``scenario``'s TOML ``[scenario] lang`` (:func:`scenario_lang`);
    5. the place: ``bounds_wgs84`` if given, else :func:`scenario_bounds_wgs84` of ``scenario``;
       Chinese for a place in China (:func:`default_lang`; the synthetic demo city lies in Shanxi);
    6. English.

    Parameters
    ----------
    explicit
        The user's choice, or None.
    accept_language
        The request's ``Accept-Language`` header (the API only).
    scenario
        A :class:`gis.Scenario` or a mapping of its layers, or None.
    bounds_wgs84
        The place (west, south, east, north in degrees) when the scenario is not at hand
        (a stored scenario's bounds, the layers ``riskplan init`` wrote).

    Raises
    ------
    InputError
        An ``explicit`` language or ``$RISKPLAN_LANG`` riskplan does not speak, or a bad
        ``[scenario] lang``; each names where it came from and the fix.

    Examples
    --------
    >>> resolve_lang(None, accept_language="zh-CN", bounds_wgs84=(-74.0, 40.7, -73.9, 40.8))
    'zh'
    >>> resolve_lang("en", accept_language="zh-CN")
    'en'
    """
    if explicit:
        return _lang(explicit.strip().lower())
    chosen = env_lang() or parse_accept_language(accept_language)
    if chosen is None and scenario is not None:
        chosen = scenario_lang(scenario)
    if chosen is None:
        bounds = bounds_wgs84 if bounds_wgs84 is not None else scenario_bounds_wgs84(scenario)
        chosen = default_lang(bounds)
    return chosen


def format_month(year: int, month: int, lang: Lang) -> str:
    """A month as a report names it.

    Examples
    --------
    >>> format_month(2026, 12, "zh"), format_month(2026, 12, "en")
    ('2026年12月', 'December 2026')
    """
    if not 1 <= month <= 12:
        msg = f"Month {month} is not 1..12. Fix: give a month of the year."
        raise InputError(msg)
    return f"{year}年{month}月" if _lang(lang) == "zh" else f"{_MONTHS_EN[month - 1]} {year}"


def format_date(day: date, lang: Lang) -> str:
    """A date as a report writes it.

    Examples
    --------
    >>> format_date(date(2026, 12, 1), "zh"), format_date(date(2026, 12, 1), "en")
    ('2026年12月1日', '1 December 2026')
    """
    if _lang(lang) == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def check_division_code(code: object, *, where: str = "the layer") -> str:
    """A 12-digit statistical division code (区划代码), checked; InputError naming it and the fix.

    The first two digits are the province (GB/T 2260), then city, county, township (3 digits)
    and village / community (3 digits).

    Examples
    --------
    >>> check_division_code(140105005001)
    '140105005001'
    >>> check_division_code("1401050050", where="communities row 3")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.InputError: communities row 3: division code `1401050050` is not 12 digits. Fix: ...
    """
    text = str(code).strip()
    if text.endswith(".0"):
        text = text[:-2]  # a code read from a spreadsheet as a number
    if not re.fullmatch(r"\d{12}", text):
        msg = (
            f"{where}: division code `{text}` is not 12 digits. Fix: give the National Bureau of "
            "Statistics' 12-digit code (e.g. 140105005001)."
        )
        raise InputError(msg)
    if text[:2] not in _PROVINCES:
        msg = (
            f"{where}: division code `{text}` starts with `{text[:2]}`, not a province. Fix: check the code."
        )
        raise InputError(msg)
    return text


def check_division_codes(codes: Any, *, where: str = "layer `communities`") -> Any:
    """A column of division codes checked row by row, as 12-digit strings (missing stay missing).

    ``codes`` is a pandas Series on the layer's ids; every bad row is named at once.

    Raises
    ------
    InputError
        Naming ``where``, the bad rows and their codes, and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> check_division_codes(pd.Series([140105005001.0, None], index=["C1", "C2"])).tolist()
    ['140105005001', None]
    >>> check_division_codes(pd.Series(["1401", "140105005002"], index=["C1", "C2"]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.InputError: layer `communities`, column `division_code`: rows C1 (`1401`) ...
    """
    import pandas as pd

    out: dict[Any, str | None] = {}
    bad: list[str] = []
    for key, value in codes.items():
        if value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == "":
            out[key] = None
            continue
        try:
            out[key] = check_division_code(value, where=f"{where} row {key}")
        except InputError:
            bad.append(f"{key} (`{str(value).strip()}`)")
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        msg = (
            f"{where}, column `division_code`: rows {shown} are not 12-digit statistical division "
            "codes (区划代码) with a province prefix. Fix: give the National Bureau of Statistics' "
            "12-digit code (e.g. 140105005001), as text so leading digits are kept, or leave it empty."
        )
        raise InputError(msg)
    return pd.Series(out, index=codes.index, dtype=object, name=codes.name)


def scenario_lang(scenario: Any) -> Lang | None:
    """The ``lang`` of a scenario TOML's ``[scenario]`` table (``lang = "zh"``), or None.

    Raises
    ------
    InputError
        A ``lang`` riskplan does not speak, naming the TOML and the fix.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> scenario_lang(SimpleNamespace(source=None)) is None
    True
    """
    from .scenario import scenario_table

    found = scenario_table(scenario, "scenario")
    if found is None:
        return None
    head, src = found
    value = head.get("lang") if isinstance(head, Mapping) else None
    if value is None:
        return None
    if value not in LANGS:
        msg = (
            f"Scenario TOML `{src}`, `[scenario]`: `lang = {value!r}` is not a language riskplan "
            f'speaks. Fix: `lang = "zh"` or `lang = "en"` (or leave it out: by the scenario\'s place).'
        )
        raise InputError(msg)
    return cast(Lang, value)
