"""A month's disclosure (三公开) as the files the public gets: HTML page, CSV, GeoJSON, GeoPackage.

Shared by ``riskplan register disclose`` (files in a folder) and the web service's public
``GET /api/v1/register/disclosure/{month}``. Every table rendered here comes from
:func:`risk_models.register.disclose`, whose tables are built by
:func:`~risk_models.register.public_view`: no reporter, description as reported, plan, note,
attachment or actor reaches them.
"""

from __future__ import annotations

import html
import io
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from risk_models.register import Disclosure

__all__ = [
    "DISCLOSURE_FORMATS",
    "disclosure_bytes",
    "disclosure_page",
    "html_table",
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


def disclosure_page(d: Disclosure, label: str) -> str:
    """The month's disclosure as one self-contained HTML page (no external assets)."""

    def table(frame: Any) -> str:
        if not len(frame):
            return "<p>None.</p>"
        return html_table(frame.drop(columns="geometry", errors="ignore"))

    majors = d.listing()
    title = f"Hidden-danger disclosure {d.month} (三公开)"
    return f"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1rem}}table{{border-collapse:collapse;font-size:.85rem}}
td,th{{border:1px solid #ccc;padding:2px 6px}}th{{background:#eee}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(label)}. States as of {d.as_of:%Y-%m-%d %H:%M}. Public view: no reporters, notes or plans.</p>
<h2>The month in figures (本月隐患情况), by grade</h2>{d.summary.to_html(escape=True)}
<h2>Major dangers (重大隐患清单) and their rectification progress (整改进度)</h2>{table(majors)}
<h2>Results (整改结果): major dangers closed (销号) this month</h2>{table(d.results)}
</body></html>
"""


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


def disclosure_bytes(d: Disclosure, fmt: str, *, label: str) -> bytes:
    """The disclosure in ``fmt`` (a key of :data:`DISCLOSURE_FORMATS`) as bytes.

    CSV: the list of major dangers with their progress, longitude / latitude columns
    (UTF-8 with a BOM, so that Excel reads the Chinese); GeoJSON: the same as points.
    """
    import pandas as pd

    if fmt == "html":
        return disclosure_page(d, label).encode("utf-8")
    if fmt == "csv":
        majors = _listing(d)
        buf = io.StringIO()
        majors.drop(columns="geometry").assign(lon=majors.geometry.x, lat=majors.geometry.y).to_csv(
            buf, index=False
        )
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
