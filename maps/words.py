"""The words of the map, the report and the figures, in the language of the output.

Every text a person reads in ``maps`` comes from the glossary (``gis/data/glossary.toml``) through
:func:`tr`, with a literal key (``tr("map_legend")``), so a test can collect every key the code
uses and check it exists in both languages. The language of one output is set for the duration of
its drawing by :func:`speaking` (:mod:`gis.speech`'s :class:`contextvars.ContextVar`: each thread
and each request has its own, and the words ``risk_models`` and ``planning`` make with
:func:`gis.speech.say` inside it are in the same language; here it also holds the map style's own
labels); :func:`output_lang` picks it by the one rule of :func:`gis.i18n.resolve_lang`: the
explicit choice, ``$RISKPLAN_LANG``, the scenario TOML's ``[scenario] lang``, the scenario's place
(Chinese in China), English.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from gis.i18n import (
    Lang,
    check_division_codes,
    format_date,
    format_month,
    load_glossary,
    resolve_lang,
    scenario_bounds_wgs84,
)
from gis.speech import current_lang, spoken_lang
from gis.speech import speaking as _speaking
from gis.tables import TableOverrides

from ._style import label_overrides

__all__ = [
    "category_label",
    "community_names",
    "current_lang",
    "date_text",
    "level_label",
    "level_legend",
    "month_text",
    "output_lang",
    "register_state",
    "risk_grade_label",
    "scenario_bounds_wgs84",
    "speaking",
    "spoken_lang",
    "stock_label",
    "term_label",
    "tr",
]

log = logging.getLogger(__name__)

# The user's own labels of levels, categories and register states (maps._style.label_overrides).
_LABELS: ContextVar[Mapping[str, Mapping[str, Mapping[str, str]]] | None] = ContextVar(
    "riskplan_maps_labels", default=None
)


def tr(key: str, **values: object) -> str:
    """The glossary's text (or, failing that, term) ``key`` in the current output's language.

    Examples
    --------
    >>> with speaking("zh"):
    ...     tr("level_red"), tr("minutes", minutes=5)
    ('重大风险', '5分钟')
    >>> tr("level_red")
    'major risk'
    """
    g = load_glossary()
    lang = current_lang()
    if key in g.texts:
        return g.text(key, lang, **values)
    return g.term(key, lang)


def term_label(key: str, **values: object) -> str:
    """:func:`tr` with a capital first letter, for a term used as a label or a column header.

    Examples
    --------
    >>> term_label("rectification_deadline")
    'Rectification deadline'
    """
    return _capital(tr(key, **values))


@contextmanager
def speaking(lang: Lang, *, map_style: TableOverrides = None) -> Iterator[Lang]:
    """Draw in ``lang`` inside the block (:func:`gis.speech.speaking`; checked: ``zh`` or ``en``).

    ``map_style`` (the output's style overrides): its own labels of risk levels, hazard
    categories and register states win over the glossary's words inside the block
    (:func:`maps._style.label_overrides`); without it, those of an enclosing block hold.
    """
    labels = _LABELS.set(label_overrides(map_style)) if map_style is not None else None
    try:
        with _speaking(lang) as checked:
            yield checked
    finally:
        if labels is not None:
            _LABELS.reset(labels)


def _own_label(section: str, key: str) -> str | None:
    """The user's label of ``section.key`` in the current language, if the style gives one."""
    return (_LABELS.get() or {}).get(section, {}).get(str(key), {}).get(current_lang())


def output_lang(lang: str | None, scenario: Any) -> Lang:
    """The language of an output: :func:`gis.i18n.resolve_lang` of ``lang`` and ``scenario``.

    ``lang`` if given, else ``$RISKPLAN_LANG``, else the scenario TOML's ``[scenario] lang``,
    else by the scenario's place (``scenario`` a :class:`gis.Scenario` or a mapping of layers),
    else English.

    Examples
    --------
    >>> output_lang("en", {}), output_lang(None, {})
    ('en', 'en')
    """
    return resolve_lang(lang, scenario=scenario)


def level_label(level: str) -> str:
    """A risk level's name (red -> 重大风险 / Major risk); another value as it is.

    A label of the map style's overrides (:func:`speaking`'s ``map_style``) wins.

    Examples
    --------
    >>> with speaking("zh"):
    ...     level_label("orange")
    '较大风险'
    """
    own = _own_label("risk_levels", level)
    if own is not None:
        return own
    names = _level_label_names(current_lang())
    return _capital(names.get(str(level), str(level)))


def level_legend(level: str) -> str:
    """A risk level's legend entry, with its colour ("Major risk (red)" in English).

    A label of the map style's overrides (:func:`speaking`'s ``map_style``) wins.

    Examples
    --------
    >>> level_legend("blue")
    'Low risk (blue)'
    """
    own = _own_label("risk_levels", level)
    if own is not None:
        return own
    names = _level_legend_names(current_lang())
    return names.get(str(level), str(level))


def category_label(key: str, default: str) -> str:
    """A hazard category's name (``default``, the style's label, for a category of a deployment's own).

    A label of the map style's overrides (:func:`speaking`'s ``map_style``) wins.
    """
    own = _own_label("hazard_categories", key)
    if own is not None:
        return own
    names = _category_label_names(current_lang())
    return names.get(key, default)


def stock_label(item: str) -> str:
    """A relief material's name (``rice_kg``: rice in kilograms); another item as its column reads."""
    names = _stock_label_names(current_lang())
    return names.get(item, item.replace("_", " "))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


#: The place-name columns of the communities layer shown in tooltips and report tables.
NAME_COLUMNS = ("district", "street", "division_code")


def community_names(frame: Any, communities: Any = None, *, source: object = None) -> Any:
    """``frame`` with the communities' district / street names and checked division codes.

    Columns missing from ``frame`` are taken from ``communities`` (the scenario's layer) by id
    where the ids match; ``division_code`` is checked (12 digits, a province prefix) and kept as
    text. ``source`` (the scenario's file) is named in the error.

    Raises
    ------
    InputError
        Bad division codes, naming the file, the layer, the rows and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> c = pd.DataFrame({"division_code": [140105005001]}, index=["C1"])
    >>> community_names(pd.DataFrame({"population": [10]}, index=["C1"]), c)["division_code"].tolist()
    ['140105005001']
    """
    out = frame
    if communities is not None:
        extra = [c for c in NAME_COLUMNS if c in communities.columns and c not in frame.columns]
        if extra:
            out = frame.copy()
            table = communities[extra]
            table = table[~table.index.duplicated()]
            for col in extra:
                values = table[col].reindex(out.index)
                if values.notna().any():  # units that are the communities (not grid cells)
                    out[col] = values.to_numpy()
    if "division_code" in out.columns:
        where = f"`{source}`, layer `communities`" if source else "layer `communities`"
        out = out.copy() if out is frame else out
        out["division_code"] = check_division_codes(out["division_code"], where=where).to_numpy()
    return out


def month_text(month: str) -> str:
    """A ``YYYY-MM`` month as the output writes it (2026年12月 / December 2026); else as given.

    Examples
    --------
    >>> with speaking("zh"):
    ...     month_text("2026-12")
    '2026年12月'
    """
    try:
        year, number = (int(part) for part in str(month).split("-")[:2])
        return format_month(year, number, current_lang())
    except ValueError:
        return str(month)


def date_text(day: Any) -> str:
    """A date (or timestamp) as the output writes it (2026年12月1日 / 1 December 2026)."""
    return format_date(day.date() if hasattr(day, "date") and callable(day.date) else day, current_lang())


def risk_grade_label(grade: str) -> str:
    """A risk point's grade: "Major risk point (red)" in English."""
    names = _risk_grade_label_names(current_lang())
    return names.get(str(grade), str(grade))


def register_state(state: str, default: str) -> str:
    """A register item's state (closed -> 已销号 / Closed); ``default`` for a state of a deployment's own.

    A label of the map style's overrides (:func:`speaking`'s ``map_style``) wins.
    """
    own = _own_label("register.states", state)
    if own is not None:
        return own
    names = _register_state_names(current_lang())
    return names.get(str(state), default)


@lru_cache(maxsize=4)
def _level_label_names(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "red": tr("level_red"),
            "orange": tr("level_orange"),
            "yellow": tr("level_yellow"),
            "blue": tr("level_blue"),
        }


@lru_cache(maxsize=4)
def _level_legend_names(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "red": tr("map_legend_red"),
            "orange": tr("map_legend_orange"),
            "yellow": tr("map_legend_yellow"),
            "blue": tr("map_legend_blue"),
        }


@lru_cache(maxsize=4)
def _category_label_names(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "hazardous_chemicals": tr("map_cat_hazardous_chemicals"),
            "mining": tr("map_cat_mining"),
            "metallurgy": tr("map_cat_metallurgy"),
            "dust_explosion": tr("map_cat_dust_explosion"),
            "fuel_gas": tr("map_cat_fuel_gas"),
            "fireworks_explosives": tr("map_cat_fireworks_explosives"),
            "warehouse_logistics": tr("map_cat_warehouse_logistics"),
            "construction": tr("map_cat_construction"),
            "other": tr("map_cat_other"),
        }


@lru_cache(maxsize=4)
def _risk_grade_label_names(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "major": tr("reg_grade_major"),
            "high": tr("reg_grade_high"),
            "moderate": tr("reg_grade_moderate"),
            "low": tr("reg_grade_low"),
        }


@lru_cache(maxsize=4)
def _register_state_names(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "reported": tr("reg_state_reported"),
            "verified": tr("reg_state_verified"),
            "handed_over": tr("reg_state_handed_over"),
            "rectifying": tr("reg_state_rectifying"),
            "rectified": tr("reg_state_rectified"),
            "reopened": tr("reg_state_reopened"),
            "closed": tr("reg_state_closed"),
            "rejected": tr("reg_state_rejected"),
        }


@lru_cache(maxsize=4)
def _stock_label_names(lang: Lang) -> dict[str, str]:
    with speaking(lang):
        return {
            "rice_kg": tr("map_stock_rice_kg"),
            "water_l": tr("map_stock_water_l"),
            "tents": tr("map_stock_tents"),
            "quilts": tr("map_stock_quilts"),
            "family_kits": tr("map_stock_family_kits"),
        }
