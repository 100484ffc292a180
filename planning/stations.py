"""Where to build new fire stations: siting rules, a location model, a trade-off curve.

:func:`plan_stations` takes the candidate sites of a scenario (or generates them along
arterial roads), drops those that break the GB 51080 siting rules (:mod:`planning.siting`,
each with its reason), builds the response-time matrix from every existing station and
candidate to every community (turnout + road travel, directed station -> community, or a
straight line at a documented speed), and solves one of the models of
:mod:`planning.location` with the existing stations always open. It returns a frozen
:class:`StationPlan`: the proposed stations with the reason and the demand they add, the
trade-off curve for 0..k new stations with the marginal gain of each and a recommended
number, and every community's response time before and after.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.atomic import write_gpkg
from gis.errors import InputError
from gis.network import graph_edges
from gis.scenario import Scenario
from gis.snap import road_distances
from gis.speech import say
from gis.tables import TableOverrides, load_table

from ._curve import drop_idle, extend, metrics, objective, solve
from ._station_costs import StationCosts
from ._stats import quantile
from .demand import demand_weights
from .location import LocationResult
from .names import DEFAULT_STANDARD, MODELS, Distance, Model
from .siting import apply_siting_rules, generate_candidates, load_norms
from .standards import ResponseStandard, response_standard
from .travel import _points, cost_matrix, road_matrix
from .words import distance_word, highway_word, off_road_rule, place_counts

if TYPE_CHECKING:
    from gis.network.graph import GraphLike
    from risk_models import RiskResult

__all__ = ["StationPlan", "demand_weights", "plan_stations"]

log = logging.getLogger(__name__)

#: Models that read the cost matrix only as "within the radius or not" (:mod:`planning._station_costs`).
COVERAGE_MODELS: tuple[Model, ...] = ("mclp", "lscp", "backup", "mexclp")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def _hazard_distance(d: float) -> str:
    if not np.isfinite(d):
        return say("plan_site_no_hazard")
    return say("plan_site_hazard_m", metres=f"{d:,.0f}")


def _seconds(t: float) -> str:
    return say("plan_report_seconds", seconds=f"{t:.0f}") if np.isfinite(t) else say("plan_report_none")


def _uncoverable(
    com: gpd.GeoDataFrame,
    best: FloatArray,
    pop: FloatArray,
    radius: float,
    *,
    off_road: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """Communities no existing station or eligible candidate covers within ``radius`` (``best``: over all)."""
    out = best > radius
    far, cut = say("plan_uncoverable_too_far"), say("plan_uncoverable_unreachable")
    reason = np.where(off_road, say("plan_uncoverable_off_road"), np.where(np.isfinite(best), far, cut))
    table = pd.DataFrame(
        {
            "name": com["name"].to_numpy() if "name" in com else com.index.to_numpy(),
            "population": pop,
            "best_response_s": best,
            "reason": reason,
        },
        index=com.index,
    )
    return table[out].sort_values("population", ascending=False)


def _snap_far(
    graph: GraphLike,
    sites: gpd.GeoDataFrame,
    max_snap_m: float | None = None,
    snaps: pd.DataFrame | None = None,
) -> npt.NDArray[np.bool_]:
    """Sites farther than the snap limit from every road, by the coverage's rule (:data:`OFF_ROAD_RULE`).

    The distance is the feature's own (:func:`gis.snap.road_distances`): a community polygon a
    road runs through is on the network even when its point is not, exactly as
    :func:`planning.analyse_coverage` flags it (before, the plan measured the point and left
    such communities unreached, so a city's share covered before the plan read lower than the
    coverage stage's).
    """
    limit = float(load_table("road_speeds")["defaults"]["max_snap_m"]) if max_snap_m is None else max_snap_m
    m = road_matrix(graph)
    pts = _points(sites)
    snap = (m._snap(pts) if snaps is None else snaps)["snap_distance_m"].to_numpy()
    return np.asarray(road_distances(sites.geometry.to_numpy(), pts, snap, m.edge_tree) > limit)


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class StationPlan:
    """A fire-station plan: proposed sites, trade-off curve, response before and after.

    Attributes
    ----------
    model, distance, standard
        Location model (one of :data:`planning.names.MODELS`), cost kind and response profile
        used.
    candidates
        Every candidate site with the siting checks of :func:`planning.siting.apply_siting_rules`
        (``excluded_by``, ``eligible``) and ``selected``.
    proposed
        New stations (index id; ``name``, ``reason``, ``added_demand``, ``added_population``,
        ``communities_served``), points, drawn by :func:`maps.write_map` (``station_plan=``).
    tradeoff
        One row per number of new stations 0..k: ``n_new``, ``coverage_share`` (of demand),
        ``population_share``, ``mean_response_s`` (population-weighted), ``max_response_s``,
        ``marginal_gain`` (coverage share added by the n-th station), ``recommended``, ``sites``.
    communities
        Per community: ``demand``, ``population``, ``response_before_s``,
        ``response_after_s``, ``covered_before``, ``covered_after``, ``station_before``,
        ``station_after``.
    summary
        Rows ``before`` and ``after``: coverage shares and response-time statistics.
    result
        The :class:`~planning.location.LocationResult` of the plan (columns: existing stations
        first, then eligible candidates).
    recommended_n
        Recommended number of new stations (``tradeoff.min_marginal_share``).
    notes
        How demand, costs and the curve were made.
    uncoverable
        Communities that no existing station or eligible candidate covers within the
        standard (``name``, ``population``, ``best_response_s``, ``reason``): no number of
        new stations helps them; they need other candidate sites or roads.
    """

    model: Model
    distance: Distance
    standard: ResponseStandard
    candidates: gpd.GeoDataFrame
    proposed: gpd.GeoDataFrame
    tradeoff: pd.DataFrame
    communities: gpd.GeoDataFrame
    summary: pd.DataFrame
    result: LocationResult
    recommended_n: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    uncoverable: pd.DataFrame = field(default_factory=pd.DataFrame)

    def report(self) -> str:
        """A few lines for people: before/after coverage, the proposed sites, the curve."""
        b, a = self.summary.loc["before"], self.summary.loc["after"]
        n = len(self.proposed)
        if self.model == "lscp":
            count = say("plan_report_count_lscp", count=n)
        elif n == self.recommended_n:
            count = say("plan_report_count_curve", count=n)
        else:
            count = say("plan_report_count_other", count=n, recommended=self.recommended_n)
        lines = [
            say(
                "plan_report_head", model=self.model, distance=distance_word(self.distance),
                standard=self.standard.name, seconds=f"{self.standard.response_s:.0f}", count=count,
            ),
            say(
                "plan_report_shares", pop_before=f"{b['population_share']:.1%}",
                pop_after=f"{a['population_share']:.1%}", demand_before=f"{b['coverage_share']:.1%}",
                demand_after=f"{a['coverage_share']:.1%}", mean_before=f"{b['mean_response_s']:.0f}",
                mean_after=f"{a['mean_response_s']:.0f}",
            ),
            say("plan_report_solver", summary=self.result.summary()),
        ]  # fmt: skip
        lines += [f"  + {i} {r['name']}: {r['reason']}" for i, r in self.proposed.iterrows()]
        if len(self.uncoverable):
            u = self.uncoverable
            shown = say("words_list_sep").join(
                say(
                    "plan_report_uncoverable_one", id=i, people=f"{r['population']:,.0f}",
                    best=_seconds(r["best_response_s"]), reason=r["reason"],
                )
                for i, r in u.head(5).iterrows()
            )  # fmt: skip
            more = say("plan_report_more", count=len(u) - 5) if len(u) > 5 else ""
            people = f"{u['population'].sum():,.0f}"
            lines.append(say("plan_report_uncoverable", count=len(u), people=people, shown=shown, more=more))
        lines += [say("plan_report_note", note=n) for n in self.notes]
        excluded = self.candidates.loc[~self.candidates["eligible"], "excluded_by"]
        if len(excluded):
            counts = pd.Series([r for s in excluded for r in s.split("; ")]).value_counts()
            lines.append(say("plan_report_excluded", count=len(excluded), rules=counts.to_dict()))
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write the layers and the ``tradeoff`` and ``summary`` tables to one GeoPackage, atomically."""
        layers = {"candidates": self.candidates, "proposed": self.proposed, "communities": self.communities}
        tables = {
            "tradeoff": self.tradeoff,
            "summary": self.summary.rename_axis("when"),
            "notes": pd.DataFrame({"note": list(self.notes) or ["-"]}),
            "uncoverable": self.uncoverable,
        }
        return write_gpkg(path, layers, tables)


def _roads(scenario: Scenario, graph: GraphLike | None) -> gpd.GeoDataFrame:
    """The road lines: the scenario's ``roads`` layer, else the edges of its graph (OSM roads)."""
    if "roads" in scenario:
        return scenario["roads"]
    if graph is None:
        msg = (
            "The scenario's roads come from an OSM file, so candidate sites and the frontage rule "
            "need its road graph. Fix: pass `graph=gis.scenario_graph(scenario)`."
        )
        raise InputError(msg)
    return graph_edges(graph)


def _candidates(
    scenario: Scenario,
    candidates: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame,
    planning_norms: TableOverrides,
) -> gpd.GeoDataFrame:
    if candidates is not None:
        cand = candidates
    elif "candidate_sites" in scenario and len(scenario["candidate_sites"]):
        cand = scenario["candidate_sites"]
    else:
        log.info("no candidate_sites layer: generating candidates along arterial roads")
        cand = generate_candidates(roads, planning_norms=planning_norms)
    if len(cand) == 0:
        msg = (
            "There are no candidate sites. Fix: add a `candidate_sites` layer to the scenario, pass "
            "`candidates`, or leave both empty to generate sites along arterial roads."
        )
        raise InputError(msg)
    cand = cand.to_crs(scenario.crs) if cand.crs is not None and cand.crs != scenario.crs else cand
    if "name" not in cand:
        cand = cand.assign(name=[f"Site {i}" for i in cand.index])
    return cand


def plan_stations(
    scenario: Scenario,
    graph: GraphLike | None,
    *,
    model: Model = "mclp",
    n_new: int = 3,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    demand: str | pd.Series | None = None,
    risk: RiskResult | pd.Series | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    wind_from_deg: float | None = None,
    distance: Distance = "network",
    time_limit_s: float = 30.0,
    max_new_curve: int | None = None,
    planning_norms: TableOverrides = None,
    max_snap_m: float | None = None,
    busy_fraction: float | None = None,
) -> StationPlan:
    """Propose new fire stations for a scenario under a response standard.

    Parameters
    ----------
    scenario
        Loaded scenario with ``communities``, ``fire_stations`` and ``roads`` (``hazards``,
        ``sensitive_sites`` and ``candidate_sites`` used when present).
    graph
        Its road graph (:func:`gis.scenario_graph`); may be None with ``distance="euclidean"``.
    model
        One of :data:`planning.names.MODELS`: ``mclp`` (maximise covered demand), ``lscp``
        (fewest sites covering all: ``n_new`` is ignored), ``p-median`` (mean response),
        ``p-center`` (worst response), ``backup`` (demand covered twice), ``mexclp``
        (expected covered demand when stations are busy: needs ``busy_fraction``).
    n_new
        New stations to propose.
    standard
        Response profile (:class:`~planning.standards.ResponseStandard`: the turnout plus the
        travel time allowed for the first engine), by name (``cn-gb51080``, ``nfpa-1710``,
        ``cn-micro-135``), as a mapping or as given: the coverage radius is its ``response_s``.
    demand, risk
        Demand weights (:func:`demand_weights`): population x risk score by default.
    candidates
        Candidate points (default: the scenario's ``candidate_sites``, else generated every
        ``candidates.spacing_m`` along arterial roads).
    wind_from_deg
        Prevailing wind (from), for the upwind/crosswind rule.
    distance
        ``network`` (road travel) or ``euclidean`` (straight line at ``euclidean.speed_kph``).
    time_limit_s
        Time limit of each solve; a solve that stops early reports its gap.
    max_new_curve
        Largest number of new stations on the trade-off curve (default ``tradeoff.max_new``,
        at least ``n_new``).
    planning_norms
        Overrides of ``planning/data/planning_norms.toml``.
    max_snap_m
        Snap limit (default ``max_snap_m`` of ``road_speeds.toml``): candidate sites farther
        from every road are excluded, and communities farther count as not covered
        (:data:`planning.OFF_ROAD_RULE`), as in the coverage stage.
    busy_fraction
        System busy fraction ``q`` (share of time a station's unit is busy, one unit per
        station): the ``mexclp`` objective, and with it the trade-off table gains
        ``expected_coverage_share`` (demand covered by a free station, ``1 - q**n``) next to
        ``coverage_share``.

    Raises
    ------
    InputError
        Unknown model or distance, no (eligible) candidates, ``n_new`` larger than the eligible
        candidates, zero total demand, or no station or candidate reaching any community.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis import load_scenario, write_demo_scenario
    >>> path = write_demo_scenario(pathlib.Path(tempfile.mkdtemp()) / "demo.gpkg", n_road_nodes=2000)
    >>> plan = plan_stations(load_scenario(path), None, n_new=2, distance="euclidean")
    >>> c = plan.communities
    >>> len(plan.proposed), bool((c["response_after_s"] <= c["response_before_s"]).all())
    (2, True)
    """
    if model not in MODELS:
        msg = f"`model` is {model!r}. Fix: use one of {', '.join(MODELS)}."
        raise InputError(msg)
    if model == "mexclp" and busy_fraction is None:
        msg = (
            "`model` is 'mexclp' but `busy_fraction` is not given. Fix: give it (CLI `--busy-fraction 0.2`)."
        )
        raise InputError(msg)
    if busy_fraction is not None and not (0.0 <= busy_fraction < 1.0):
        msg = f"`busy_fraction` is {busy_fraction}. Fix: give the share of time a unit is busy, in [0, 1)."
        raise InputError(msg)
    if not (isinstance(n_new, int | np.integer) and n_new >= 0):
        msg = f"`n_new` is {n_new!r}. Fix: give a whole number of new stations, 0 or more."
        raise InputError(msg)
    cfg = load_norms(planning_norms)
    std = response_standard(standard)
    radius = std.response_s
    notes: list[str] = []

    com = scenario["communities"]
    weights, note = demand_weights(com, demand=demand, risk=risk, planning_norms=cfg)
    notes.append(note)
    if weights.sum() <= 0:
        msg = (
            "Total demand is 0 (every weight is 0). Fix: use `demand='population'` or check the risk scores."
        )
        raise InputError(msg)
    stations = scenario["fire_stations"]
    roads = _roads(scenario, graph)
    cand = apply_siting_rules(
        _candidates(scenario, candidates, roads, cfg),
        hazards=scenario.layers.get("hazards"),
        sensitive_sites=scenario.layers.get("sensitive_sites"),
        roads=roads,
        wind_from_deg=wind_from_deg,
        planning_norms=cfg,
    )
    if distance == "network" and graph is not None:
        far = _snap_far(graph, cand, max_snap_m)
        cand.loc[far, "excluded_by"] = [
            f"{r}; far_from_road".lstrip("; ") for r in cand.loc[far, "excluded_by"]
        ]
        cand["eligible"] = cand["excluded_by"] == ""
    eligible = cand[cand["eligible"]]
    if len(eligible) == 0:
        counts = pd.Series([r for s in cand["excluded_by"] for r in s.split("; ")]).value_counts().to_dict()
        msg = (
            f"All {len(cand)} candidate sites break a siting rule ({counts}). Fix: add candidate sites, "
            "or relax the rules in `planning_norms` (planning_norms.toml [siting])."
        )
        raise InputError(msg)
    if model != "lscp" and n_new > len(eligible):
        msg = (
            f"`n_new` is {n_new} but only {len(eligible)} of {len(cand)} candidate sites are eligible. "
            "Fix: ask for fewer new stations, or add candidate sites."
        )
        raise InputError(msg)

    sources = pd.concat([stations[["geometry"]], eligible[["geometry"]]])
    sources = gpd.GeoDataFrame(sources, geometry="geometry", crs=scenario.crs)
    costs: StationCosts | None = None
    on_roads = distance == "network" and graph is not None
    com_snaps = road_matrix(graph)._snap(_points(com)) if on_roads and graph is not None else None
    off_road = np.zeros(len(com), dtype=bool)
    if graph is not None and com_snaps is not None:
        off_road = _snap_far(graph, com, max_snap_m, com_snaps)
    if graph is not None and com_snaps is not None and model in COVERAGE_MODELS:
        # candidates searched to the standard's radius, and again whole once selected (the same plan)
        costs = StationCosts(
            graph,
            sources,
            com,
            n_existing=len(stations),
            turnout_s=std.turnout_s,
            radius_s=radius,
            snaps=com_snaps,
            blank=off_road,
        )
        cost = costs.cost
    else:
        cost = cost_matrix(
            graph, sources, com, turnout_s=std.turnout_s, distance=distance, planning_norms=cfg
        )
    if off_road.any():
        cost[off_road] = np.inf
        count = place_counts({"communities": int(off_road.sum())})
        notes.append(say("plan_off_road", count=count, rule=off_road_rule()))
    best_all = costs.best() if costs is not None else cost.min(axis=1) if cost.shape[1] else None
    if best_all is None or not np.isfinite(best_all).any():
        msg = (
            "No station or candidate site reaches any community by road. "
            "Fix: check the road graph and the layers' CRS."
        )
        raise InputError(msg)
    w = weights.to_numpy(np.float64)
    pop = com["population"].to_numpy(np.float64)
    existing = np.arange(len(stations), dtype=np.intp)
    pool = np.arange(len(stations), len(sources), dtype=np.intp)

    uncoverable = _uncoverable(com, best_all, pop, radius, off_road=off_road)
    if len(uncoverable):
        people = f"{uncoverable['population'].sum():,.0f}"
        notes.append(say("plan_uncoverable", count=len(uncoverable), people=people, seconds=f"{radius:.0f}"))
    q = busy_fraction
    result = solve(
        model,
        cost,
        w,
        radius=radius,
        n_new=n_new,
        existing=existing,
        time_limit_s=time_limit_s,
        busy_fraction=q,
    )
    if result.status != "optimal":
        notes.append(say("plan_stopped_early", status=result.status, gap=f"{result.gap:.2%}"))
    chosen = np.asarray(result.selected, dtype=np.intp)
    if model in ("mclp", "backup", "mexclp"):
        kept = drop_idle(model, cost, w, radius, chosen, existing=existing, busy_fraction=q)
        if len(kept) < len(chosen):
            notes.append(say("plan_idle_dropped", idle=len(chosen) - len(kept), asked=n_new))
            chosen = kept

    n_chosen = int((~np.isin(chosen, existing)).sum())
    k_max = int(cfg["tradeoff"]["max_new"]) if max_new_curve is None else int(max_new_curve)
    k_max = min(max(k_max, len(result.new_sites)), len(eligible))
    curve_model: Model = "mclp" if model == "lscp" else model
    rows: list[dict[str, Any]] = []
    selections: list[IntArray] = []
    prev = existing
    for n in range(k_max + 1):
        if n == 0:
            cols, status, gap = existing, "optimal", 0.0
        elif n == n_chosen and n > 0 and curve_model == model:
            cols, status, gap = chosen, result.status, result.gap
        else:
            r = solve(
                curve_model,
                cost,
                w,
                radius=radius,
                n_new=n,
                existing=existing,
                time_limit_s=time_limit_s,
                busy_fraction=q,
            )
            cols, status, gap = np.asarray(r.selected, np.intp), r.status, r.gap
        greedy = (
            extend(curve_model, cost, w, radius=radius, cols=prev, pool=pool, busy_fraction=q) if n else prev
        )
        if (
            objective(curve_model, cost, w, radius, greedy, busy_fraction=q)
            > objective(curve_model, cost, w, radius, cols, busy_fraction=q) + 1e-9
        ):
            cols, status = greedy, f"{status}; greedy extension of n-1 kept"
        prev = cols
        ids = sources.index[cols[~np.isin(cols, existing)]]
        selections.append(cols)
        rows.append({"sites": ",".join(map(str, ids)), "status": status, "gap": gap})
    if costs is not None:  # every selection's columns whole: its figures are the full matrix's
        cost = costs.exact(np.concatenate([chosen, *selections]))
    rows = [
        {"n_new": n, **metrics(cost, w, pop, radius, cols, busy_fraction=q), **row}
        for n, (cols, row) in enumerate(zip(selections, rows, strict=True))
    ]
    tradeoff = pd.DataFrame(rows)
    tradeoff["marginal_gain"] = tradeoff["coverage_share"].diff().fillna(0.0)
    threshold = float(cfg["tradeoff"]["min_marginal_share"])
    if model == "lscp":
        rec = len(result.new_sites)
        notes.append(say("plan_recommended_lscp"))
    else:
        below = np.flatnonzero((tradeoff["marginal_gain"] < threshold).to_numpy()[1:])
        rec = int(below[0]) if len(below) else k_max
        notes.append(say("plan_recommended_gain", share=f"{threshold:.0%}"))
    tradeoff["recommended"] = tradeoff["n_new"] == rec

    before = cost[:, existing].min(axis=1)
    sub = cost[:, chosen]
    after = sub.min(axis=1)
    ids_all = np.asarray(sources.index, dtype=object)
    out_com = com[["name", "geometry"]].copy() if "name" in com else com[["geometry"]].copy()
    out_com["population"] = pop
    out_com["demand"] = w
    out_com["response_before_s"] = before
    out_com["response_after_s"] = after
    out_com["covered_before"] = before <= radius
    out_com["covered_after"] = after <= radius
    out_com["station_before"] = np.where(
        np.isfinite(before), ids_all[existing][np.argmin(cost[:, existing], axis=1)], None
    )
    out_com["station_after"] = np.where(np.isfinite(after), ids_all[chosen][np.argmin(sub, axis=1)], None)

    summary = pd.DataFrame(
        [metrics(cost, w, pop, radius, existing), metrics(cost, w, pop, radius, chosen)],
        index=pd.Index(["before", "after"]),
    )
    summary["p90_response_s"] = [quantile(before, 0.9), quantile(after, 0.9)]
    summary["communities_covered"] = [int((before <= radius).sum()), int((after <= radius).sum())]

    new_cols = chosen[~np.isin(chosen, existing)]
    gained = out_com["covered_after"] & ~out_com["covered_before"]
    recs = []
    for c in new_cols:
        sid = ids_all[c]
        mine = (out_com["station_after"] == sid).to_numpy()
        add = gained.to_numpy() & mine
        site = cand.loc[sid]
        where = (
            say("plan_site_frontage", highway=highway_word(site["frontage_highway"]))
            if "frontage_highway" in cand and site["frontage_highway"]
            else say("plan_site")
        )
        recs.append(
            {
                "id": sid,
                "name": site["name"],
                "reason": say(
                    "plan_station_reason",
                    minutes=f"{radius / 60:g}",
                    gained=int(add.sum()),
                    people=f"{pop[add].sum():,.0f}",
                    nearest=int(mine.sum()),
                    where=where,
                    hazard=_hazard_distance(site["hazard_m"]),
                ),
                "added_demand": float(w[add].sum()),
                "added_population": float(pop[add].sum()),
                "communities_served": int(mine.sum()),
                "geometry": sources.geometry.iloc[c],
            }
        )
    columns = ["id", "name", "reason", "added_demand", "added_population", "communities_served", "geometry"]
    proposed = gpd.GeoDataFrame(
        pd.DataFrame(recs, columns=columns), geometry="geometry", crs=scenario.crs
    ).set_index("id")
    cand["selected"] = cand.index.isin(proposed.index)
    notes.append(say("plan_cost", distance=distance_word(distance), turnout=f"{std.turnout_s:.0f}"))
    plan = StationPlan(
        model,
        distance,
        std,
        cand,
        proposed,
        tradeoff,
        out_com,
        summary,
        result,
        rec,
        tuple(notes),
        uncoverable,
    )
    log.info("%s", plan.report())
    return plan
