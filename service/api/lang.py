"""The language of an answer, by the one rule of :func:`gis.i18n.resolve_lang`.

``?lang=``, then ``$RISKPLAN_LANG`` (the server's), then the request's ``Accept-Language``,
then the scenario's place (when the route has one), else English. One helper for every route
that answers in words a person reads (the web page's texts, the register's disclosure, the
problem documents of errors): :data:`LangQuery` is the ``lang`` query parameter (``zh`` or
``en``; any other value is a 422 naming the two), :func:`request_lang` the choice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from gis import InputError
from gis.i18n import LANGS, Lang, resolve_lang

__all__ = ["LangQuery", "answer_lang", "request_lang"]

#: The ``lang`` query parameter of the routes that answer in Chinese or English.
LangQuery = Annotated[
    Lang | None,
    Query(
        description="`zh` or `en`; without it, $RISKPLAN_LANG of the server, then the request's "
        "Accept-Language, then the scenario's place, then English."
    ),
]


def request_lang(
    request: Request, lang: str | None, *, bounds_wgs84: tuple[float, float, float, float] | None = None
) -> Lang:
    """The language to answer ``request`` in (:func:`gis.i18n.resolve_lang`).

    ``lang`` (the query's), else the server's ``$RISKPLAN_LANG``, else the request's
    ``Accept-Language``, else the place ``bounds_wgs84`` of the scenario asked about, else English.

    Raises
    ------
    InputError
        A ``lang`` or ``$RISKPLAN_LANG`` riskplan does not speak.
    """
    header = request.headers.get("accept-language")
    return resolve_lang(lang, accept_language=header, bounds_wgs84=bounds_wgs84)


def answer_lang(request: Request) -> Lang:
    """The language of an answer to a route without a ``lang`` parameter (problems, what-if).

    ``?lang=`` when it is one riskplan speaks (a bad one is the problem being answered), then
    the server's ``$RISKPLAN_LANG`` (English if it is bad: the server's problem, not the
    request's), then ``Accept-Language``, else English. Never raises.
    """
    query = (request.query_params.get("lang") or "").strip().lower()
    try:
        header = request.headers.get("accept-language")
        return resolve_lang(query if query in LANGS else None, accept_language=header)
    except InputError:
        return "en"
