"""Route: ``GET /i18n``: the words of the web page and the phone report page in one language.

The pages (``service/static/app.js``, ``service/static/report/report.js``) take every string
they show from here, so what they say comes from the one reviewed glossary
(``gis/data/glossary.toml``, :func:`gis.i18n.load_glossary`). Public, like the pages: the
texts are the same for everyone. The language: ``?lang=``, then ``Accept-Language``, then
the place of ``?scenario=`` (Chinese for a scenario in China), else English.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from gis.i18n import LANGS, Lang, load_glossary

from ..deps import get_service, require_read
from ..lang import LangQuery, request_lang
from ..problems import PROBLEM_RESPONSES

__all__ = ["TextsOut", "router"]

router = APIRouter(tags=["service"], responses=PROBLEM_RESPONSES)


class TextsOut(BaseModel):
    """The glossary in one language: the pages' texts (with ``{placeholders}``) and the domain's terms."""

    lang: Lang = Field(description="The language chosen: `zh` or `en`.")
    langs: list[Lang] = Field(description="The languages riskplan speaks (the page's switch).")
    texts: dict[str, str] = Field(description="Texts by key; `{name}` placeholders are filled by the page.")
    terms: dict[str, str] = Field(description="Domain terms by key (风险点, 隐患, 销号 ...).")


@router.get("/i18n", response_model=TextsOut, summary="The pages' texts in Chinese or English")
async def texts(
    request: Request,
    response: Response,
    lang: LangQuery = None,
    scenario: Annotated[
        str | None, Query(max_length=64, description="Scenario id whose place chooses the default language.")
    ] = None,
) -> TextsOut:
    """Every text and term of the glossary in the language chosen (``lang``, Accept-Language, place)."""
    bounds = None
    if scenario is not None and lang is None:
        await require_read(request, None)
        record = await run_in_threadpool(get_service(request).store.get_scenario, scenario)
        bounds = record.bounds_wgs84
    chosen = request_lang(request, lang, bounds_wgs84=bounds)
    glossary = load_glossary()
    response.headers["Vary"] = "Accept-Language"
    response.headers["Content-Language"] = chosen
    return TextsOut(
        lang=chosen,
        langs=list(LANGS),
        texts={k: v[chosen] for k, v in glossary.texts.items()},
        terms={k: v[chosen] for k, v in glossary.terms.items()},
    )
