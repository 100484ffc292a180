"""Typed exceptions shared by every riskplan package.

Every error raised because of bad *input* derives from :class:`InputError`
(a :class:`ValueError`): the CLI turns it into exit code 2 and the web API into
a 4xx response. Messages name the file, layer, row ids and argument in
backticks, and say how to fix the problem.

The main validation messages are translatable: a :class:`Problem` (and an :class:`InputError`)
may carry a glossary ``key`` and the ``values`` of its placeholders, and ``text(lang)`` gives it
in Chinese (``texts.input_<key>`` and ``input_<key>_fix`` of ``gis/data/glossary.toml``, in the
file / layer / rows / fix structure of ``texts.problem``); the English text is ``str()`` as ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .i18n import Lang

__all__ = [
    "CRSError",
    "InputError",
    "MissingDependencyError",
    "NetworkError",
    "Problem",
    "RiskplanError",
    "ScenarioError",
    "SnapError",
    "SolverError",
]


class RiskplanError(Exception):
    """Base class of every riskplan error."""


class InputError(RiskplanError, ValueError):
    """The caller's input is wrong; the message says what and how to fix it.

    Parameters
    ----------
    *args
        The message (English), as for any exception.
    key
        Glossary key of its translatable form (``texts.input_<key>``), or None.
    values
        The placeholders of that text.

    Examples
    --------
    >>> e = InputError("the layer is empty. Fix: add features.", key="layer_empty")
    >>> str(e), e.text("zh").startswith("图层为空")
    ('the layer is empty. Fix: add features.', True)
    """

    def __init__(self, *args: object, key: str | None = None, values: Mapping[str, object] | None = None):
        super().__init__(*args)
        self.key = key
        self.values: dict[str, object] = dict(values or {})

    def text(self, lang: str = "en") -> str:
        """The message in ``lang``: the glossary's text of :attr:`key`, else the English message."""
        key = getattr(self, "key", None)
        if lang == "en" or key is None:
            return str(self)
        from .i18n import load_glossary

        g, code, values = load_glossary(), _lang(lang), getattr(self, "values", {})
        text = g.text(f"input_{key}", code, **values)
        if f"input_{key}_fix" in g.texts:
            text = g.text(
                "input_with_fix", code, problem=text, fix=g.text(f"input_{key}_fix", code, **values)
            )
        return text


def _lang(lang: str) -> Lang:
    from .i18n import resolve_lang

    return resolve_lang(lang)


class CRSError(InputError):
    """A layer has no CRS, the wrong kind of CRS, or swapped coordinates."""


class NetworkError(InputError):
    """A road network cannot be built or routed as asked."""


class SnapError(InputError):
    """Points lie farther from the road network than the allowed snap distance."""


class SolverError(InputError):
    """A location model cannot be solved as posed: infeasible, or no solution within the time limit.

    The message says which constraint cannot hold (capacities short of the demand, demand that
    no site can reach) or which limit to raise, so the CLI exits 2 and the API answers 422.
    """


class MissingDependencyError(RiskplanError, ImportError):
    """An optional package is needed; the message gives the pip command."""

    def __init__(self, package: str, extra: str | None = None, *, purpose: str = "") -> None:
        target = f'"riskplan[{extra}]"' if extra else package
        why = f" to {purpose}" if purpose else ""
        msg = f"The optional package `{package}` is needed{why}. Install it with: pip install {target}"
        super().__init__(msg)


def _format_rows(rows: Sequence[object], limit: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"[{shown}{more}]"


@dataclass(frozen=True)
class Problem:
    """One validation problem, located precisely enough to be fixed.

    Parameters
    ----------
    layer
        Scenario layer name, such as ``hazards``.
    message
        What is wrong.
    fix
        How to fix it.
    file
        File the layer was read from, when known.
    rows
        Ids (or row numbers when ids are unusable) of the offending rows.
    column
        Offending column, when the problem is about one column.
    key
        Glossary key of the translatable form (``texts.input_<key>`` and ``input_<key>_fix``).
    values
        The placeholders of those texts.
    """

    layer: str
    message: str
    fix: str
    file: str | None = None
    rows: tuple[object, ...] = ()
    column: str | None = None
    key: str | None = field(default=None, compare=False)
    values: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_error(cls, layer: str, exc: Exception, *, file: str | None = None) -> Problem:
        """A problem from an error message that already names its place and fix.

        The place (the file and layer the message starts with) is not repeated and the ``Fix:`` part becomes
        :attr:`fix`.

        Examples
        --------
        >>> e = InputError("`a.csv`, layer `hazards`: the file does not exist. Fix: check `path`.")
        >>> print(Problem.from_error("hazards", e, file="a.csv"))
        `a.csv`, layer `hazards`: the file does not exist. Fix: check `path`
        """
        text = str(exc).strip()
        for prefix in (f"`{file}`, layer `{layer}`: ", f"layer `{layer}`: "):
            text = text.removeprefix(prefix)
        message, _, fix = text.partition(" Fix: ")
        return cls(layer, message.rstrip("."), fix.rstrip(".") or "see the message", file=file)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"`{self.file}`")
        where.append(f"layer `{self.layer}`")
        if self.rows:
            where.append(f"rows {_format_rows(self.rows)}")
        if self.column:
            where.append(f"column `{self.column}`")
        return f"{', '.join(where)}: {self.message}. Fix: {self.fix}"

    def text(self, lang: str = "en") -> str:
        """The problem in ``lang``: where, what and the fix (English: ``str(self)``).

        Without a :attr:`key`, the message and fix stay in English inside the translated frame.

        Examples
        --------
        >>> p = Problem("hazards", "empty id", "give every row an id", rows=(3,), column="id", key="empty_id")
        >>> p.text("zh").startswith("图层 `hazards`"), "编号为空" in p.text("zh")
        (True, True)
        """
        if lang == "en":
            return str(self)
        from .i18n import load_glossary

        g, code = load_glossary(), _lang(lang)
        where = [g.text("input_where_file", code, file=self.file)] if self.file else []
        where.append(g.text("input_where_layer", code, layer=self.layer))
        if self.rows:
            where.append(g.text("input_where_rows", code, rows=_format_rows(self.rows)))
        if self.column:
            where.append(g.text("input_where_column", code, column=self.column))
        message, fix = self.message, self.fix
        if self.key is not None:
            message = g.text(f"input_{self.key}", code, **self.values)
            if f"input_{self.key}_fix" in g.texts:
                fix = g.text(f"input_{self.key}_fix", code, **self.values)
        return g.text(
            "problem", code, where=g.text("input_where_join", code).join(where), problem=message, fix=fix
        )


@dataclass
class ScenarioError(InputError):
    """A scenario failed validation; :attr:`problems` lists every problem found."""

    problems: list[Problem] = field(default_factory=list)
    source: str | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"Scenario `{self.source}`" if self.source else "Scenario"
        n = len(self.problems)
        lines = [f"{head} has {n} problem{'s' if n != 1 else ''}:"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def text(self, lang: str = "en") -> str:
        """Every problem in ``lang`` (English: ``str(self)``)."""
        if lang == "en":
            return str(self)
        from .i18n import load_glossary

        g, code = load_glossary(), _lang(lang)
        head = (
            g.text("input_scenario_head", code, source=self.source)
            if self.source
            else g.text("input_scenario", code)
        )
        lines = [g.text("input_scenario_problems", code, head=head, count=len(self.problems))]
        lines += [f"  - {p.text(code)}" for p in self.problems]
        return "\n".join(lines)

    @classmethod
    def from_problems(cls, problems: Iterable[Problem], source: str | None = None) -> ScenarioError:
        """The error listing ``problems`` of the scenario read from ``source``."""
        return cls(list(problems), source)
