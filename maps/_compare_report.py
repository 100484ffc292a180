"""The report section "Before and after" of a comparison, and its own report page (issue 19).

:func:`compare_section` gives the section in the output's language (:func:`maps.words.speaking`):
per risk level before, the units moving up and down and the residents newly covered or losing
coverage; the largest changes with their reasons; the diff map (:func:`maps.compare_map`) as a
figure. :func:`write_compare_report` writes it as one self-contained page, which is what
``riskplan compare --report`` and the ``--compare`` options of ``place``, ``register assess``
and ``communities`` write.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gis.atomic import atomic_path

from ._html import REPORT_CSS, html_table
from .words import current_lang, level_label, speaking, tr

if TYPE_CHECKING:
    from gis.i18n import Lang
    from planning.compare import Comparison

__all__ = ["compare_report_html", "compare_section", "level_table", "write_compare_report"]

#: Levels from the highest, as the report lists them.
_LEVELS = ("red", "orange", "yellow", "blue")


def level_table(units: pd.DataFrame) -> pd.DataFrame:
    """The units by their level before: moved up or down, worse or better, residents covered.

    One row per level (red first) and ``all``: ``units``, ``up`` / ``down`` a level, ``worse`` /
    ``better``, and residents ``newly_covered`` / ``losing_coverage`` (0 without coverage).

    Examples
    --------
    >>> u = pd.DataFrame({"level_before": ["red", "red", "blue"], "level_steps": [-1, 0, 1],
    ...                   "change": ["better", "same", "worse"],
    ...                   "covered_residents_change": [0.0, 50.0, -20.0]})
    >>> cols = ["units", "down", "newly_covered", "losing_coverage"]
    >>> level_table(u).loc[["red", "all"], cols].to_numpy().tolist()
    [[2, 1, 50, 0], [3, 1, 50, 20]]
    """
    cover = (
        units["covered_residents_change"].astype(float)
        if "covered_residents_change" in units
        else pd.Series(0.0, index=units.index)
    )
    rows = {}
    for lv in (*_LEVELS, "all"):
        m = np.ones(len(units), bool) if lv == "all" else (units["level_before"] == lv).to_numpy()
        steps = units["level_steps"].to_numpy()[m]
        ch = units["change"].to_numpy()[m]
        c = cover.to_numpy()[m]
        rows[lv] = {
            "units": int(m.sum()),
            "up": int((steps > 0).sum()),
            "down": int((steps < 0).sum()),
            "worse": int((ch == "worse").sum()),
            "better": int((ch == "better").sum()),
            "newly_covered": round(float(c[c > 0].sum())),
            "losing_coverage": round(float(-c[c < 0].sum())),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _top(units: pd.DataFrame, top: int) -> pd.DataFrame:
    changed = units[(units["change"] != "same") | (units["reasons"] != "")].copy()
    key = changed["score_change"].abs().fillna(0.0)
    if "covered_residents_change" in changed:
        key = key + 1e-9 * changed["covered_residents_change"].abs().fillna(0.0)
    changed = changed.loc[key.sort_values(ascending=False, kind="stable").index[:top]]
    changed["unit"] = [
        f"{uid} {name}" if isinstance(name, str) and name and name != uid else str(uid)
        for uid, name in zip(
            changed.index.astype(str),
            changed["name"] if "name" in changed else [None] * len(changed),
            strict=True,
        )
    ]
    words = {
        "better": tr("cmp_change_better"),
        "worse": tr("cmp_change_worse"),
        "same": tr("cmp_change_same"),
    }
    changed["change_word"] = [words.get(str(c), str(c)) for c in changed["change"]]
    changed["levels"] = [
        level_label(a) if a == b else f"{level_label(a)} → {level_label(b)}"
        for a, b in zip(changed["level_before"], changed["level_after"], strict=True)
    ]
    return changed


def compare_section(comparison: Comparison, *, top: int = 15, with_map: bool = True) -> str:
    """HTML of the section "Before and after" in the current output language.

    Parameters
    ----------
    comparison
        A :class:`planning.compare.Comparison` (its reasons are rendered in the output's language).
    top
        Changed units listed, largest score change first.
    with_map
        Embed the diff map (an ``<iframe srcdoc>``, offline).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> from planning.compare import compare_units
    >>> u = gpd.GeoDataFrame({"score": [1.0, 2.0], "level": ["blue", "red"], "hazard_mining": [1.0, 2.0]},
    ...                      index=["a", "b"], geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=32650)
    >>> v = u.copy(); v.loc["b", ["score", "hazard_mining"]] = 1.0; v.loc["b", "level"] = "orange"
    >>> with speaking("zh"):
    ...     text = compare_section(compare_units(u, v), with_map=False)
    >>> "实施前后对比" in text and "矿山危险源 -1.00" in text
    True
    """
    lang = current_lang()
    c = comparison.in_lang(lang)
    u = c.units
    parts = [
        f'<h2 id="compare">{html.escape(tr("cmp_report_title"))}</h2>',
        f"<p>{html.escape(tr('cmp_report_intro', other=c.labels[1], baseline=c.labels[0]))}</p>",
        "".join(f"<p>{html.escape(line)}</p>" for line in c.summary()),
        f"<h3>{html.escape(tr('cmp_report_by_level'))}</h3>",
    ]
    table = level_table(u)
    table.insert(0, "level", [tr("cmp_col_all") if lv == "all" else level_label(lv) for lv in table.index])
    cols = [
        ("level", tr("cmp_col_level"), ""),
        ("units", tr("cmp_col_units"), "int"),
        ("up", tr("cmp_col_up"), "int"),
        ("down", tr("cmp_col_down"), "int"),
        ("worse", tr("cmp_col_worse"), "int"),
        ("better", tr("cmp_col_better"), "int"),
    ]
    if "covered_residents_change" in u:
        cols += [
            ("newly_covered", tr("cmp_col_newly"), "int"),
            ("losing_coverage", tr("cmp_col_losing"), "int"),
        ]
    parts.append(html_table(table, cols, css_id="compare-levels"))
    parts.append(f"<h3>{html.escape(tr('cmp_report_top'))}</h3>")
    changed = _top(u, top)
    if not len(changed):
        parts.append(f'<p id="compare-top" class="more">{html.escape(tr("cmp_report_none"))}</p>')
    else:
        top_cols = [
            ("unit", tr("cmp_col_unit"), ""),
            ("change_word", tr("cmp_col_change"), ""),
            ("score_change", tr("cmp_col_score"), ".2"),
            ("levels", tr("cmp_col_levels"), ""),
            ("response_time_s_change", tr("cmp_col_response"), ".0"),
            ("covered_residents_change", tr("cmp_col_covered"), "int"),
            ("reasons", tr("cmp_col_reasons"), ""),
        ]
        parts.append(html_table(changed, top_cols, css_id="compare-top"))
    if with_map:
        from .compare_map import compare_map  # it re-exports this module's functions

        page = compare_map(u, title=tr("cmp_report_title")).get_root().render()
        parts.append(
            f"<h3>{html.escape(tr('cmp_report_map'))}</h3>"
            f'<iframe class="map" id="compare-map" title="{html.escape(tr("cmp_report_title"))}" '
            f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
        )
    return "\n".join(parts)


def compare_report_html(
    comparison: Comparison, *, lang: Lang = "en", top: int = 15, title: str | None = None
) -> str:
    """One self-contained HTML page holding :func:`compare_section`, in ``lang``."""
    with speaking(lang):
        head = title or tr("cmp_report_title")
        body = compare_section(comparison, top=top)
    return (
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
        f"<title>{html.escape(head)}</title><style>{REPORT_CSS}</style></head><body>"
        f"<h1>{html.escape(head)}</h1>{body}</body></html>"
    )


def write_compare_report(
    comparison: Comparison, path: str | Path, *, lang: Lang = "en", top: int = 15, title: str | None = None
) -> Path:
    """Write :func:`compare_report_html` to ``path``, atomically."""
    path = Path(path)
    page = compare_report_html(comparison, lang=lang, top=top, title=title)
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
