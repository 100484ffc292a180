"""Which territorial government (属地政府) holds each area: ``DATA_DIR/governments.csv``.

The table maps a district, or a street of a district, to the territorial government unit
that holds it (UTF-8, a header row; ``street`` may be left empty)::

    district,street,unit
    小店区,,小店区人民政府
    小店区,坞城街道,坞城街道办事处
    迎泽区,,迎泽区人民政府

A street row takes precedence over its district's row. An item's government is the one it
was handed over to (``territorial_unit``) or, before the handover, the one holding the area
it lies in (its ``district`` and ``street``). A ``territorial_government`` account sees and
acts on the items whose government it is, and no others (404). A handover that names no
territorial government gets the one of the item's area.

Without the file, each district is its own territorial government: the unit is the district's
name. The file is read when the service starts (a bad file stops it, naming the row and the
fix) and again when it changes (a bad change is logged and the last good table kept).
"""

from __future__ import annotations

import csv
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from gis import InputError

from ..store import AreaRule

__all__ = ["GOVERNMENTS_FILE", "GovernmentAreas", "GovernmentTable", "read_governments"]

log = logging.getLogger(__name__)

#: The table's name in the data directory.
GOVERNMENTS_FILE = "governments.csv"
_COLUMNS = ("district", "street", "unit")


@dataclass(frozen=True)
class GovernmentTable:
    """District and street -> territorial government unit (``by_district``, ``by_street``).

    ``identity``: no table was given, each district is its own government.

    Examples
    --------
    >>> t = GovernmentTable({"小店区": "小店区人民政府"}, {("小店区", "坞城街道"): "坞城街道办事处"})
    >>> t.unit_of("小店区", "亲贤街道"), t.unit_of("小店区", "坞城街道"), t.unit_of("迎泽区", None)
    ('小店区人民政府', '坞城街道办事处', None)
    >>> t.rule("小店区人民政府").contains("小店区", "坞城街道")
    False
    """

    by_district: dict[str, str]
    by_street: dict[tuple[str, str], str]
    identity: bool = False

    def unit_of(self, district: str | None, street: str | None) -> str | None:
        """The government holding ``district`` / ``street`` (None when no row holds it)."""
        if district is None:
            return None
        if street is not None and (district, street) in self.by_street:
            return self.by_street[(district, street)]
        if self.identity:
            return district
        return self.by_district.get(district)

    def rule(self, unit: str | None) -> AreaRule:
        """The area ``unit`` holds, as the store filters it."""
        if unit is None:
            return AreaRule()
        if self.identity:
            districts: tuple[str, ...] = (unit,)
        else:
            districts = tuple(sorted(d for d, u in self.by_district.items() if u == unit))
        streets = tuple(sorted(k for k, u in self.by_street.items() if u == unit))
        except_streets = tuple(
            sorted(k for k, u in self.by_street.items() if u != unit and k[0] in districts)
        )
        return AreaRule(districts=districts, streets=streets, except_streets=except_streets)


def read_governments(path: Path) -> GovernmentTable:
    """Read and check a governments table; :class:`gis.InputError` naming the rows and the fix."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        msg = f"`{path}` is not UTF-8. Fix: save it as UTF-8 (CSV UTF-8 in Excel)."
        raise InputError(msg) from None
    reader = csv.DictReader(text.splitlines())
    header = [c.strip() for c in (reader.fieldnames or [])]
    reader.fieldnames = header
    rows = list(reader)
    missing = [c for c in ("district", "unit") if c not in header]
    if missing:
        msg = f"`{path}` has no columns {missing}. Fix: give a header row `{','.join(_COLUMNS)}`."
        raise InputError(msg)
    by_district: dict[str, str] = {}
    by_street: dict[tuple[str, str], str] = {}
    bad: list[str] = []
    for k, row in enumerate(rows, start=2):
        district = (row.get("district") or "").strip()
        street = (row.get("street") or "").strip()
        unit = (row.get("unit") or "").strip()
        if not district or not unit:
            bad.append(f"row {k}: `district` and `unit` are needed")
            continue
        table: dict = by_street if street else by_district
        key = (district, street) if street else district
        if key in table and table[key] != unit:
            bad.append(f"row {k}: {key} is already held by `{table[key]}`, not `{unit}`")
            continue
        table[key] = unit
    if bad:
        msg = (
            f"`{path}`: {'; '.join(bad[:10])}. Fix: one unit per district and per street of a district, "
            "each row with its district and unit."
        )
        raise InputError(msg)
    return GovernmentTable(by_district, by_street)


class GovernmentAreas:
    """The governments table of a data directory, re-read when the file changes.

    Parameters
    ----------
    path
        ``DATA_DIR/governments.csv`` (absent: each district is its own government).

    Raises
    ------
    gis.InputError
        The file is there and wrong (at start).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._table = self._read()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read(self) -> GovernmentTable:
        if self._stamp is None:
            return GovernmentTable({}, {}, identity=True)
        return read_governments(self.path)

    def table(self) -> GovernmentTable:
        """The current table (re-read if the file changed since)."""
        stamp = self._stat()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._table = self._read()
                    except InputError as exc:
                        log.error("governments table not reloaded, the last good one is kept: %s", exc)
        return self._table
