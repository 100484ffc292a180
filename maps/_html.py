"""The HTML pieces every report section shares: its CSS, escaped tables, cells and inline figures."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import figures
from .words import tr

__all__ = ["REPORT_CSS", "cell_text", "figure_img", "html_table"]

REPORT_CSS = """
body { font: 14px/1.45 "Helvetica Neue", Arial, "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 16px 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 2px; } h2 { font-size: 17px; margin-top: 28px;
     border-bottom: 1px solid #ddd; padding-bottom: 3px; }
.sub { color: #555; } .synthetic { background: #fff3cd; border: 1px solid #e0c36a; padding: 6px 10px; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; } .kpi { border: 1px solid #ddd; border-radius: 6px;
        padding: 8px 12px; min-width: 150px; } .kpi b { display: block; font-size: 20px; }
table.rp { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0; }
table.rp th, table.rp td { border-bottom: 1px solid #e5e5e5; padding: 3px 6px; text-align: left;
                           vertical-align: top; }
table.rp td.num { text-align: right; white-space: nowrap; } table.rp th { background: #f5f5f5; }
.lv { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.figs img { max-width: 100%; border: 1px solid #eee; margin: 6px 0; }
iframe.map { width: 100%; height: 680px; border: 1px solid #ccc; }
.more { color: #555; font-style: italic; }
h3 { font-size: 15px; margin-top: 18px; }
"""


def cell_text(value: Any, kind: str) -> str:
    """A table cell's escaped text; ``kind``: ``s`` (seconds, shown as minutes), ``int``, ``pct``, ``.N``."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "-"
    if kind == "s":
        v = float(value)
        return (
            html.escape(tr("minutes", minutes=f"{v / 60:.1f}"))
            if np.isfinite(v)
            else tr("map_js_not_reached")
        )
    if kind == "int":
        return f"{float(value):,.0f}"
    if kind == "pct":
        return f"{float(value):.0%}"
    if kind.startswith("."):
        return f"{float(value):,.{int(kind[1:])}f}"
    return html.escape(str(value))


def html_table(
    df: pd.DataFrame, columns: Sequence[tuple[str, str, str]], *, css_id: str, limit: int | None = None
) -> str:
    """An escaped HTML table of ``columns`` ``(column, header, format)``; missing columns skipped."""
    cols = [c for c in columns if c[0] in df.columns]
    shown = df if limit is None else df.head(limit)
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in cols)
    rows = []
    for _, row in shown.iterrows():
        cells = []
        for col, _, kind in cols:
            cls = ' class="num"' if kind in {"s", "int", "pct"} or kind.startswith(".") else ""
            cells.append(f"<td{cls}>{cell_text(row[col], kind)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if limit is not None and len(df) > limit:
        more = f'<p class="more">{html.escape(tr("report_more", count=len(df) - limit))}</p>'
    if not rows:
        return f'<p id="{css_id}" class="more">{html.escape(tr("report_none"))}</p>'
    return f'<table class="rp" id="{css_id}"><tr>{head}</tr>{"".join(rows)}</table>{more}'


def figure_img(fig: Any, alt: str) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` with ``alt`` text."""
    data = base64.b64encode(figures.figure_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
