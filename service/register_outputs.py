"""A month's disclosure (三公开) as the files the public gets: HTML page, CSV, GeoJSON, GeoPackage.

Shared by ``riskplan register disclose`` (files in a folder) and the web service's public
``GET /api/v1/register/disclosure/{month}``. Every table rendered here comes from
:func:`risk_models.register.disclose`, whose tables are built by
:func:`~risk_models.register.public_view`: no reporter, description as reported, plan, note,
attachment or actor reaches them.

In Chinese or English (``lang``): the HTML page's headings, dates (2024年12月) and column
headers, and the CSV's column headers, from the glossary (``gis/data/glossary.toml``:
``disclosure_*`` texts, ``column_*`` terms); English stays as it always was. GeoJSON and
GeoPackage keep the column names that programs read.
"""

from __future__ import annotations

import html
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis.i18n import Lang, format_date, format_month, load_glossary

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from risk_models.register import Disclosure

__all__ = [
    "DISCLOSURE_FORMATS",
    "disclosure_bytes",
    "disclosure_page",
    "html_table",
    "localise_columns",
    "write_disclosure_gpkg",
]

#: Formats of a disclosure and their media types.
DISCLOSURE_FORMATS: dict[str, str] = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


def _listing(d: Disclosure) -> gpd.GeoDataFrame:
    return d.listing().to_crs(4326)


def _cells(column: pd.Series) -> list[str]:
    """The column's cells as escaped HTML text (missing values empty)."""
    import pandas as pd

    missing = column.isna().tolist()
    if pd.api.types.is_datetime64_any_dtype(column):
        times = column.dropna()
        midnight = bool((times == times.dt.normalize()).all())
        values = column.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S").tolist()
        return ["" if m else v for m, v in zip(missing, values, strict=True)]
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return ["" if m else str(v) for m, v in zip(missing, column.tolist(), strict=True)]
    escape = html.escape
    return ["" if m else escape(str(v)) for m, v in zip(missing, column.astype(object).tolist(), strict=True)]


def page_head(title: str, lang: str) -> str:
    """The opening of a register page (disclosure, assessment): head, style and the ``<h1>`` title."""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1rem}}table{{border-collapse:collapse;font-size:.85rem}}
td,th{{border:1px solid #ccc;padding:2px 6px}}th{{background:#eee}}</style></head><body>
<h1>{html.escape(title)}</h1>"""


def html_table(frame: pd.DataFrame) -> str:
    """``frame`` (without its index) as an HTML table, every text escaped, missing values empty.

    What :meth:`pandas.DataFrame.to_html` gives with ``index=False, na_rep=""``, with ``None``
    empty too (pandas writes "None") and times to the second, at about a tenth of the time
    (tests/test_register_outputs.py compares the two cell by cell).

    Examples
    --------
    >>> import pandas as pd
    >>> page = html_table(pd.DataFrame({"a": ["<b>", None], "n": [1, 2]}))
    >>> page[page.index("<tbody>") :]
    '<tbody><tr><td>&lt;b&gt;</td><td>1</td></tr><tr><td></td><td>2</td></tr></tbody></table>'
    """
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    columns = [_cells(frame[c]) for c in frame.columns] if len(frame.columns) else []
    body = "".join(
        "<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in zip(*columns, strict=True)
    )
    return f'<table border="1" class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def localise_columns(frame: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """``frame`` with its column headers (and index name) in ``lang``: the glossary's ``column_*`` terms.

    English and columns without a term keep their names; in Chinese, yes / no columns read 是 / 否
    and grades 重大隐患 / 一般隐患.

    Examples
    --------
    >>> import pandas as pd
    >>> list(localise_columns(pd.DataFrame({"number": ["YH-1"], "deadline": [None]}), "zh").columns)
    ['隐患编号', '整改时限']
    """
    if lang == "en":
        return frame
    import pandas as pd

    terms = load_glossary().terms

    def name(column: object) -> object:
        entry = terms.get(f"column_{column}")
        return entry[lang] if entry else column

    yes_no = {True: "是", False: "否"}
    flags = [c for c in frame.columns if pd.api.types.is_bool_dtype(frame[c])]
    out = frame.assign(**{str(c): frame[c].map(yes_no) for c in flags}) if flags else frame
    if "grade" in out.columns:
        grades = {g: terms[f"column_grade_{g}"][lang] for g in ("general", "major")}
        out = out.assign(grade=out["grade"].map(lambda g: grades.get(g, g)))
    out = out.rename(columns=name)
    if out.index.name is not None:
        out = out.rename_axis(name(out.index.name))
    return out


def _summary_html(d: Disclosure, lang: Lang) -> str:
    if lang == "en":
        return str(d.summary.to_html(escape=True))
    terms = load_glossary().terms
    grades = {g: terms[f"column_grade_{g}"][lang] for g in ("general", "major", "all")}
    return str(localise_columns(d.summary.rename(index=grades), lang).to_html(escape=True))


def _zh_disclosure_page(d: Disclosure, label: str) -> str:
    g = load_glossary()
    year, month = (int(part) for part in str(d.month)[:7].split("-"))
    title = g.text("disclosure_title", "zh", month=format_month(year, month, "zh"))
    as_of = f"{format_date(d.as_of.date(), 'zh')} {d.as_of:%H:%M}"

    def table(frame: Any) -> str:
        if not len(frame):
            return f"<p>{html.escape(g.text('disclosure_none', 'zh'))}</p>"
        return html_table(localise_columns(frame.drop(columns="geometry", errors="ignore"), "zh"))

    intro = g.text("disclosure_intro", "zh", label=label, as_of=as_of)
    return (
        page_head(title, "zh")
        + f"""
<p>{html.escape(intro)}</p>
<h2>{html.escape(g.text("disclosure_figures", "zh"))}</h2>{_summary_html(d, "zh")}
<h2>{html.escape(g.text("disclosure_majors", "zh"))}</h2>{table(d.listing())}
<h2>{html.escape(g.text("disclosure_results", "zh"))}</h2>{table(d.results)}
</body></html>
"""
    )


def disclosure_page(d: Disclosure, label: str, *, lang: Lang = "en") -> str:
    """The month's disclosure as one self-contained HTML page (no external assets), in ``lang``."""
    if lang == "zh":
        return _zh_disclosure_page(d, label)

    def table(frame: Any) -> str:
        if not len(frame):
            return "<p>None.</p>"
        return html_table(frame.drop(columns="geometry", errors="ignore"))

    majors = d.listing()
    title = f"Hidden-danger disclosure {d.month} (三公开)"
    return (
        page_head(title, "zh")
        + f"""
<p>{html.escape(label)}. States as of {d.as_of:%Y-%m-%d %H:%M}. Public view: no reporters, notes or plans.</p>
<h2>The month in figures (本月隐患情况), by grade</h2>{d.summary.to_html(escape=True)}
<h2>Major dangers (重大隐患清单) and their rectification progress (整改进度)</h2>{table(majors)}
<h2>Results (整改结果): major dangers closed (销号) this month</h2>{table(d.results)}
</body></html>
"""
    )


def write_disclosure_gpkg(d: Disclosure, path: Path) -> Path:
    """Write the month's majors, results and summary as one GeoPackage (atomically), QGIS styles embedded."""
    from gis.atomic import write_gpkg
    from maps.qgis_styles import write_qgis_styles

    write_gpkg(
        path,
        {"majors": _listing(d), "results": d.results.to_crs(4326)},
        {"summary": d.summary.reset_index()},
        index_label="number",
    )
    write_qgis_styles(path)
    return path


def disclosure_bytes(d: Disclosure, fmt: str, *, label: str, lang: Lang = "en") -> bytes:
    """The disclosure in ``fmt`` (a key of :data:`DISCLOSURE_FORMATS`) as bytes.

    CSV: the list of major dangers with their progress, longitude / latitude columns
    (UTF-8 with a BOM, so that Excel reads the Chinese); GeoJSON: the same as points. ``lang``
    chooses the words of the HTML page and the CSV's column headers.
    """
    import pandas as pd

    if fmt == "html":
        return disclosure_page(d, label, lang=lang).encode("utf-8")
    if fmt == "csv":
        majors = _listing(d)
        buf = io.StringIO()
        table = majors.drop(columns="geometry").assign(lon=majors.geometry.x, lat=majors.geometry.y)
        localise_columns(pd.DataFrame(table), lang).to_csv(buf, index=False)
        return ("\ufeff" + buf.getvalue()).encode("utf-8")
    if fmt == "geojson":
        majors = _listing(d)
        for col in majors.columns:
            if col != "geometry" and pd.api.types.is_datetime64_any_dtype(majors[col]):
                majors[col] = majors[col].map(lambda t: None if pd.isna(t) else t.isoformat()).astype(object)
        return majors.to_json(drop_id=True, ensure_ascii=False).encode("utf-8")
    if fmt == "gpkg":
        with tempfile.TemporaryDirectory(prefix="disclosure-") as work:
            return write_disclosure_gpkg(d, Path(work) / f"disclosure-{d.month}.gpkg").read_bytes()
    msg = f"Unknown disclosure format `{fmt}`. Fix: use one of {list(DISCLOSURE_FORMATS)}."
    raise ValueError(msg)
