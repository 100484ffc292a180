"""A month's assessment (四评估) as the files people read: an HTML page and a CSV, in Chinese or English.

Shared by ``riskplan register assess`` (``--out`` CSV) and the web service's
``GET /api/v1/register/assessment/{month}?format=html|csv``. The words (title, column headers,
the month as 2024年12月) come from the glossary (``assessment_*`` texts, ``column_*`` terms);
the English CSV is the table as :func:`risk_models.register.assess` gives it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from gis.i18n import Lang, format_month, load_glossary

from .register_outputs import html_table, localise_columns, page_head

if TYPE_CHECKING:
    from risk_models.register import Assessment

__all__ = ["ASSESSMENT_FORMATS", "assessment_bytes", "assessment_csv", "assessment_page"]

#: Formats of an assessment file and their media types.
ASSESSMENT_FORMATS: dict[str, str] = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _month(month: str, lang: Lang) -> str:
    year, number = (int(part) for part in month[:7].split("-"))
    return format_month(year, number, lang)


def _by(by: str, lang: Lang) -> str:
    entry = load_glossary().terms.get(f"column_{by}")
    return entry[lang] if entry else by


def assessment_csv(a: Assessment, lang: Lang = "en", *, by: str | None = None) -> str:
    """The month's table as CSV text, its headers in ``lang`` (the group column named ``by``)."""
    table = a.table.rename_axis(by or a.by)
    return localise_columns(table, lang).to_csv()


def assessment_page(a: Assessment, lang: Lang = "en", *, by: str | None = None) -> str:
    """The month's ranking and the city's trend as one self-contained HTML page in ``lang``."""
    g = load_glossary()
    group = by or a.by
    title = g.text("assessment_title", lang, month=_month(a.month, lang), by=_by(group, lang))
    table = localise_columns(a.table.rename_axis(group).reset_index(), lang)
    city = a.city.rename_axis("month").reset_index()
    city["month"] = [_month(str(m), lang) for m in city["month"]]
    return (
        page_head(title, lang)
        + f"""
<p>{html.escape(g.text("assessment_intro", lang))}</p>
{html_table(table.round(3))}
<h2>{html.escape(g.text("assessment_city", lang))}</h2>
{html_table(localise_columns(city.round(3), lang))}
</body></html>
"""
    )


def assessment_bytes(a: Assessment, fmt: str, lang: Lang = "en", *, by: str | None = None) -> bytes:
    """The assessment in ``fmt`` (``html`` or ``csv``; CSV UTF-8 with a BOM for Excel) as bytes."""
    if fmt == "html":
        return assessment_page(a, lang, by=by).encode("utf-8")
    if fmt == "csv":
        return ("\ufeff" + assessment_csv(a, lang, by=by)).encode("utf-8")
    msg = f"Unknown assessment format `{fmt}`. Fix: use one of {list(ASSESSMENT_FORMATS)}."
    raise ValueError(msg)
