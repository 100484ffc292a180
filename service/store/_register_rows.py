"""Rows of an import for ``executemany`` (private): the columns :mod:`._register_sql` makes, faster.

:func:`~._register_sql.item_values` goes through ``Item.to_record`` (``dataclasses.asdict``),
about 90 µs an item: 9 s for a 100,000-row import. :func:`item_rows` and :func:`event_rows`
write the same values (tested against ``item_values`` / ``event_values``) from the fields
directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from risk_models.register import Event, Item, RegisterError
from risk_models.register.items import DATETIME_FIELDS

from ._register_sql import ITEM_FIELDS, LIST_FIELDS, clean_text, event_values
from .register import AREA_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["IMPORT_ITEM_COLUMNS", "event_rows", "import_seqs", "item_rows", "last_counters"]

#: The columns an import writes in ``register_items`` (imports have no account or follow key).
IMPORT_ITEM_COLUMNS: tuple[str, ...] = (*ITEM_FIELDS, *AREA_COLUMNS)
_FIELDS = attrgetter(*ITEM_FIELDS)
_LISTS = tuple(ITEM_FIELDS.index(f) for f in LIST_FIELDS)
_TIMES = tuple(ITEM_FIELDS.index(f) for f in (*DATETIME_FIELDS, "deadline"))


def item_rows(items: Iterable[Item], areas: pd.DataFrame | None) -> list[tuple[Any, ...]]:
    """``register_items`` rows of new items (:data:`IMPORT_ITEM_COLUMNS`), areas by number."""
    area_of: dict[str, list[Any]] = {}
    if areas is not None and len(areas):
        cols = [
            [clean_text(v) for v in areas[c].to_numpy(dtype=object)] if c in areas.columns else None
            for c in AREA_COLUMNS
        ]
        for k, number in enumerate(areas.index.astype(str)):
            area_of[number] = [None if col is None else col[k] for col in cols]
    none = [None] * len(AREA_COLUMNS)
    out = []
    dumps = json.dumps
    for item in items:
        values = list(_FIELDS(item))
        for k in _TIMES:
            if values[k] is not None:
                values[k] = values[k].isoformat()
        for k in _LISTS:
            values[k] = dumps(list(values[k]), ensure_ascii=False) if values[k] else "[]"
        values.extend(area_of.get(item.number, none))
        out.append(tuple(values))
    return out


def _plain_data(data: Mapping[str, Any]) -> dict[str, Any] | None:
    """``data`` as JSON-ready values when it is flat (texts, numbers, dates, lists of texts)."""
    out: dict[str, Any] = {}
    for key, v in data.items():
        if v is None or isinstance(v, str | int | float):
            out[key] = v
        elif isinstance(v, date):
            out[key] = v.isoformat()
        elif isinstance(v, tuple) and all(isinstance(x, str) for x in v):
            out[key] = list(v)
        else:
            return None
    return out


def event_rows(events: Sequence[Event], seqs: Sequence[int]) -> list[tuple[Any, ...]]:
    """``register_events`` rows (``EVENT_COLUMNS``), as :func:`event_values` makes them."""
    out = []
    for event, seq in zip(events, seqs, strict=True):
        d = event.data
        plain = _plain_data(d) if not event.attachments else None
        if plain is None:  # nested data, attachments: the general path
            out.append(event_values(event, seq))
            continue
        at: datetime = event.at
        out.append(
            (
                event.number, seq, event.action, at.isoformat(), event.actor, event.role, event.unit,
                event.from_status, event.to_status, event.note, "[]", d.get("grade"), plain.get("deadline"),
                d.get("authority"), d.get("territorial_unit"), d.get("department_unit"),
                json.dumps(plain, sort_keys=True, ensure_ascii=False),
            )
        )  # fmt: skip
    return out


def import_seqs(items: Mapping[str, Item], events: Sequence[Event]) -> list[int]:
    """Each event's place in its item's log; checks that the events make exactly ``items``.

    Raises
    ------
    RegisterError
        An event of an item not in ``items``, an item whose first event is not its report, or
        whose version is not its count of events.
    """
    count: dict[str, int] = {}
    seqs = []
    for event in events:
        seq = count.get(event.number, 0) + 1
        if event.number not in items or (seq == 1) != (event.action == "report"):
            msg = (
                f"Event `{event.action}` of `{event.number}` is not part of the import's items. Fix: store "
                "the ImportResult of `import_rows` as it is."
            )
            raise RegisterError(msg)
        count[event.number] = seq
        seqs.append(seq)
    wrong = [n for n, item in items.items() if count.get(n, 0) != item.version]
    if wrong:
        msg = (
            f"Items {wrong[:10]} do not have one event per version. Fix: store the ImportResult of "
            "`import_rows` as it is."
        )
        raise RegisterError(msg)
    return seqs


def last_counters(numbers: Iterable[str]) -> dict[int, int]:
    """``{year: the highest counter}`` of register numbers."""
    used: dict[int, int] = {}
    for number in numbers:
        _, year, counter = number.rsplit("-", 2)
        used[int(year)] = max(used.get(int(year), 0), int(counter))
    return used
