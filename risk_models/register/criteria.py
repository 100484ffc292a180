"""Major hidden-danger criteria per industry: the checklist that makes a danger major.

``risk_models/data/major_hazard_criteria.toml`` lists, for each industry, the criteria of the
ministry's standard (hazardous chemicals 2017, coal mines 2020, metal and non-metal mines
2022, industry and trade 2023, construction 2022, fire GB 35181-2017, ...), and for each
register category the industries whose checklists apply. A verifier ticks the criteria an
item meets; :func:`major_grade` says whether that makes it major.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, NoReturn

import pandas as pd

from gis.tables import TableOverrides, load_table

from .errors import RegisterError
from .vocab import CATEGORIES

__all__ = ["Criteria", "Criterion", "checklist", "load_criteria", "major_grade"]

_FILE = "major_hazard_criteria.toml"
_KINDS = ("direct", "indirect")


@dataclass(frozen=True)
class Criterion:
    """One criterion of a checklist: ``direct`` makes a danger major alone, ``indirect`` counts."""

    id: str
    industry: str
    kind: str
    text: str
    text_zh: str
    source: str


@dataclass(frozen=True, eq=False)
class Criteria:
    """The loaded checklists (:func:`load_criteria`).

    Attributes
    ----------
    by_id
        ``{criterion id: Criterion}``.
    industries
        ``{category: industries whose checklists apply}``.
    min_indirect
        ``{industry: indirect criteria that make a danger major}`` (industries with indirect ones).
    """

    by_id: Mapping[str, Criterion]
    industries: Mapping[str, tuple[str, ...]]
    min_indirect: Mapping[str, int]


def _fail(entry: str, problem: str, fix: str) -> NoReturn:
    msg = f"`{_FILE}` entry `{entry}` {problem}. Fix: {fix}."
    raise RegisterError(msg)


def load_criteria(major_hazard_criteria: Criteria | TableOverrides = None) -> Criteria:
    """Return the major-danger checklists merged with overrides and checked.

    Parameters
    ----------
    major_hazard_criteria
        Overrides of ``risk_models/data/major_hazard_criteria.toml`` (a mapping or a TOML
        path); a loaded :class:`Criteria` is returned as it is.

    Returns
    -------
    Criteria
        Read-only; the shipped default is built once and shared.

    Raises
    ------
    RegisterError
        Duplicate or empty ids, unknown kinds, categories outside the vocabulary, industries
        without a checklist.

    Examples
    --------
    >>> crit = load_criteria()
    >>> crit.industries["mining"], crit.by_id["CM-02"].text
    (('coal_mine', 'metal_nonmetal_mine'), 'working with gas concentration over the limit')
    """
    if isinstance(major_hazard_criteria, Criteria):
        return major_hazard_criteria
    if major_hazard_criteria is None:
        return _default()
    return _build(load_table("major_hazard_criteria", major_hazard_criteria, package="risk_models"))


@cache
def _default() -> Criteria:
    """The shipped checklists, built once and shared (:class:`Criteria` is read-only)."""
    return _build(load_table("major_hazard_criteria", package="risk_models"))


def _build(table: dict[str, Any]) -> Criteria:
    cats = table.get("categories", {})
    if set(cats) != set(CATEGORIES):
        _fail(
            "categories",
            f"lacks {sorted(set(CATEGORIES) - set(cats))} "
            f"or has unknown {sorted(set(cats) - set(CATEGORIES))}",
            f"map every register category of {list(CATEGORIES)} to its industries",
        )
    industries = table.get("industries", {})
    by_id: dict[str, Criterion] = {}
    min_indirect: dict[str, int] = {}
    for name, spec in industries.items():
        items = spec.get("criteria", [])
        if not items:
            _fail(f"industries.{name}.criteria", "is empty", "list the industry's criteria")
        for k, c in enumerate(items):
            cid, kind = c.get("id"), c.get("kind", "direct")
            if not isinstance(cid, str) or not cid or cid in by_id:
                _fail(
                    f"industries.{name}.criteria[{k}].id",
                    f"is {cid!r} (empty or repeated)",
                    "give a unique id",
                )
            if kind not in _KINDS or not c.get("text"):
                _fail(
                    f"industries.{name}.criteria[{k}]",
                    f"has kind {kind!r} or no text",
                    f"use kinds {_KINDS} and a text",
                )
            by_id[cid] = Criterion(
                cid, name, kind, str(c["text"]), str(c.get("text_zh", "")), str(spec.get("source", ""))
            )
        if any(c.get("kind") == "indirect" for c in items):
            n = spec.get("min_indirect")
            if not isinstance(n, int) or n < 1:
                _fail(
                    f"industries.{name}.min_indirect",
                    f"is {n!r}",
                    "give how many indirect criteria make a danger major",
                )
            min_indirect[name] = n
    for cat, names in cats.items():
        missing = sorted(set(names) - set(industries))
        if not names or missing:
            _fail(
                f"categories.{cat}",
                f"names industries {missing or '[]'} without a checklist",
                "name industries of [industries]",
            )
    return Criteria(
        by_id=MappingProxyType(by_id),
        industries=MappingProxyType({c: tuple(v) for c, v in cats.items()}),
        min_indirect=MappingProxyType(min_indirect),
    )


def major_grade(
    category: str,
    criteria: Iterable[str] = (),
    *,
    major_hazard_criteria: Criteria | TableOverrides = None,
) -> str:
    """``"major"`` if the criteria met make a danger of ``category`` major, else ``"general"``.

    A danger is major when one ``direct`` criterion of its industries is met, or at least
    ``min_indirect`` ``indirect`` ones of one industry (GB 35181-2017's comprehensive judgement).

    Parameters
    ----------
    category
        Register category (:data:`risk_models.register.vocab.CATEGORIES`).
    criteria
        Ids of the criteria the verifier found met.
    major_hazard_criteria
        Overrides of ``major_hazard_criteria.toml``, or loaded criteria.

    Returns
    -------
    str

    Raises
    ------
    RegisterError
        An id that is not in the checklists of the category's industries.

    Examples
    --------
    >>> major_grade("mining", ["CM-02"]), major_grade("gas", [])
    ('major', 'general')
    >>> major_grade("fire_lane_blocked", ["FI-11", "FI-12"])
    'general'
    >>> major_grade("fire_lane_blocked", ["FI-11", "FI-12", "FI-15"])  # three indirect fire elements
    'major'
    """
    crit = load_criteria(major_hazard_criteria)
    if category not in crit.industries:
        msg = f"Unknown register category `{category}`. Fix: use one of {list(CATEGORIES)}."
        raise RegisterError(msg)
    met = list(dict.fromkeys(criteria))
    allowed = crit.industries[category]
    bad = [c for c in met if c not in crit.by_id or crit.by_id[c].industry not in allowed]
    if bad:
        msg = (
            f"Criteria {bad} are not in the checklists {list(allowed)} of category `{category}`. "
            f"Fix: tick criteria of `risk_models.register.checklist({category!r})`."
        )
        raise RegisterError(msg)
    found = [crit.by_id[c] for c in met]
    if any(c.kind == "direct" for c in found):
        return "major"
    for industry, n in crit.min_indirect.items():
        if sum(c.industry == industry for c in found) >= n:
            return "major"
    return "general"


def checklist(category: str, *, major_hazard_criteria: Criteria | TableOverrides = None) -> pd.DataFrame:
    """The criteria a verifier may tick for an item of ``category``, indexed by id.

    Examples
    --------
    >>> table = checklist("dust_explosion")
    >>> list(table.columns), table.loc["DE-03", "industry"]
    (['industry', 'kind', 'text', 'text_zh', 'source'], 'dust_explosion')
    """
    crit = load_criteria(major_hazard_criteria)
    if category not in crit.industries:
        msg = f"Unknown register category `{category}`. Fix: use one of {list(CATEGORIES)}."
        raise RegisterError(msg)
    rows = [c for c in crit.by_id.values() if c.industry in crit.industries[category]]
    return pd.DataFrame(
        [(c.id, c.industry, c.kind, c.text, c.text_zh, c.source) for c in rows],
        columns=["id", "industry", "kind", "text", "text_zh", "source"],
    ).set_index("id")
