"""One self-contained HTML report per scenario: key figures, tables, figures and the map.

Figures are inlined as base64 PNG and the interactive map as an ``<iframe srcdoc>``, so the
report is one file that opens offline. Every text from the data is HTML-escaped. A province's
map page (tens of MB) is linked instead (``map_src``: the ``map.html`` beside the report) when it
is over :data:`MAP_INLINE_MAX_BYTES`, and the long tables (violations, depots, the depot plan)
show their first :data:`TABLE_ROWS` rows and how many more there are: the full tables are in the
run's GeoPackages.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from gis.atomic import atomic_path
from gis.i18n import Lang
from gis.validate import index_by_id

from . import figures
from ._closure_report import closure_section
from ._communities import CommunitySafetyLike
from ._community_report import community_section
from ._flood_report import flood_section
from ._html import REPORT_CSS, figure_img, html_table
from ._plans import DepotPlanLike, StationPlanLike
from ._register_report import register_section
from ._standard_of_cover import standard_of_cover_section
from ._uncertainty_report import uncertainty_section
from .interactive import risk_map
from .words import community_names, level_label, output_lang, speaking, stock_label, term_label, tr

if TYPE_CHECKING:
    from gis.scenario import Scenario
    from planning.coverage import CoverageResult
    from risk_models.model import RiskResult
    from risk_models.register import RegisterMonth

__all__ = ["MAP_INLINE_MAX_BYTES", "TABLE_ROWS", "report_html", "write_report"]

log = logging.getLogger(__name__)

#: A map page larger than this is linked by ``map_src`` (when given), not inlined in the report.
MAP_INLINE_MAX_BYTES = 5_000_000
#: Rows shown of the report's long tables (violations, depots, the depot plan); the rest counted.
TABLE_ROWS = 50


def _communities_by_id(layers: Mapping[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame | None:
    if "communities" not in layers:
        return None
    return index_by_id(layers["communities"])


def _kpis(risk: RiskResult, coverage: CoverageResult) -> str:
    items = []
    s = coverage.summary
    if "communities" in s.index:
        r = s.loc["communities"]
        items.append((f"{r['share_weight']:.0%}", tr("report_kpi_residents_reached")))
        items.append((f"{int(r['covered'])}/{int(r['features'])}", tr("report_kpi_communities_covered")))
        items.append((tr("minutes", minutes=f"{r['p90_response_s'] / 60:.1f}"), tr("report_kpi_p90")))
    if "hazards" in s.index:
        r = s.loc["hazards"]
        items.append((f"{int(r['covered'])}/{int(r['features'])}", tr("report_kpi_hazards_covered")))
    levels = risk.units["level"].astype(str).value_counts()
    items.append((str(int(levels.get("red", 0))), tr("report_kpi_red")))
    items.append((str(int(levels.get("orange", 0))), tr("report_kpi_orange")))
    items.append((str(len(coverage.violations)), tr("report_kpi_violations")))
    return (
        '<div class="kpis">'
        + "".join(f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for v, k in items)
        + "</div>"
    )


def report_html(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    *,
    risk: RiskResult,
    coverage: CoverageResult,
    station_plan: StationPlanLike | None = None,
    depot_plan: DepotPlanLike | None = None,
    register: RegisterMonth | None = None,
    community_safety: CommunitySafetyLike | None = None,
    top_n: int = 15,
    map_options: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    map_page: str | None = None,
    map_src: str | None = None,
    uncertainty: Any = None,
    lang: str | None = None,
) -> str:
    """The report as one HTML string (see :func:`write_report`)."""
    with speaking(output_lang(lang, scenario), map_style=(map_options or {}).get("map_style")) as spoken:
        return _report(
            scenario,
            risk=risk,
            coverage=coverage,
            station_plan=station_plan,
            depot_plan=depot_plan,
            register=register,
            community_safety=community_safety,
            top_n=top_n,
            map_options=map_options,
            notes=notes,
            map_page=map_page,
            map_src=map_src,
            uncertainty=uncertainty,
            lang=spoken,
        )


def _report(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    *,
    risk: RiskResult,
    coverage: CoverageResult,
    station_plan: StationPlanLike | None,
    depot_plan: DepotPlanLike | None,
    register: RegisterMonth | None,
    community_safety: CommunitySafetyLike | None,
    top_n: int,
    map_options: Mapping[str, Any] | None,
    notes: Sequence[str],
    map_page: str | None,
    map_src: str | None,
    uncertainty: Any,
    lang: Lang,
) -> str:
    label = getattr(scenario, "label", None) or risk.label or tr("map_scenario")
    layers: Mapping[str, gpd.GeoDataFrame] = scenario.layers if hasattr(scenario, "layers") else scenario
    std = coverage.standard
    proposed = station_plan.proposed if station_plan is not None else None
    tradeoff = station_plan.tradeoff if station_plan is not None else None
    depot_table = depot_plan.table() if depot_plan is not None else None
    parts = [
        f'<!DOCTYPE html><html lang="{tr("report_html_lang")}"><head><meta charset="utf-8">',
        f"<title>{html.escape(tr('report_title', label=label))}</title>",
        f"<style>{REPORT_CSS}</style></head><body>",
        f"<h1>{html.escape(tr('report_heading', label=label))}</h1>",
        '<p class="sub">'
        + html.escape(
            tr(
                "report_standard",
                name=std.name,
                turnout=f"{std.turnout_s:.0f}",
                travel=f"{std.travel_s:.0f}",
                minutes=f"{std.response_s / 60:g}",
                units=risk.units_spec,
            )
        )
        + "</p>",
    ]
    if getattr(scenario, "synthetic", False) or "synthetic" in label.lower():
        parts.append(f'<p class="synthetic">{html.escape(tr("report_synthetic"))}</p>')
    parts.append(f"<h2>{html.escape(tr('report_h_key_figures'))}</h2>" + _kpis(risk, coverage))

    figs = [
        (figures.risk_figure(risk, coverage=coverage, lang=lang), tr("report_fig_risk_map")),
        (figures.response_time_figure(coverage, lang=lang), tr("report_fig_response")),
        (
            figures.district_levels_figure(
                risk, communities=layers.get("communities"), coverage=coverage, lang=lang
            ),
            tr("report_fig_district_levels"),
        ),
    ]
    if tradeoff is not None and len(tradeoff):
        figs.append(
            (
                figures.tradeoff_figure(tradeoff, required_share=std.required_share, lang=lang),
                tr("report_fig_tradeoff"),
            )
        )
    parts.append(
        f'<h2>{html.escape(tr("report_h_figures"))}</h2><div class="figs">'
        + "".join(figure_img(f, a) for f, a in figs)
        + "</div>"
    )

    page = map_page
    if page is None:
        page = (
            risk_map(
                scenario,
                risk=risk,
                coverage=coverage,
                station_plan=station_plan,
                depot_plan=depot_plan,
                register=register,
                community_safety=community_safety,
                uncertainty=uncertainty.units if uncertainty is not None else None,
                **{"lang": lang, **dict(map_options or {})},
            )
            .get_root()
            .render()
        )
    # a province's map page (tens of MB) is linked beside the report, not inlined a second time
    linked = map_src is not None and len(page) > MAP_INLINE_MAX_BYTES
    shown_map = (
        f'src="{html.escape(map_src or "", quote=True)}"'
        if linked
        else (f'srcdoc="{html.escape(page, quote=True)}"')
    )
    parts.append(
        f'<h2>{html.escape(tr("report_h_map"))}</h2><iframe class="map" id="rp-map" '
        f'title="{html.escape(tr("report_h_map"))}" {shown_map}></iframe>'
    )

    source = getattr(scenario, "source", None)
    named = community_names(risk.top(top_n), _communities_by_id(layers), source=source)
    top = named.reset_index()
    top = top.rename(columns={top.columns[0]: "unit"})
    if "level" in top:
        top["level"] = top["level"].astype(str).map(level_label)
    parts.append(f"<h2>{html.escape(tr('report_h_top', count=top_n))}</h2>")
    parts.append(
        html_table(
            top,
            [
                ("rank", tr("map_f_rank"), "int"),
                ("unit", tr("map_f_unit"), ""),
                ("name", tr("report_col_name"), ""),
                ("district", term_label("district"), ""),
                ("street", term_label("street"), ""),
                ("division_code", term_label("division_code"), ""),
                ("level", tr("map_f_risk_level"), ""),
                ("score", tr("map_f_score"), ".1"),
                ("percentile", tr("map_f_percentile"), ".0"),
                ("reasons", tr("report_col_why"), ""),
            ],
            css_id="top-risk",
        )
    )

    com = community_names(coverage.communities, _communities_by_id(layers), source=source)
    gaps = com.loc[~com["covered"].astype(bool)].copy()
    gaps = gaps.sort_values("population", ascending=False) if "population" in gaps else gaps
    gaps = gaps.drop(columns="id", errors="ignore").rename_axis("id").reset_index()  # the index is the id
    heading = tr("report_h_uncovered", minutes=f"{std.response_s / 60:g}", count=len(gaps))
    parts.append(f"<h2>{html.escape(heading)}</h2>")
    parts.append(
        html_table(
            gaps,
            [
                ("id", tr("map_f_id"), ""),
                ("name", tr("report_col_name"), ""),
                ("district", term_label("district"), ""),
                ("street", term_label("street"), ""),
                ("division_code", term_label("division_code"), ""),
                ("population", tr("map_f_residents"), "int"),
                ("response_time_s", tr("map_f_first_engine"), "s"),
                ("nearest_station", tr("map_f_nearest_station"), ""),
            ],
            css_id="uncovered",
            limit=50,
        )
    )

    parts.append(f"<h2>{html.escape(tr('report_h_violations', count=len(coverage.violations)))}</h2>")
    parts.append(
        html_table(
            coverage.violations,
            [
                ("station", term_label("fire_station"), ""),
                ("kind", tr("report_col_kind"), ""),
                ("message", tr("map_f_problems"), ""),
            ],
            css_id="violations",
            limit=TABLE_ROWS,
        )
    )

    if proposed is not None and len(proposed):
        p = pd.DataFrame(proposed.drop(columns=proposed.geometry.name)).reset_index()
        p = p.rename(columns={p.columns[0]: "id"}) if "id" not in p else p
        parts.append(f"<h2>{html.escape(tr('report_h_proposed', count=len(p)))}</h2>")
        parts.append(
            html_table(
                p,
                [
                    ("id", tr("map_f_id"), ""),
                    ("name", tr("report_col_name"), ""),
                    ("reason", tr("map_f_why_here"), ""),
                    ("added_demand", tr("map_f_demand_added"), "int"),
                ],
                css_id="proposed",
            )
        )

    if "depots" in layers and len(layers["depots"]):
        d = pd.DataFrame(layers["depots"].drop(columns=layers["depots"].geometry.name)).reset_index()
        d = d.rename(columns={d.columns[0]: "id"}) if "id" not in d else d
        cols = [
            ("id", tr("map_f_id"), ""),
            ("name", tr("report_col_name"), ""),
            ("tier", tr("map_f_tier"), ""),
            ("capacity_people", tr("map_f_capacity_people"), "int"),
        ]
        cols += [
            (c, stock_label(c.removeprefix("stock_")), "int") for c in d.columns if c.startswith("stock_")
        ]
        parts.append(
            f"<h2>{html.escape(tr('report_h_depots'))}</h2>"
            + html_table(d, cols, css_id="depots", limit=TABLE_ROWS)
        )
    if depot_table is not None and len(depot_table):
        plan = depot_table.reset_index() if depot_table.index.name else depot_table
        cols = [(str(c), str(c).replace("_", " "), "") for c in plan.columns if c != "geometry"]
        parts.append(
            f"<h2>{html.escape(tr('report_h_depot_plan'))}</h2>"
            + html_table(plan, cols, css_id="depot-plan", limit=TABLE_ROWS)
        )

    # "" without a flood's figures
    parts.append(flood_section(coverage, depot_plan, communities=_communities_by_id(layers)))
    if getattr(coverage, "extra_tables", {}).get("p90_by_hour") is not None:
        parts.append(standard_of_cover_section(coverage))
    if getattr(coverage, "extra_tables", {}).get("what_if_summary") is not None:
        parts.append(closure_section(coverage, communities=layers.get("communities")))
    if community_safety is not None:
        parts.append(community_section(community_safety, communities=layers.get("communities")))
    if register is not None:
        parts.append(register_section(register, communities=layers.get("communities")))
    if uncertainty is not None:
        parts.append(uncertainty_section(uncertainty.units, uncertainty.parameters, uncertainty.notes))

    notes = list(dict.fromkeys([*risk.notes, *getattr(coverage, "notes", ()), *notes]))
    if notes:
        parts.append(
            f"<h2>{html.escape(tr('report_h_notes'))}</h2><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
            + "</ul>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    scenario: Scenario | Mapping[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    risk: RiskResult,
    coverage: CoverageResult,
    station_plan: StationPlanLike | None = None,
    depot_plan: DepotPlanLike | None = None,
    register: RegisterMonth | None = None,
    community_safety: CommunitySafetyLike | None = None,
    top_n: int = 15,
    map_options: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    map_page: str | None = None,
    map_src: str | None = None,
    uncertainty: Any = None,
    lang: str | None = None,
) -> Path:
    """Write one self-contained HTML report (figures, tables, interactive map), atomically.

    Parameters
    ----------
    scenario
        The :class:`gis.Scenario` (or mapping of layers) scored and analysed.
    path
        Output ``.html``.
    risk, coverage
        :class:`risk_models.RiskResult` and :class:`planning.CoverageResult` of the scenario.
    station_plan
        A :class:`planning.StationPlan` (:class:`~maps.StationPlanLike`): its
        proposed stations in a table and on the map, its trade-off curve as a figure.
    depot_plan
        A :class:`planning.DepotPlan` (:class:`~maps.DepotPlanLike`): its
        ``table()`` in the report, the communities each depot serves on the map.
    register
        A month of the hidden-danger register (:func:`risk_models.register.register_month`):
        a section with the month's figures, the disclosure by grade, the assessments' rankings
        by district, department and enterprise with their charts, the four-colour risk map
        and the traceability findings; its items and risk points on the map.
    community_safety
        A scored community safety survey and its plan (:class:`~maps.CommunitySafetyLike`, such as
        :class:`service.communities.CommunityAssessment`): a section with the survey by district,
        the failed items, the budget use with its proven gap, the priority list of upgrades, the
        demonstration communities with their reasons and what each still needs, and the change
        over re-surveys (labelled synthetic when the survey is); its layers on the map.
    top_n
        Rows of the top-risk table.
    map_options
        Extra keyword arguments of :func:`maps.risk_map` (``tiles``, ``gcj02``, ``map_style``).
    notes
        More notes for the "Notes and assumptions" section, after those of ``risk`` and
        ``coverage`` (which repeat the scenario's own: estimated populations, defaults).
    map_page
        The interactive map's page already drawn from the same inputs (the ``map.html`` of
        :func:`maps.write_map`), embedded as is instead of drawing it again (a province's map
        takes tens of seconds to draw); ``map_options`` is then unused.
    map_src
        The address of that map's file relative to the report (``"map.html"`` beside it): a map
        page larger than :data:`MAP_INLINE_MAX_BYTES` is linked there instead of inlined, so a
        province's report stays small (it then opens with the map file beside it). None: always
        inlined.
    uncertainty
        A :class:`risk_models.sensitivity.SensitivityResult` of ``risk``: the section "How sure
        is this map" (the Sobol bar chart, the figures' ranges and indices, the uncertain units)
        and the uncertain units hatched on the map.
    lang
        ``"zh"`` or ``"en"``: the language of every heading, paragraph, table header, caption,
        figure and of the embedded map; None: by the scenario's place (Chinese in China).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> import tempfile, pathlib
    >>> from gis import graph_from_lines, Scenario, RoadsSource
    >>> from planning.coverage import analyse_coverage
    >>> from risk_models import score_scenario
    >>> sc = Scenario("Demo City", city, city["roads"].crs, RoadsSource("layer"), synthetic=True)
    >>> cov = analyse_coverage(sc, graph_from_lines(city["roads"]), breaks_s=[300])
    >>> risk = score_scenario(sc, learn=False, response_time_s=cov.communities["response_time_s"])
    >>> out = write_report(sc, pathlib.Path(tempfile.mkdtemp()) / "r.html", risk=risk, coverage=cov)
    >>> text = out.read_text(encoding="utf-8")
    >>> 'id="top-risk"' in text and "<iframe" in text
    True
    """
    path = Path(path)
    page = report_html(
        scenario,
        risk=risk,
        coverage=coverage,
        station_plan=station_plan,
        depot_plan=depot_plan,
        register=register,
        community_safety=community_safety,
        top_n=top_n,
        map_options=map_options,
        notes=notes,
        map_page=map_page,
        map_src=map_src,
        uncertainty=uncertainty,
        lang=lang,
    )
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    log.info("report written to %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path
