"""The language of the output being made, and its words: the glossary in that language.

An output (a run, a map, a report, an API answer) sets its language for the duration of its
making with :func:`speaking` (a :class:`contextvars.ContextVar`: each thread and each request has
its own, so one request's language never leaks into another's). Every package below the outputs
(``risk_models``, ``planning``) makes the words a person reads (a unit's risk reasons, a plan's
notes, a violation's message) with :func:`say` and a literal glossary key, so a test can collect
every key used and check it exists in both languages; outside :func:`speaking` they are English.

``maps.words`` re-exports :func:`speaking`, :func:`current_lang` and :func:`spoken_lang`: one
ContextVar, so a map drawn ``with speaking("zh")`` also makes the planning and risk words Chinese.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from functools import wraps
from typing import ParamSpec, TypeVar, cast

from .i18n import Lang, load_glossary, resolve_lang

__all__ = ["current_lang", "in_language", "say", "speak", "speaking", "speaks", "spoken_lang"]

_LANG: ContextVar[Lang | None] = ContextVar("riskplan_lang", default=None)

P = ParamSpec("P")
R = TypeVar("R")


def current_lang() -> Lang:
    """The language of the output being made (English outside :func:`speaking`).

    Examples
    --------
    >>> current_lang()
    'en'
    >>> with speaking("zh"):
    ...     current_lang()
    'zh'
    """
    return _LANG.get() or "en"


def spoken_lang() -> Lang | None:
    """The language set by an enclosing :func:`speaking`, or None outside one."""
    return _LANG.get()


@contextmanager
def speaking(lang: Lang | str) -> Iterator[Lang]:
    """Make the words inside the block in ``lang`` (checked: ``zh`` or ``en``).

    Raises
    ------
    InputError
        A language riskplan does not speak.
    """
    checked = resolve_lang(lang)
    token = _LANG.set(checked)
    try:
        yield checked
    finally:
        _LANG.reset(token)


def speaks(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``fn`` so each call runs in a copy of the caller's context, for :func:`speak`.

    For a function that learns its output's language only part-way through (a run that loads its
    scenario first): :func:`speak` inside it sets the language until it returns, never beyond.

    Examples
    --------
    >>> @speaks
    ... def run():
    ...     speak("zh")
    ...     return current_lang()
    >>> run(), current_lang()
    ('zh', 'en')
    """

    @wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return copy_context().run(fn, *args, **kwargs)

    return call


def speak(lang: Lang | str) -> Lang:
    """Make the words in ``lang`` from here to the end of the enclosing :func:`speaks` function.

    Outside a :func:`speaks` function use :func:`speaking` (a block), which restores the language
    it found; ``speak`` does not, so it belongs only where the context is the call's own copy.

    Raises
    ------
    InputError
        A language riskplan does not speak.
    """
    checked = resolve_lang(lang)
    _LANG.set(checked)
    return checked


def in_language(lang: Lang | None, fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` that runs speaking ``lang`` wherever it is called (a worker thread, a Dask worker).

    A task handed to an executor leaves the caller's context behind; wrap it with the caller's
    :func:`spoken_lang` so the words it makes are in the output's language. ``None`` returns
    ``fn`` itself.

    Examples
    --------
    >>> in_language("zh", current_lang)()
    'zh'
    """
    if lang is None:
        return fn
    return cast("Callable[P, R]", _Speaking(lang, fn))


class _Speaking:
    """A picklable callable running ``fn`` inside ``speaking(lang)`` (for process executors)."""

    def __init__(self, lang: Lang, fn: Callable[..., object]) -> None:
        self.lang, self.fn = lang, fn

    def __call__(self, *args: object, **kwargs: object) -> object:
        def run() -> object:
            with speaking(self.lang):
                return self.fn(*args, **kwargs)

        return copy_context().run(run)


def say(key: str, **values: object) -> str:
    """The glossary's text (or, failing that, term) ``key`` in the current output's language.

    Give numbers already formatted (``share=f"{x:.0%}"``) where the wording depends on it; codes,
    units and names go in as placeholders, never into the key.

    Raises
    ------
    InputError
        A key the glossary has neither a text nor a term of, or a placeholder not given.

    Examples
    --------
    >>> say("minutes", minutes=5)
    '5 min'
    >>> with speaking("zh"):
    ...     say("minutes", minutes=5), say("level_red")
    ('5分钟', '重大风险')
    """
    g = load_glossary()
    if key in g.texts:
        return g.text(key, current_lang(), **values)
    return g.term(key, current_lang())
