"""The response-by-hour chart: residents' median and 90th-percentile response and covered share, hour by hour.

Drawn from a :func:`planning.response_by_hour` table on a :class:`matplotlib.figure.Figure`
(no pyplot, Agg), in English or Chinese (:func:`maps.fonts.figure_font`; English when no CJK font
is installed), the words from the glossary (:mod:`gis.i18n`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from gis.errors import InputError
from gis.i18n import Lang, load_glossary

from .fonts import figure_font

__all__ = ["response_by_hour_figure"]

_NEEDED = ("median_response_s", "p90_response_s", "share_covered")


def response_by_hour_figure(
    table: pd.DataFrame,
    *,
    response_s: float | None = None,
    worst: int | None = None,
    lang: Lang = "en",
) -> Figure:
    """Median and P90 response (minutes) by hour, the standard's line, and the covered share.

    Parameters
    ----------
    table
        A :func:`planning.response_by_hour` table (indexed by hour).
    response_s
        The standard's response time, drawn as a line (default: ``table.attrs["response_s"]``).
    worst
        The hour to mark as the worst (default: none marked).
    lang
        ``"en"`` or ``"zh"`` (Chinese needs a CJK font, else English with a warning).

    Raises
    ------
    InputError
        When the table lacks a column.

    Examples
    --------
    >>> t = pd.DataFrame({"median_response_s": [200.0, 320.0], "p90_response_s": [300.0, 480.0],
    ...                   "share_covered": [0.9, 0.6]}, index=pd.Index([3, 18], name="hour"))
    >>> fig = response_by_hour_figure(t, response_s=300.0, worst=18)
    >>> len(fig.axes), fig.axes[0].get_xlabel()
    (2, 'Hour of day')
    """
    missing = [c for c in _NEEDED if c not in table.columns]
    if missing:
        msg = f"The response-by-hour table lacks {missing}. Fix: give a `planning.response_by_hour` table."
        raise InputError(msg)
    drawn, rc = figure_font(lang)
    g = load_glossary()
    hours = np.asarray(table.index, dtype=np.int64)
    minutes = {c: table[c].to_numpy(np.float64) / 60.0 for c in ("median_response_s", "p90_response_s")}
    line = response_s if response_s is not None else table.attrs.get("response_s")
    fig = Figure(figsize=(7.0, 3.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(
        hours,
        100 * table["share_covered"].to_numpy(np.float64),
        color="#d9ead3",
        width=0.8,
        label=g.text("hours_covered_share", drawn),
    )
    ax.set_ylim(0, 105)
    ax.set_ylabel(g.text("hours_covered_axis", drawn))
    ax.set_xlabel(g.text("hours_axis", drawn))
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(-0.6, 23.6)
    ax2 = ax.twinx()
    for col, style, colour in (("median_response_s", "-", "#3182bd"), ("p90_response_s", "-", "#de2d26")):
        shown = np.where(np.isfinite(minutes[col]), minutes[col], np.nan)
        key = "hours_median" if col.startswith("median") else "hours_p90"
        ax2.plot(hours, shown, style, marker="o", ms=3, color=colour, label=g.text(key, drawn))
    if line is not None and np.isfinite(line):
        ax2.axhline(float(line) / 60.0, color="#636363", ls="--", lw=1, label=g.text("hours_standard", drawn))
    if worst is not None:
        ax2.axvline(worst, color="#de2d26", ls=":", lw=1)
        ax2.annotate(
            g.text("hours_worst", drawn, hour=f"{worst:02d}:00"),
            (worst, 0.98),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="top",
            fontsize=8,
            color="#de2d26",
            backgroundcolor="white",
        )
    ax2.set_ylabel(g.text("hours_response_axis", drawn))
    finite = [v[np.isfinite(v)] for v in minutes.values()]
    top = max([float(v.max()) for v in finite if len(v)] + [float(line or 0) / 60.0, 1.0])
    ax2.set_ylim(0, 1.15 * top)
    (h1, l1), (h2, l2) = ax.get_legend_handles_labels(), ax2.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
    ax.set_title(g.text("hours_title", drawn), fontsize=10)
    if rc:  # the CJK font on every text (an rc context would be gone by the time the figure is drawn)
        for text in fig.findobj(Text):
            text.set_fontfamily(rc["font.sans-serif"])
    return fig
