"""One row of a map legend: a symbol and its label (shared by every layer's legend section)."""

from __future__ import annotations

from html import escape

__all__ = ["legend_row"]


def legend_row(symbol: str, label: str) -> str:
    """A legend row: ``symbol`` (HTML: a swatch, an SVG) then ``label`` (escaped).

    Examples
    --------
    >>> legend_row("<b>x</b>", "a < b")
    '<div class="rp-row"><b>x</b><span>a &lt; b</span></div>'
    """
    return f'<div class="rp-row">{symbol}<span>{escape(label)}</span></div>'
