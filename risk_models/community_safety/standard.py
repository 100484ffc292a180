"""The community safety scoring standard (社区安全评分标准): loaded once, overridable, checked.

The shipped standard is ``risk_models/data/community_safety.toml`` (its header explains the
scoring). :func:`load_safety_standard` merges a city's overrides over it (a mapping or the path
of a TOML file; a file with ``base = "none"`` is a complete standard of its own) and checks every
key: an unknown key, section weights that do not sum to 1, a bad rule or range, an unknown
register category or major-danger criterion each raise an :class:`~gis.errors.InputError`
naming the file and the key, with the fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeGuard

import pandas as pd

from gis.errors import InputError
from gis.tables import TableOverrides, deep_merge, load_table, read_toml

__all__ = [
    "ITEM_KINDS",
    "OPERATORS",
    "SafetyStandard",
    "load_safety_standard",
]

#: Kinds of surveyed value: a number, or yes / no (是 / 否).
ITEM_KINDS: tuple[str, ...] = ("number", "yes_no")
#: Comparison operators of a ``fail_if`` rule on a number.
OPERATORS: tuple[str, ...] = (">=", "<=", "==", "!=", ">", "<")
_SHIPPED = "risk_models/data/community_safety.toml"
_TOP = {"base", "meta", "scoring", "grades", "sections"}
_META = {"version", "name", "name_zh", "source"}
_SCORING = {"pass_mark", "source"}
_GRADE = {"label_zh", "min_score"}
_SECTION = {"label", "label_zh", "weight", "source", "items"}
_ITEM = {
    "label",
    "label_zh",
    "headers",
    "kind",
    "unit",
    "range",
    "fail_if",
    "points",
    "not_applicable",
    "veto",
    "category",
    "criteria",
    "source",
}
_RULE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
_WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class SafetyStandard:
    """A loaded, checked scoring standard (:func:`load_safety_standard`).

    Attributes
    ----------
    items
        One row per scored item (index: item id, in the standard's order): ``section``, ``label``,
        ``label_zh``, ``kind``, ``unit``, ``low``, ``high`` (the plausible range; NaN for yes/no),
        ``op``, ``threshold`` (the fail rule: yes/no items fail on ``== 1`` for "yes", ``== 0``
        for "no"), ``points`` (within the section), ``max_points`` (on the 100-point scale),
        ``veto``, ``not_applicable``, ``category``, ``criteria`` (tuple), ``headers`` (tuple),
        ``rule`` (text) and ``source``.
    sections
        One row per section with a non-zero weight: ``label``, ``label_zh``, ``weight``, ``source``.
    pass_mark
        The score a community must reach to pass.
    grades
        ``(grade, min_score, label_zh)``, best first; the last has ``min_score`` 0.
    where
        Where the standard came from, for messages (the shipped file and the override file).
    table
        The merged TOML table.
    """

    items: pd.DataFrame
    sections: pd.DataFrame
    pass_mark: float
    grades: tuple[tuple[str, float, str], ...]
    where: str
    table: Mapping[str, Any]

    def grade_of(self, score: float) -> str:
        """The grade a score reaches.

        Examples
        --------
        >>> std = load_safety_standard()
        >>> std.grade_of(95.0), std.grade_of(80.0), std.grade_of(12.5)
        ('excellent', 'good', 'poor')
        """
        return next(g for g, lo, _ in self.grades if score >= lo - 1e-9)


def _fail(where: str, entry: str, problem: str, fix: str) -> NoReturn:
    msg = f"{where}: entry `{entry}` {problem}. Fix: {fix}."
    raise InputError(msg)


def _unknown(where: str, table: Mapping[str, Any], allowed: set[str], entry: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        _fail(
            where,
            f"{entry}.{extra[0]}" if entry else extra[0],
            "is not a key of the standard",
            f"use only {sorted(allowed)} there (a typo?)",
        )


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _table(value: Any, where: str, entry: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, entry, f"is {value!r}, not a table", f"write it as `[{entry}]`")
    return value


def _rule(item: Mapping[str, Any], kind: str, where: str, entry: str) -> tuple[str, float, str]:
    """``(op, threshold, text)`` of an item's ``fail_if``."""
    rule = item.get("fail_if")
    if kind == "yes_no":
        if rule not in ("yes", "no"):
            _fail(where, f"{entry}.fail_if", f"is {rule!r}", 'give "yes" or "no" (the answer that fails)')
        return "==", 1.0 if rule == "yes" else 0.0, f"fails if {rule}"
    match = _RULE.match(rule) if isinstance(rule, str) else None
    if match is None:
        _fail(
            where,
            f"{entry}.fail_if",
            f"is {rule!r}, not a rule",
            f'give an operator of {list(OPERATORS)} and a number, e.g. "> 15"',
        )
    op, threshold = match.group(1), float(match.group(2))
    unit = f" {item['unit']}" if item.get("unit") else ""
    return op, threshold, f"fails if {op} {match.group(2)}{unit}"


def _item_row(
    item_id: str, item: Mapping[str, Any], section: str, where: str, criteria: Any
) -> dict[str, Any]:
    from risk_models.register.vocab import CATEGORIES

    entry = f"sections.{section}.items.{item_id}"
    _unknown(where, item, _ITEM, entry)
    if not _SNAKE.match(item_id):
        _fail(where, entry, "is not a snake_case id", "use lower-case letters, digits and _")
    kind = item.get("kind")
    if kind not in ITEM_KINDS:
        _fail(where, f"{entry}.kind", f"is {kind!r}", f"use one of {list(ITEM_KINDS)}")
    points = item.get("points")
    if not _number(points) or points < 0:
        _fail(where, f"{entry}.points", f"is {points!r}", "give a number >= 0 (0 drops the item)")
    low = high = math.nan
    if kind == "number":
        rng = item.get("range")
        if (
            not isinstance(rng, list)
            or len(rng) != 2
            or not all(_number(v) for v in rng)
            or not rng[0] < rng[1]
        ):
            _fail(where, f"{entry}.range", f"is {rng!r}", "give [low, high], two numbers with low < high")
        low, high = float(rng[0]), float(rng[1])
    elif "range" in item or "unit" in item:
        _fail(
            where,
            f"{entry}.range",
            "is given for a yes/no item",
            'drop `range` and `unit`, or use kind = "number"',
        )
    op, threshold, text = _rule(item, kind, where, entry)
    category = item.get("category")
    if category not in CATEGORIES:
        _fail(
            where, f"{entry}.category", f"is {category!r}", f"use a register category of {list(CATEGORIES)}"
        )
    crit = item.get("criteria", [])
    if not isinstance(crit, list) or not all(isinstance(c, str) for c in crit):
        _fail(where, f"{entry}.criteria", f"is {crit!r}", 'give a list of criterion ids, e.g. ["FI-11"]')
    for cid in crit:
        found = criteria.by_id.get(cid)
        if found is None or found.industry not in criteria.industries.get(category, ()):
            _fail(
                where,
                f"{entry}.criteria",
                f"names `{cid}`, not a criterion of category `{category}`",
                f"use ids of the checklists {list(criteria.industries.get(category, ()))} "
                "in major_hazard_criteria.toml",
            )
    headers = item.get("headers", [])
    if not isinstance(headers, list) or not all(isinstance(h, str) and h.strip() for h in headers):
        _fail(where, f"{entry}.headers", f"is {headers!r}", "give a list of column headers (texts)")
    for flag in ("not_applicable", "veto"):
        if not isinstance(item.get(flag, False), bool):
            _fail(where, f"{entry}.{flag}", f"is {item[flag]!r}", "give true or false")
    label = str(item.get("label", item_id))
    return {
        "item": item_id,
        "section": section,
        "label": label,
        "label_zh": str(item.get("label_zh", label)),
        "kind": kind,
        "unit": str(item.get("unit", "")),
        "low": low,
        "high": high,
        "op": op,
        "threshold": threshold,
        "points": float(points),
        "veto": bool(item.get("veto", False)),
        "not_applicable": bool(item.get("not_applicable", False)),
        "category": category,
        "criteria": tuple(crit),
        "headers": tuple(h.strip() for h in headers),
        "rule": f"{item_id} {text}",
        "source": str(item.get("source", "riskplan default")),
    }


def _grades(table: Mapping[str, Any], where: str) -> tuple[tuple[str, float, str], ...]:
    grades = _table(table.get("grades"), where, "grades")
    out = []
    for name, raw in grades.items():
        g = _table(raw, where, f"grades.{name}")
        _unknown(where, g, _GRADE, f"grades.{name}")
        lo = g.get("min_score")
        if not _number(lo) or not 0 <= lo <= 100:
            _fail(where, f"grades.{name}.min_score", f"is {lo!r}", "give a score in 0..100")
        out.append((str(name), float(lo), str(g.get("label_zh", name))))
    out.sort(key=lambda g: -g[1])
    if not out or out[-1][1] != 0:
        _fail(where, "grades", "has no grade starting at 0", "add a lowest grade with min_score = 0")
    if len({g[1] for g in out}) != len(out):
        _fail(where, "grades", "has two grades with the same min_score", "give each grade its own min_score")
    return tuple(out)


def _check(table: Mapping[str, Any], where: str) -> SafetyStandard:
    from risk_models.register.criteria import load_criteria

    _unknown(where, table, _TOP, "")
    _unknown(where, _table(table.get("meta", {}), where, "meta"), _META, "meta")
    scoring = _table(table.get("scoring"), where, "scoring")
    _unknown(where, scoring, _SCORING, "scoring")
    pass_mark = scoring.get("pass_mark")
    if not _number(pass_mark) or not 0 < pass_mark <= 100:
        _fail(where, "scoring.pass_mark", f"is {pass_mark!r}", "give a score in 0..100")
    grades = _grades(table, where)
    criteria = load_criteria()
    sections = _table(table.get("sections"), where, "sections")
    sec_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for name, raw in sections.items():
        sec = _table(raw, where, f"sections.{name}")
        _unknown(where, sec, _SECTION, f"sections.{name}")
        if not _SNAKE.match(str(name)):
            _fail(where, f"sections.{name}", "is not a snake_case id", "use lower-case letters, digits and _")
        weight = sec.get("weight")
        if not _number(weight) or weight < 0:
            _fail(
                where, f"sections.{name}.weight", f"is {weight!r}", "give a share >= 0 (0 drops the section)"
            )
        if weight == 0:
            continue
        items = _table(sec.get("items"), where, f"sections.{name}.items")
        rows = [
            _item_row(str(k), _table(v, where, f"sections.{name}.items.{k}"), str(name), where, criteria)
            for k, v in items.items()
        ]
        rows = [r for r in rows if r["points"] > 0]
        if not rows:
            _fail(
                where,
                f"sections.{name}.items",
                "has no item with points > 0",
                "give the section an item, or set its weight to 0",
            )
        for r in rows:
            if r["item"] in seen:
                _fail(
                    where,
                    f"sections.{name}.items.{r['item']}",
                    f"repeats the item of section `{seen[r['item']]}`",
                    "give each item one section",
                )
            seen[r["item"]] = str(name)
        total = sum(r["points"] for r in rows)
        for r in rows:
            r["max_points"] = 100.0 * float(weight) * r["points"] / total
        item_rows += rows
        label = str(sec.get("label", name))
        sec_rows.append(
            {
                "section": str(name),
                "label": label,
                "label_zh": str(sec.get("label_zh", label)),
                "weight": float(weight),
                "source": str(sec.get("source", "riskplan default")),
            }
        )
    if not sec_rows:
        _fail(where, "sections", "has no section with a weight > 0", "give at least one section with items")
    total_weight = sum(s["weight"] for s in sec_rows)
    if abs(total_weight - 1.0) > _WEIGHT_TOLERANCE:
        shown = ", ".join(f"{s['section']} {s['weight']:g}" for s in sec_rows)
        _fail(
            where,
            "sections.*.weight",
            f"sum to {total_weight:g} ({shown}), not 1",
            "make the section weights (shares of the 100 points) sum to 1",
        )
    headers: dict[str, str] = {}
    for r in item_rows:
        for h in (r["item"], r["label_zh"], *r["headers"]):
            key = h.strip().casefold()
            if headers.setdefault(key, r["item"]) != r["item"]:
                _fail(
                    where,
                    f"sections.{r['section']}.items.{r['item']}.headers",
                    f"repeats the header {h!r} of item `{headers[key]}`",
                    "give each header to one item",
                )
    return SafetyStandard(
        items=pd.DataFrame(item_rows).set_index("item"),
        sections=pd.DataFrame(sec_rows).set_index("section"),
        pass_mark=float(pass_mark),
        grades=grades,
        where=where,
        table=table,
    )


def load_safety_standard(community_safety: SafetyStandard | TableOverrides = None) -> SafetyStandard:
    """The shipped scoring standard, merged with a city's overrides and checked.

    Parameters
    ----------
    community_safety
        Overrides of ``risk_models/data/community_safety.toml``: a mapping or the path of a TOML
        file holding the entries to change; with ``base = "none"`` the overrides are a complete
        standard that replaces the shipped one. A loaded :class:`SafetyStandard` is returned as it is.

    Returns
    -------
    SafetyStandard

    Raises
    ------
    InputError
        Unknown keys, section weights not summing to 1, bad rules, ranges, points, grades,
        categories or criteria, naming the file and the key.

    Examples
    --------
    >>> std = load_safety_standard()
    >>> std.pass_mark, len(std.sections), std.items.loc["elevator_age", "rule"]
    (80.0, 7, 'elevator_age fails if > 15 years')
    >>> round(float(std.items["max_points"].sum()), 6)
    100.0
    >>> try:
    ...     load_safety_standard({"sections": {"gas": {"weight": 0.3}}})
    ... except InputError as exc:
    ...     print(str(exc).split(": entry ")[1].split(" (")[0])
    `sections.*.weight` sum to 1.1
    """
    if isinstance(community_safety, SafetyStandard):
        return community_safety
    if community_safety is None:
        return _check(load_table("community_safety", package="risk_models"), f"`{_SHIPPED}`")
    if isinstance(community_safety, str | Path):
        override = read_toml(community_safety)
        source = f"`{community_safety}`"
    else:
        override = dict(community_safety)
        source = "overrides"
    base = override.get("base", "shipped")
    if base not in ("shipped", "none"):
        _fail(source, "base", f"is {base!r}", 'give "shipped" (merge over the shipped standard) or "none"')
    if base == "none":
        return _check(override, f"standard {source}")
    merged = deep_merge(load_table("community_safety", package="risk_models"), override)
    return _check(merged, f"the shipped {_SHIPPED} merged with {source}")
