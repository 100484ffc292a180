"""Chinese text in figures: pick an installed CJK font through matplotlib's font manager.

Matplotlib's default font (DejaVu Sans) has no Chinese glyphs, so a Chinese label draws as boxes
with a "Glyph ... missing from font(s)" warning. :func:`cjk_font` finds an installed font that has
them (Noto Sans CJK from Debian's ``fonts-noto-cjk``, Source Han Sans, WenQuanYi, the Windows and
macOS system fonts), registering system fonts matplotlib's cached list does not know yet.
:func:`figure_font` gives the rc settings for a figure in a language and the language the figure
can actually be drawn in: Chinese with a CJK font, else English with one clear warning naming the
fix.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from gis.i18n import Lang, load_glossary

__all__ = ["CJK_FAMILIES", "cjk_font", "figure_font"]

log = logging.getLogger(__name__)

#: Fonts with Chinese glyphs, in order of preference (Simplified Chinese faces first).
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
)
_FILE_HINTS = ("cjk", "sourcehan", "wqy", "wenquanyi", "simhei", "msyh", "pingfang", "hiragino")


def _known() -> set[str]:
    from matplotlib import font_manager

    return {f.name for f in font_manager.fontManager.ttflist}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first of :data:`CJK_FAMILIES` installed, or None.

    Fonts installed after matplotlib built its font cache are found on the system font paths and
    registered (``fontManager.addfont``), so a fresh ``apt-get install fonts-noto-cjk`` counts.
    """
    from matplotlib import font_manager

    names = _known()
    found = next((f for f in CJK_FAMILIES if f in names), None)
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        if any(h in Path(path).name.lower() for h in _FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # an unreadable font file: skip it
                log.debug("cannot read font %s", path)
    names = _known()
    return next((f for f in CJK_FAMILIES if f in names), None)


def figure_font(lang: Lang) -> tuple[Lang, dict[str, Any]]:
    """The language a figure is drawn in and the matplotlib rc settings for it.

    Chinese needs a CJK font: without one the figure falls back to English, with a warning that
    says so and how to fix it (install ``fonts-noto-cjk``).

    Examples
    --------
    >>> figure_font("en")
    ('en', {})
    """
    if lang != "zh":
        return lang, {}
    font = cjk_font()
    if font is None:
        log.warning(load_glossary().text("font_missing", "en"))
        return "en", {}
    # DejaVu Sans after the CJK font for the glyphs some CJK fonts lack (the minus sign, for one)
    rc = {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"], "axes.unicode_minus": False}
    return "zh", rc
