"""The uncertain figures of the risk table: their ranges, read from ``[uncertainty]``, and checked.

Each entry of ``[uncertainty]`` in ``risk_models/data/risk_weights.toml`` is a dotted path into
the table (``"categories.*.weight"``; ``*`` for every category or indicator; a trailing number
for an item of a list such as ``levels.breaks.0``) with ``range = [lo, hi]`` and ``kind``:
``"relative"`` (times the table's value) or ``"absolute"``. :func:`uncertain_parameters`
expands the paths into one :class:`Parameter` each, keeping only those that can change a score
of this result: the categories with a source within reach, the indicators with a weight, the
survey's weight when there is a survey, the response figures when there are response times,
the level breaks when levels are percentiles.

The natural hazards' composite weights (``risk_models/data/natural_hazards.toml``) are sampled
through ``"natural.*.weight"``: ``natural`` names the hazards that entered this result's score,
each with its weight (:attr:`risk_models.RiskInputs.natural_weights`); the slow way of re-scoring
takes them as natural-table overrides (:func:`natural_overrides`).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gis.errors import InputError

__all__ = ["Parameter", "apply_parameters", "natural_overrides", "uncertain_parameters"]

WHERE = "risk_weights.toml [uncertainty]"


@dataclass(frozen=True)
class Parameter:
    """One uncertain figure of the risk table.

    Attributes
    ----------
    name
        Its dotted path (``categories.mining.weight``).
    low, high
        The range it is sampled from, uniformly (absolute values).
    value
        The table's value (the baseline).
    source
        Why this range (the ``source`` of its ``[uncertainty]`` entry).
    """

    name: str
    low: float
    high: float
    value: float
    source: str = ""

    @property
    def path(self) -> tuple[str, ...]:
        """The keys into the risk table."""
        return tuple(self.name.split("."))


def _get(table: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = table
    for key in path:
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, Mapping) and key in node:
            node = node[key]
        else:
            return None
    return node


def _expand(table: Mapping[str, Any], pattern: str) -> list[str]:
    """The concrete paths a pattern names (``*`` matches every key at its place)."""
    paths: list[list[str]] = [[]]
    for key in pattern.split("."):
        nxt = []
        for p in paths:
            node = _get(table, p)
            if key == "*":
                keys = list(node) if isinstance(node, Mapping) else []
                nxt += [[*p, k] for k in keys if k != "source"]
            else:
                nxt.append([*p, key])
        paths = nxt
    return [".".join(p) for p in paths]


def _range(entry: Any, pattern: str, value: float) -> tuple[float, float]:
    kind = entry.get("kind") if isinstance(entry, Mapping) else None
    if kind not in ("relative", "absolute"):
        msg = (
            f'{WHERE}: entry {pattern!r} has kind {kind!r}. Fix: set `kind = "relative"` (the range '
            'multiplies the value) or `kind = "absolute"`, with `range = [lo, hi]`.'
        )
        raise InputError(msg)
    pair = entry.get("range")
    ok = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int | float) for v in pair)
    if not ok or not float(pair[0]) < float(pair[1]) or (kind == "relative" and float(pair[0]) <= 0):
        msg = f"{WHERE}: entry {pattern!r} has range = {pair!r}. Fix: give two increasing numbers" + (
            " above 0 (factors of the table's value)." if kind == "relative" else "."
        )
        raise InputError(msg)
    lo, hi = float(pair[0]), float(pair[1])
    return (lo * value, hi * value) if kind == "relative" else (lo, hi)


def _applies(name: str, w: Mapping[str, Any], present: set[str], survey: bool, response: bool) -> bool:
    """Whether the figure can change a score of this result."""
    parts = name.split(".")
    if parts[0] == "natural":  # only the hazards that entered the score are named
        return True
    if parts[0] == "categories":
        return parts[1] in present
    if parts[0] == "vulnerability" and parts[1] == "indicators":
        return float(w["vulnerability"]["indicators"][parts[2]]["weight"]) > 0
    if parts[:2] == ["vulnerability", "community_safety"]:
        return survey
    if parts[0] == "capacity":
        return response
    if parts[0] == "levels":
        return str(w["levels"]["method"]) == "percentile"
    if parts[0] == "exposure":
        # a linear transform scales every unit alike: percentile levels cannot move
        return str(w["exposure"]["transform"]) == "log" or str(w["levels"]["method"]) != "percentile"
    return True


def uncertain_parameters(
    risk_weights: Mapping[str, Any],
    *,
    categories: Sequence[str] = (),
    survey: bool = False,
    response: bool = False,
    natural: Mapping[str, float] | None = None,
) -> tuple[list[Parameter], list[str]]:
    """The uncertain figures that matter here, and a note on each group left out.

    Parameters
    ----------
    risk_weights
        The loaded risk table (with its ``[uncertainty]`` entries).
    categories
        The hazard categories with a source within reach of the units.
    survey, response
        Whether the result has community safety scores and response times.
    natural
        The natural hazards in the score and their composite weights
        (:attr:`risk_models.RiskInputs.natural_weights`); None or empty: none.

    Raises
    ------
    InputError
        A path that names no number of the table, a bad range, or ranges of ordered figures that
        overlap (naming the entry and the fix).

    Examples
    --------
    >>> from risk_models import load_weights
    >>> params, notes = uncertain_parameters(load_weights(), categories=["mining"])
    >>> [p.name for p in params][:3]
    ['categories.mining.weight', 'categories.mining.bandwidth_m', 'exposure.reference_per_km2']
    >>> params[0].low, params[0].high
    (0.5, 1.5)
    """
    table = risk_weights.get("uncertainty", {})
    present = set(categories)
    # the natural hazards' weights, as if they were the risk table's (they are natural_hazards.toml's)
    figures = {**risk_weights, "natural": {n: {"weight": float(v)} for n, v in (natural or {}).items()}}
    params: list[Parameter] = []
    left: dict[str, int] = {}
    for pattern, entry in table.items():
        names = _expand(figures, pattern)
        if not names and pattern.split(".")[0] == "natural":
            left[pattern] = 0  # no natural hazard in this score
            continue
        if not names:
            msg = f"{WHERE}: entry {pattern!r} names nothing in the risk table. Fix: correct the path."
            raise InputError(msg)
        for name in names:
            value = _get(figures, name.split("."))
            if not isinstance(value, int | float) or isinstance(value, bool):
                msg = (
                    f"{WHERE}: entry {pattern!r} names {name!r}, which is {value!r}, not a number. "
                    "Fix: point it at a number of the table."
                )
                raise InputError(msg)
            lo, hi = _range(entry, pattern, float(value))
            if not _applies(name, risk_weights, present, survey, response):
                left[pattern] = left.get(pattern, 0) + 1
                continue
            params.append(Parameter(name, lo, hi, float(value), str(entry.get("source", ""))))
    _check_order(params)
    notes = [
        f"{n} figure(s) of {pattern!r} held at their value: they cannot change a score here"
        if n
        else f"{pattern!r}: no natural hazard entered this score"
        for pattern, n in left.items()
    ]
    return params, notes


def _check_order(params: list[Parameter]) -> None:
    """Figures that must stay ordered may not have overlapping ranges."""
    by_name = {p.name: p for p in params}
    chains = [
        ("vulnerability.factor_min", "vulnerability.factor_max"),
        ("capacity.factor_min", "capacity.factor_max"),
        ("levels.breaks.0", "levels.breaks.1", "levels.breaks.2"),
    ]
    for chain in chains:
        ranged = [by_name[n] for n in chain if n in by_name]
        for a, b in itertools.pairwise(ranged):
            if a.high > b.low:
                msg = (
                    f"{WHERE}: the ranges of {a.name} ({a.low:g}..{a.high:g}) and {b.name} "
                    f"({b.low:g}..{b.high:g}) overlap, so a sample could put them out of order. "
                    "Fix: narrow them so that they do not overlap."
                )
                raise InputError(msg)


def apply_parameters(
    risk_weights: Mapping[str, Any], params: Sequence[Parameter], values: Sequence[float]
) -> dict[str, Any]:
    """A copy of the risk table with the parameters set to ``values`` (for re-scoring the slow way).

    Examples
    --------
    >>> from risk_models import load_weights
    >>> w = load_weights()
    >>> p = Parameter("levels.breaks.2", 93.0, 97.0, 95.0)
    >>> apply_parameters(w, [p], [96.0])["levels"]["breaks"]
    [60.0, 85.0, 96.0]
    """
    out = copy.deepcopy(dict(risk_weights))
    for p, v in zip(params, values, strict=True):
        if p.path[0] == "natural":  # the natural table's (natural_overrides)
            continue
        *head, last = p.path
        node: Any = out
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = float(v)
        else:
            node[last] = float(v)
    return out


def natural_overrides(params: Sequence[Parameter], values: Sequence[float]) -> dict[str, Any]:
    """The natural-table overrides that set the sampled ``natural.<hazard>.weight`` parameters.

    For re-scoring the slow way: ``score_scenario(..., natural_table=natural_overrides(...))``.

    Examples
    --------
    >>> natural_overrides([Parameter("natural.flood.weight", 10.0, 30.0, 20.0)], [25.0])
    {'composite': {'weights': {'flood': 25.0}}}
    """
    weights = {p.path[1]: float(v) for p, v in zip(params, values, strict=True) if p.path[0] == "natural"}
    return {"composite": {"weights": weights}}
