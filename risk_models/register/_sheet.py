"""Reading a sheet of inspection results as texts (private): CSV, and Excel by calamine or openpyxl.

Excel files are read by python-calamine (a Rust reader, the ``excel`` extra; about ten times
faster than openpyxl on 100,000 rows) when it is installed, else by openpyxl in read-only
streaming mode. Both give the same texts: every cell goes through :func:`cell_text`, which
writes whole numbers without a decimal point (openpyxl gives ``5``, calamine ``5.0``), dates
as ISO date-times (openpyxl gives a date cell as a midnight datetime, calamine as a date) and
empty cells as ``""``. The first row is the header; fully empty rows are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import RegisterError

__all__ = ["EXCEL_ENGINES", "EXCEL_SUFFIXES", "cell_text", "read_csv", "read_excel"]

#: Readers of ``.xlsx`` files, in the order ``engine="auto"`` tries them.
EXCEL_ENGINES: tuple[str, ...] = ("calamine", "openpyxl")
EXCEL_SUFFIXES: tuple[str, ...] = (".xlsx", ".xlsm")


def cell_text(value: Any) -> str:
    """The text of one cell as both readers give it.

    Examples
    --------
    >>> [cell_text(v) for v in (None, 5, 5.0, 1.25, date(2026, 3, 2), True, " a ")]
    ['', '5', '5', '1.25', '2026-03-02T00:00:00', 'True', ' a ']
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime | time):
        return value.isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time()).isoformat()
    return str(value)


def _frame(rows: Iterable[Sequence[Any]]) -> pd.DataFrame:
    """The header row and the non-empty rows below it, as texts."""
    it = iter(rows)
    first = next(it, None)
    if first is None:
        return pd.DataFrame()
    header = [cell_text(h).strip() for h in first]
    body = []
    for r in it:
        texts = [v if type(v) is str else cell_text(v) for v in r]
        if any(texts):
            body.append(texts)
    return pd.DataFrame(body, columns=header, dtype=str) if body else pd.DataFrame(columns=header, dtype=str)


def _calamine(path: Path, sheet: str | None) -> pd.DataFrame:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own kinds on a damaged file
        msg = f"`{path}` is not a readable .xlsx file ({exc}). Fix: re-save it from Excel or WPS."
        raise RegisterError(msg) from None
    names = list(book.sheet_names)
    if sheet is not None and sheet not in names:
        msg = f"`{path}` has no sheet `{sheet}` (it has {names}). Fix: name one of them."
        raise RegisterError(msg)
    if not names:
        return pd.DataFrame()
    ws = book.get_sheet_by_name(sheet) if sheet is not None else book.get_sheet_by_index(0)
    # skip_empty_area=False: from cell A1, as openpyxl reads it (the header is row 1)
    return _frame(ws.to_python(skip_empty_area=False))


def _openpyxl(path: Path, sheet: str | None) -> pd.DataFrame:
    try:
        import openpyxl
    except ImportError:
        msg = (
            f"Reading `{path}` needs python-calamine or openpyxl. Fix: `pip install 'riskplan[excel]'` "
            "(or save the sheet as CSV)."
        )
        raise RegisterError(msg) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds on a damaged file
        msg = f"`{path}` is not a readable .xlsx file ({exc}). Fix: re-save it from Excel or WPS."
        raise RegisterError(msg) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            msg = f"`{path}` has no sheet `{sheet}` (it has {book.sheetnames}). Fix: name one of them."
            raise RegisterError(msg)
        ws = book[sheet] if sheet is not None else book.worksheets[0]
        return _frame(ws.iter_rows(values_only=True))  # streamed: read-only mode
    finally:
        book.close()


def read_excel(path: Path, sheet: str | None, engine: str = "auto") -> pd.DataFrame:
    """The sheet's rows as texts, by ``engine`` (``auto``: calamine if installed, else openpyxl)."""
    if engine not in ("auto", *EXCEL_ENGINES):
        msg = f"Excel engine `{engine}` is unknown. Fix: use one of {['auto', *EXCEL_ENGINES]}."
        raise RegisterError(msg)
    if engine == "auto":
        try:
            import python_calamine  # noqa: F401
        except ImportError:
            engine = "openpyxl"
        else:
            engine = "calamine"
    if engine == "calamine":
        try:
            return _calamine(path, sheet)
        except ImportError:
            msg = f"Reading `{path}` with calamine needs python-calamine. Fix: `pip install python-calamine`."
            raise RegisterError(msg) from None
    return _openpyxl(path, sheet)


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV (or ``.tsv``) file in UTF-8 or GB18030, as texts."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, sep=sep, encoding=encoding, dtype=str, keep_default_na=False)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            msg = f"`{path}`: cannot parse the CSV ({exc}). Fix: check the delimiter and quoting."
            raise RegisterError(msg) from None
    msg = f"`{path}` is neither UTF-8 nor GB18030 text. Fix: save it in one of them."
    raise RegisterError(msg)
