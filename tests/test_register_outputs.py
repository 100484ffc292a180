"""The disclosure page's tables: ``html_table`` against pandas' ``to_html``, cell by cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
from bs4 import BeautifulSoup

from service.register_outputs import html_table


def _cells(page: str) -> tuple[list[str], list[list[str]]]:
    soup = BeautifulSoup(page, "html.parser")
    head = [th.get_text() for th in soup.find("thead").find_all("th")]
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in soup.find("tbody").find_all("tr")]
    return head, rows


def _frame() -> pd.DataFrame:
    odd = "a <b> & \"q\" 's' 中文 \u2028 end"
    return pd.DataFrame(
        {
            "number": ["YH-2026-000001", "YH-2026-000002", odd],
            "<col & name>": [odd, None, "plain"],
            "zh": pd.array(["整改中", None, "已销号"], dtype="string"),
            "reported_at": pd.to_datetime(["2026-03-01 09:30:05", None, "2026-03-02 10:00:00"]),
            "deadline": pd.to_datetime(["2026-04-01", "2026-05-01", None]),
            "extensions": np.array([0, 1, 2], dtype=np.int64),
            "funds_yuan": [1000.0, np.nan, 1234.5],
            "days_open": [3.5, 12.0, 0.1],
            "overdue": [True, False, True],
        }
    )


def test_html_table_equals_pandas_to_html_cell_by_cell() -> None:
    frame = _frame()
    mine_head, mine = _cells(html_table(frame))
    ref_head, ref = _cells(frame.to_html(index=False, na_rep="", escape=True))
    assert mine_head == ref_head == list(frame.columns)
    assert len(mine) == len(ref) == len(frame)
    for r, (got_row, ref_row) in enumerate(zip(mine, ref, strict=True)):
        for c, (got, want) in enumerate(zip(got_row, ref_row, strict=True)):
            name = frame.columns[c]
            if frame[name].isna().iloc[r]:
                assert got == "" and want in ("", "None", "<NA>"), (name, want)
            elif name in ("funds_yuan", "days_open"):
                assert float(got) == float(want)
            else:
                assert got == want.strip(), (name, got, want)


def test_html_table_escapes_every_text_and_keeps_no_markup_from_the_data() -> None:
    page = html_table(_frame())
    assert "<b>" not in page and "&lt;b&gt;" in page and "&lt;col &amp; name&gt;" in page
    assert page.count("<tr>") == 4 and page.count("<td>") == 3 * 9
    assert html_table(_frame().iloc[:0]).count("<td>") == 0
