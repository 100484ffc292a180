# ruff: noqa: RUF002 - the Chinese example uses Chinese (full-width) punctuation
"""The words of a what-if change, in Chinese or English, from the change's structured fields.

:meth:`planning.change.ScenarioChange.describe` writes one English line for logs; what a person
reads (the API's what-if answer, the web page's what-if tool) is rendered here from the same
fields with the glossary's words (``change_*`` in ``gis/data/glossary.toml``). The English is
the line ``describe`` writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from gis.i18n import Lang, load_glossary

if TYPE_CHECKING:
    from planning.change import ScenarioChange

__all__ = ["describe_change"]

#: How many ids a description lists before it says how many there are in all.
SHOWN = 8


def _short(values: Iterable[object], lang: Lang) -> str:
    items = [str(v) for v in values]
    glossary = load_glossary()
    shown = glossary.text("change_list_sep", lang).join(items[:SHOWN])
    if len(items) <= SHOWN:
        return shown
    return shown + glossary.text("change_list_more", lang, count=len(items))


def describe_change(change: ScenarioChange, lang: Lang) -> str:
    """One line saying what ``change`` changes, in ``lang``.

    Examples
    --------
    >>> from planning.change import ScenarioChange
    >>> c = ScenarioChange(closed_names=("Jianshe Bridge",), stations_out=("FS3",))
    >>> describe_change(c, "en") == c.describe()
    True
    >>> describe_change(c, "zh").split("；")
    ['封闭道路名称 Jianshe Bridge', '停用消防站 FS3']
    >>> describe_change(ScenarioChange(), "zh")
    '无变化'
    """
    g = load_glossary()
    parts = []
    if change.closed_edges:
        parts.append(g.text("change_close_edges", lang, edges=_short(change.closed_edges, lang)))
    if change.closed_ways:
        parts.append(g.text("change_close_ways", lang, ways=_short(change.closed_ways, lang)))
    if change.closed_names:
        parts.append(g.text("change_close_names", lang, names=_short(change.closed_names, lang)))
    if change.closed_areas is not None and len(change.closed_areas):
        parts.append(g.text("change_close_areas", lang, count=len(change.closed_areas)))
    if change.closed_at is not None and len(change.closed_at):
        parts.append(g.text("change_close_at", lang, count=len(change.closed_at)))
    if change.stations_out:
        parts.append(g.text("change_stations_out", lang, stations=_short(change.stations_out, lang)))
    if change.temporary_stations is not None and len(change.temporary_stations):
        ids = _short(change.temporary_station_ids(), lang)
        parts.append(g.text("change_temporary_stations", lang, stations=ids))
    return g.text("change_join", lang).join(parts) or g.text("change_none", lang)
