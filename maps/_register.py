"""Map layers of the hazard register: the four-colour risk points and the items by state.

- ``risk_points`` (and ``risk_areas`` where sources are mapped as areas): the four-colour
  safety risk distribution map (安全风险四色分布图), each graded hazard source in the colour of
  its worst assessed part (:func:`risk_models.register.hazard_risk_grades`), with its parts.
- ``register``: the hidden dangers (隐患台账) by their state at the month's end, shape by
  grade (major, supervised major), a ring when overdue, and a popup of public fields only.

The map is a published artefact: items reach it only through
:func:`risk_models.register.public_view` and then a fixed list of properties, so a reporter,
description, plan or note can never be drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._layers import Display, feature_collection
from ._legend_rows import legend_row as _row
from ._style import symbol_svg
from .words import current_lang, register_state, risk_grade_label, term_label, tr

if TYPE_CHECKING:
    from risk_models.register import RegisterMonth

__all__ = ["REGISTER_PROPERTIES", "legend_parts", "register_spec", "register_specs", "risk_point_specs"]

Spec = dict[str, Any]
#: Every property a register item may carry on the map (all public).
REGISTER_PROPERTIES: tuple[str, ...] = (
    "id", "ic", "cat", "gr", "st", "dl", "od", "sup", "hz", "ent", "d", "rep", "what", "closed",
)  # fmt: skip
_SHAPES = {"g": "circle", "m": "square", "s": "star"}
_ORDER = ("major", "high", "moderate", "low")


def _hex(style: Mapping[str, Any], colour: str) -> str:
    """The hex colour of a grade's colour name (``red`` ...) in the map's risk levels."""
    return str(style["risk_levels"][colour]["colour"])


def _parts(graded: pd.DataFrame | None, limit: int = 4) -> pd.Series:
    """Each source's assessed parts, worst first: ``part: grade (basis)``."""
    if graded is None or not len(graded):
        return pd.Series(dtype=object)
    g = graded.assign(_r=graded["grade"].map({k: i for i, k in enumerate(_ORDER)}))
    g = g.sort_values(["hazard_id", "_r", "score"], ascending=[True, True, False], kind="stable")
    text = (
        g["part"].where(g["part"].astype(str) != "", tr("reg_site"))
        + ": "
        + (g["grade_zh"] if current_lang() == "zh" else g["grade"].astype(str))
        + " ("
        + g["basis"]
        + ")"
    )
    return text.groupby(g["hazard_id"]).agg(
        lambda t: "; ".join(list(t)[:limit]) + (" ..." if len(t) > limit else "")
    )


def risk_point_specs(month: RegisterMonth, style: Mapping[str, Any], display: Display) -> list[Spec]:
    """The four-colour layers: graded sources as points, and their footprints where mapped as areas."""
    grades = month.risk_grades
    if grades is None or not len(grades) or grades["grade"].isna().all():
        return []
    g = grades[grades["grade"].notna()].copy()
    g["gr"] = g["grade"].astype(str)
    g["_r"] = g["gr"].map({k: i for i, k in enumerate(_ORDER)})
    g = g.sort_values(["_r", "score"], ascending=[True, False], kind="stable")
    note = None
    if display.max_points and len(g) > display.max_points:
        note = tr("reg_note_points", limit=f"{display.max_points:,}", total=f"{len(g):,}")
        g = g.iloc[: display.max_points]
    g["hid"] = g.index.astype(str)
    g["grade_label"] = [risk_grade_label(x) for x in g["gr"]]
    g["parts_text"] = _parts(month.graded).reindex(g["hid"]).to_numpy()
    levels = g["control_level"].astype(str)
    g["level_text"] = levels.map({x: tr("reg_control_level", level=x) for x in set(levels)})
    names = g["name"] if "name" in g.columns else g["hid"]
    g["label"] = names.astype(str)
    colours = {grade: _hex(style, str(c)) for grade, c in zip(g["gr"], g["colour"], strict=True)}
    props = {
        "hid": "id", "label": "n", "gr": "gr", "grade_label": "g", "score": "sc", "level_text": "cl",
        "n_parts": "np", "parts_text": "parts",
    }  # fmt: skip
    tooltip = {
        "title": "n",
        "fields": [
            ["id", term_label("hazard_source"), ""],
            ["g", tr("reg_f_risk_grade"), ""],
            ["sc", tr("reg_f_worst_score"), ".0"],
            ["cl", tr("reg_f_control_level"), ""],
            ["np", tr("reg_f_parts_assessed"), "int"],
            ["parts", tr("reg_f_parts"), ""],
        ],
    }
    rs = style["risk_grades"]
    points: Spec = {
        "id": "risk_points",
        "kind": "point",
        "cls": "rp-risk_points",
        "marker": "circle",
        "radius": float(rs["radius_px"]),
        "style": {"color": "#333333", "weight": 1, "fillOpacity": 0.95},
        "styleBy": {"prop": "gr", "values": {k: {"fillColor": v} for k, v in colours.items()}},
        "tooltip": tooltip,
        "data": feature_collection(g, props, display, points=True, digits=1),
    }
    if note:
        points["note"] = note
    specs = [points]
    areas = g[g.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(areas):
        op = float(rs["area_fill_opacity"])
        specs.append(
            {
                "id": "risk_areas",
                "kind": "polygon",
                "cls": "rp-risk_areas",
                "style": {"weight": 1.5, "opacity": 0.9, "fillOpacity": op},
                "styleBy": {
                    "prop": "gr",
                    "values": {k: {"fillColor": v, "color": v} for k, v in colours.items()},
                },
                "tooltip": tooltip,
                "data": feature_collection(areas, props, display, digits=1),
            }
        )
    return specs


def _words(key: object) -> str:
    return str(key).replace("_", " ")


def _thin(items: pd.DataFrame, budget: int) -> pd.Index:
    """The items to draw within ``budget``, the most urgent first.

    Overdue, supervised and major open items first, then the other open ones, the unverified,
    and the closed and rejected last (latest first).
    """
    status = items["status"].astype(str)
    open_ = ~status.isin(["closed", "rejected", "reported"])
    first = [
        items["overdue"].astype(bool),
        open_ & items["supervised_by"].notna(),
        open_ & items["grade"].eq("major"),
        open_,
        status.eq("reported"),
        status.eq("closed"),
    ]
    rank = np.select(first, [0, 1, 2, 3, 4, 5], default=6)
    order = pd.DataFrame({"rank": rank, "t": pd.to_datetime(items["updated_at"])}, index=items.index)
    order = order.sort_values(["rank", "t"], ascending=[True, False], kind="stable")
    return order.index[:budget]


def register_specs(month: RegisterMonth, style: Mapping[str, Any], display: Display) -> list[Spec]:
    """The register's items at the month's end, within the point budget.

    Open and unverified ones form ``register``, the closed and rejected ones
    ``register_closed`` (hidden by default).
    """
    items = month.items
    note = None
    if display.max_points and len(items) > display.max_points:
        keep = _thin(items, display.max_points)
        note = tr(
            "reg_note_items", shown=f"{len(keep):,}", total=f"{len(items):,}", limit=f"{display.max_points:,}"
        )
        items = items.loc[items.index.isin(keep)]
    done = items["status"].isin(["closed", "rejected"])
    specs = [register_spec(items[~done], style, display, layer_id="register")]
    if done.any():
        specs.append(register_spec(items[done], style, display, layer_id="register_closed"))
    if note:
        specs[0]["note"] = note
    return specs


def register_spec(
    items: gpd.GeoDataFrame,
    style: Mapping[str, Any],
    display: Display,
    *,
    layer_id: str = "register",
    cluster: bool | None = None,
) -> Spec:
    """Items (a :attr:`RegisterMonth.items` selection) by state, with a popup of public fields only."""
    from risk_models.register import load_workflow, public_view

    wf = load_workflow()
    rs = style["register"]
    states = rs["states"]
    pub = public_view(items, register_workflow=wf)  # the one road to the public
    status = pub["status"].astype(str)
    major = pub["grade"].eq("major").to_numpy()
    supervised = major & pub["supervised_by"].notna().to_numpy()
    mark = np.where(supervised, "s", np.where(major, "m", "g"))
    late = items["overdue"].astype(bool).to_numpy()
    view = gpd.GeoDataFrame(index=pub.index, geometry=pub.geometry, crs=pub.crs)
    view["id"] = pub["number"].astype(str)
    view["ic"] = status + "|" + mark + np.where(late, "|o", "")
    zh = current_lang() == "zh"
    view["cat"] = [z if zh else _words(c) for c, z in zip(pub["category"], pub["category_zh"], strict=True)]
    view["gr"] = pub["grade"].map(
        {"general": tr("general_hidden_danger"), "major": tr("major_hidden_danger")}
    )
    view["st"] = status.map(lambda s: register_state(s, states.get(s, {}).get("label", s)))
    view["dl"] = pd.to_datetime(pub["deadline"]).dt.strftime("%Y-%m-%d")
    view["od"] = items["days_overdue"].where(late)
    view["sup"] = pub["supervised_by"]
    view["hz"] = pub["hazard_id"]
    view["ent"] = pub["enterprise_id"]
    view["d"] = pub.get("district")
    view["rep"] = pd.to_datetime(pub["reported_at"]).dt.strftime("%Y-%m-%d")
    view["what"] = pub["public_summary"]
    view["closed"] = status.isin(["closed", "rejected"]).map({True: 1, False: None}).astype(object)
    size = int(rs["size_px"])
    icons = {}
    for key in sorted(set(view["ic"])):
        state, m, *o = key.split("|")
        colour = states.get(state, {}).get("colour", "#777777")
        icons[key] = symbol_svg(_SHAPES[m], colour, size=size, ring=rs["overdue_ring"] if o else None)
    many = len(view) >= int(rs["cluster_from"])
    return {
        "id": layer_id,
        "kind": "point",
        "cls": f"rp-{layer_id}",
        "marker": "icon",
        "iconBy": "ic",
        "iconSize": size,
        "icons": icons,
        "cluster": many if cluster is None else cluster,
        "style": {},
        "tooltip": {
            "title": "id",
            "fields": [["st", tr("reg_f_state"), ""], ["od", tr("reg_col_days_overdue"), "int"]],
        },
        "popup": {
            "title": "id",
            "fields": [
                ["cat", tr("map_f_category"), ""],
                ["gr", tr("map_f_grade"), ""],
                ["st", tr("reg_f_state"), ""],
                ["dl", term_label("rectification_deadline"), ""],
                ["od", tr("reg_col_days_overdue"), "int"],
                ["sup", term_label("listed_supervision"), ""],
                ["what", term_label("hidden_danger"), ""],
                ["hz", term_label("hazard_source"), ""],
                ["ent", term_label("reg_enterprise"), ""],
                ["d", term_label("district"), ""],
                ["rep", tr("reg_f_reported"), ""],
            ],
        },
        "data": feature_collection(view, {p: p for p in REGISTER_PROPERTIES}, display, points=True, digits=0),
    }


def legend_parts(style: Mapping[str, Any], present: Iterable[str], specs: list[Spec]) -> list[str]:
    """The legend's sections of the four-colour risk points and the register items."""
    present = set(present)
    parts: list[str] = []
    if "risk_points" in present:
        spec = next(s for s in specs if s["id"] == "risk_points")
        used = {f["properties"].get("gr") for f in spec["data"]["features"]}
        parts.append(f"<h4>{escape(tr('map_layer_risk_points'))}</h4>")
        circle = '<svg width="14" height="14"><circle cx="7" cy="7" r="5.5" fill="{}" stroke="#333"/></svg>'
        for grade in _ORDER:
            if grade in used:
                fill = spec["styleBy"]["values"][grade]["fillColor"]
                parts.append(_row(circle.format(fill), risk_grade_label(grade)))
    if present & {"register", "register_closed"}:
        rs = style["register"]
        used = {
            str(f["properties"].get("ic", "")).split("|")[0]
            for s in specs
            if s["id"] in ("register", "register_closed")
            for f in s["data"]["features"]
        }
        parts.append(f"<h4>{escape(tr('register'))}</h4>")
        for key, state in rs["states"].items():
            if key in used:
                label = register_state(key, state["label"])
                parts.append(_row(symbol_svg("circle", state["colour"], size=14), label))
        grey = "#bbbbbb"
        for m, label in (
            ("g", term_label("general_hidden_danger")),
            ("m", term_label("major_hidden_danger")),
            ("s", tr("reg_mark_supervised")),
        ):
            parts.append(_row(symbol_svg(_SHAPES[m], grey, size=14), label))
        parts.append(
            _row(symbol_svg("circle", grey, size=14, ring=rs["overdue_ring"]), term_label("overdue"))
        )
    return parts
