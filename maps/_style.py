"""Map style: colours and symbols from ``maps/data/map_style.toml``, loaded and validated.

The table is read with the shared loader (:func:`gis.tables.load_table`), so every call gets
its own merged copy and an override for one map (or one web request) never changes another's.

Labels: the shipped labels of risk levels, hazard categories and register states give way to the
glossary's words in the output's language. A user's own label wins over both
(:func:`label_overrides`): ``label = "..."`` (a plain string) in both languages,
``label_zh = "..."`` / ``label_en = "..."`` in that language only (and before ``label`` there).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gis.errors import InputError
from gis.tables import TableOverrides, load_table
from risk_models.composite import LEVELS

__all__ = [
    "LABELLED",
    "LEVELS_HIGH_FIRST",
    "badge_svg",
    "band_colours",
    "label_overrides",
    "load_style",
    "symbol_svg",
]

#: The risk levels of :data:`risk_models.LEVELS`, highest first, as legends list them.
LEVELS_HIGH_FIRST: tuple[str, ...] = tuple(reversed(LEVELS))
SHAPES = (
    "circle",
    "square",
    "triangle",
    "down_triangle",
    "diamond",
    "pentagon",
    "hexagon",
    "star",
    "cross",
)
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
#: The style's sections whose entries' labels a user may override, as dotted paths.
LABELLED = ("risk_levels", "hazard_categories", "register.states")
_LABEL_KEYS = {"label": ("zh", "en"), "label_zh": ("zh",), "label_en": ("en",)}


def _section(style: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    table: Any = style
    for part in path.split("."):
        table = table.get(part, {}) if isinstance(table, Mapping) else {}
    return table if isinstance(table, Mapping) else {}


def _check_labels(style: Mapping[str, Any], where: str) -> None:
    for path in LABELLED:
        for key, entry in _section(style, path).items():
            for name in _LABEL_KEYS:
                value = entry.get(name) if isinstance(entry, Mapping) else None
                if value is not None and not (isinstance(value, str) and value.strip()):
                    msg = (
                        f"{where}: `{path}.{key}.{name}` is {value!r}. Fix: give the label as text "
                        f'(`{name} = "..."`), or leave it out for the glossary\'s words.'
                    )
                    raise InputError(msg)


@functools.cache
def _check_shipped() -> None:
    """Validate the shipped table once, so that a broken file names itself."""
    _validate(load_table("map_style", package="maps"), "maps/data/map_style.toml")


def _validate(style: Mapping[str, Any], where: str) -> None:
    missing = [lv for lv in LEVELS_HIGH_FIRST if lv not in style.get("risk_levels", {})]
    if missing:
        msg = (
            f"{where}: `risk_levels` lacks {missing}. "
            f"Fix: give a colour and label for each of {LEVELS_HIGH_FIRST}."
        )
        raise InputError(msg)
    _check_labels(style, where)
    colours = {f"risk_levels.{k}": v.get("colour") for k, v in style["risk_levels"].items()}
    for name, cat in style.get("hazard_categories", {}).items():
        colours[f"hazard_categories.{name}"] = cat.get("colour")
        if cat.get("shape") not in SHAPES:
            msg = (
                f"{where}: `hazard_categories.{name}.shape` is {cat.get('shape')!r}. "
                f"Fix: use one of {', '.join(SHAPES)}."
            )
            raise InputError(msg)
    register = style.get("register", {})
    for name, state in register.get("states", {}).items():
        colours[f"register.states.{name}"] = state.get("colour")
    if "overdue_ring" in register:
        colours["register.overdue_ring"] = register["overdue_ring"]
    safety = style.get("community_safety", {})
    ramp = safety.get("grade_colours", [])
    if not isinstance(ramp, list) or not ramp:
        msg = (
            f"{where}: `community_safety.grade_colours` is {ramp!r}. Fix: give a list of colours, best first."
        )
        raise InputError(msg)
    colours.update({f"community_safety.grade_colours[{i}]": c for i, c in enumerate(ramp)})
    for key in ("upgrades", "demonstration"):
        colours[f"community_safety.{key}"] = safety.get(key, {}).get("colour")
    bad = {k: v for k, v in colours.items() if not (isinstance(v, str) and _HEX.match(v))}
    if bad:
        msg = f"{where}: colours {bad} are not #rrggbb. Fix: write them as hex colours such as '#e31a1c'."
        raise InputError(msg)
    display = style.get("display", {})
    if float(display.get("simplify_m", 0)) < 0 or not 0 <= int(display.get("decimals", 5)) <= 8:
        msg = f"{where}: `display.simplify_m` must be >= 0 and `display.decimals` within 0..8."
        raise InputError(msg)
    for key in ("max_polygons", "max_points", "max_vertices"):
        value = display.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            msg = (
                f"{where}: `display.{key}` is {value!r}. Fix: give a whole number of features >= 0 "
                "(0 draws every feature)."
            )
            raise InputError(msg)


def load_style(map_style: TableOverrides = None) -> dict[str, Any]:
    """The map style: shipped defaults merged with ``map_style`` (overrides: a mapping or a TOML path).

    Examples
    --------
    >>> load_style()["risk_levels"]["red"]["colour"]
    '#e31a1c'
    >>> load_style({"display": {"decimals": 6}})["display"]["decimals"]
    6
    """
    _check_shipped()
    style = load_table("map_style", map_style, package="maps")
    if map_style is not None:
        _validate(style, f"`{map_style}`" if isinstance(map_style, str | Path) else "`map_style` overrides")
    return style


def label_overrides(map_style: TableOverrides) -> dict[str, dict[str, dict[str, str]]]:
    """The labels a user's ``map_style`` gives of levels, categories and states, by language.

    ``{section: {key: {lang: label}}}`` for the sections of :data:`LABELLED`: a ``label`` that
    differs from the shipped one counts in both languages, ``label_zh`` / ``label_en`` in theirs
    (before ``label``). Entries that keep the shipped label are left out (the glossary's words
    are used for them), and so are the labels of a category or state the shipped style lacks
    (they are shown as written anyway).

    Raises
    ------
    InputError
        A label that is not text, naming the style file and the entry.

    Examples
    --------
    >>> label_overrides({"risk_levels": {"red": {"label": "Red zone"}}})["risk_levels"]
    {'red': {'zh': 'Red zone', 'en': 'Red zone'}}
    >>> label_overrides({"hazard_categories": {"mining": {"label_zh": "矿山企业"}}})["hazard_categories"]
    {'mining': {'zh': '矿山企业'}}
    >>> label_overrides(None)
    {}
    """
    if map_style is None:
        return {}
    style, shipped = load_style(map_style), load_table("map_style", package="maps")
    out: dict[str, dict[str, dict[str, str]]] = {}
    for path in LABELLED:
        defaults = _section(shipped, path)
        for key, entry in _section(style, path).items():
            if key not in defaults or not isinstance(entry, Mapping):
                continue
            by_lang: dict[str, str] = {}
            for name, langs in _LABEL_KEYS.items():
                value = entry.get(name)
                if value is None or (name == "label" and value == defaults[key].get("label")):
                    continue
                by_lang |= dict.fromkeys(langs, str(value))
            if by_lang:
                out.setdefault(path, {})[key] = by_lang
    return out


def band_colours(style: Mapping[str, Any], n: int) -> list[str]:
    """Colours of ``n`` response-time bands, soonest first (``isochrones.colours``; the last repeats).

    The interactive map's isochrones and the QGIS styles of :mod:`maps.qgis_styles` both take
    their band colours here.

    Examples
    --------
    >>> band_colours(load_style(), 5)[0] == load_style()["isochrones"]["colours"][0]
    True
    >>> len(set(band_colours(load_style(), 6)))
    4
    """
    colours = list(style["isochrones"]["colours"])
    return [str(colours[min(i, len(colours) - 1)]) for i in range(n)]


def _polygon(n: int, r: float, c: float, rotate_deg: float = -90.0, inner: float | None = None) -> str:
    pts = []
    steps = 2 * n if inner else n
    for i in range(steps):
        radius = (inner if inner and i % 2 else 1.0) * r
        a = math.radians(rotate_deg + 360.0 * i / steps)
        pts.append(f"{c + radius * math.cos(a):.1f},{c + radius * math.sin(a):.1f}")
    return " ".join(pts)


def symbol_svg(shape: str, colour: str, *, size: int = 16, ring: str | None = None) -> str:
    """An inline SVG symbol (no external file) of ``shape`` filled with ``colour``.

    Examples
    --------
    >>> symbol_svg("triangle", "#6b4226", size=12)[:48]
    '<svg width="12" height="12" viewBox="0 0 12 12">'
    """
    c = size / 2
    r = c - 1.5
    stroke = f'stroke="{ring or "#ffffff"}" stroke-width="{2 if ring else 1.2}"'
    if shape == "circle":
        body = f'<circle cx="{c}" cy="{c}" r="{r}" fill="{colour}" {stroke}/>'
    elif shape == "square":
        s = r * 1.6
        body = f'<rect x="{c - s / 2:.1f}" y="{c - s / 2:.1f}" width="{s:.1f}" height="{s:.1f}" '
        body += f'fill="{colour}" {stroke}/>'
    elif shape == "cross":
        w = r * 0.7
        path = (
            f"M{c - w / 2:.1f},{c - r:.1f}h{w:.1f}v{r - w / 2:.1f}h{r - w / 2:.1f}v{w:.1f}"
            f"h{-(r - w / 2):.1f}v{r - w / 2:.1f}h{-w:.1f}v{-(r - w / 2):.1f}h{-(r - w / 2):.1f}"
            f"v{-w:.1f}h{r - w / 2:.1f}z"
        )
        body = f'<path d="{path}" fill="{colour}" {stroke}/>'
    else:
        n, rot, inner = {
            "triangle": (3, -90.0, None),
            "down_triangle": (3, 90.0, None),
            "diamond": (4, -90.0, None),
            "pentagon": (5, -90.0, None),
            "hexagon": (6, 0.0, None),
            "star": (5, -90.0, 0.45),
        }[shape]
        body = f'<polygon points="{_polygon(n, r, c, rot, inner)}" fill="{colour}" {stroke}/>'
    return f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}">{body}</svg>'


def badge_svg(letter: str, colour: str, *, size: int = 20, shape: str = "square") -> str:
    """A filled ``square``, ``circle`` or ``star`` with a white letter (stations, depots, proposals).

    Examples
    --------
    >>> "<text" in badge_svg("F", "#b30000")
    True
    """
    c = size / 2
    if shape == "star":
        body = f'<polygon points="{_polygon(5, c - 0.5, c, -90.0, 0.5)}" fill="{colour}" '
        body += 'stroke="#ffffff" stroke-width="1.5"/>'
        font = size * 0.36
    elif shape == "circle":
        body = f'<circle cx="{c}" cy="{c}" r="{c - 1}" fill="{colour}" stroke="#ffffff" stroke-width="1.5"/>'
        font = size * 0.6
    else:
        body = f'<rect x="1" y="1" width="{size - 2}" height="{size - 2}" rx="3" fill="{colour}" '
        body += 'stroke="#ffffff" stroke-width="1.5"/>'
        font = size * 0.6
    text = (
        f'<text x="{c}" y="{c}" dy="0.35em" text-anchor="middle" font-family="Arial,sans-serif" '
        f'font-weight="bold" font-size="{font:.0f}" fill="#ffffff">{letter}</text>'
    )
    return f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}">{body}{text}</svg>'
