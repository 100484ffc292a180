"""The language of an answer: ``?lang=``, then the request's ``Accept-Language``, then the scenario's place.

One helper for every route that answers in words a person reads (the web page's texts, the
register's disclosure): :data:`LangQuery` is the ``lang`` query parameter (``zh`` or ``en``;
any other value is a 422 naming the two), :func:`request_lang` the choice
(:func:`gis.i18n.resolve_lang`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from gis.i18n import Lang, resolve_lang

__all__ = ["LangQuery", "request_lang"]

#: The ``lang`` query parameter of the routes that answer in Chinese or English.
LangQuery = Annotated[
    Lang | None,
    Query(description="`zh` or `en`; without it, the request's Accept-Language, then the scenario's place."),
]


def request_lang(
    request: Request, lang: Lang | None, *, bounds_wgs84: tuple[float, float, float, float] | None = None
) -> Lang:
    """The language to answer ``request`` in: ``lang``, else its Accept-Language, else the place.

    Without any of them, English (:func:`gis.i18n.default_lang` of no place).
    """
    header = request.headers.get("accept-language")
    return resolve_lang(lang, accept_language=header, bounds_wgs84=bounds_wgs84)
