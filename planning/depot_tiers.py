"""A province's relief-depot network, tier by tier: township -> county -> city -> province.

Relief-material reserves are planned as a tiered network (China's reserve system: central,
province, city, county, township; ``[depot_network]`` of ``planning_norms.toml``). The tiers
nearest the people deliver first, and each higher tier backs the one below:

1. **Direct service, lowest tier first.** In every city (its administrative area), the people to
   relocate of each community (:func:`planning.relocation_demand`) go to the township depots
   that reach them within the township delivery limit and have room (the single-sourcing MILP
   of :func:`planning.assign_capacitated`, most people served, then least people x hours);
   what they cannot take goes to the county depots, then to the city's depots, each within
   its own tier's limit and capacity; what no depot of the city can take goes to the
   province's depots (province-wide). A community may use its ``nearest_depots`` nearest
   depots of a tier, which keeps every assignment small.
2. **Backing.** Every depot's parent is the nearest depot (by road) of the next tier up that
   exists: of its own city for the city tiers, of the province for a city depot. A depot keeps
   a reserve for ``backup_share`` of the people served by every depot under it (to replenish
   them after the first days), on top of the people it serves itself; its stock need
   (:func:`planning.stock_needs`, ``days`` days) is sized on both and compared with its
   ``stock_*``.
3. **Unmet demand** is listed with its reason (``time``: no depot of any tier within its limit;
   ``capacity``: in reach, but full), and new depots are suggested on the city's candidate
   sites (as :func:`planning.plan_depots` does).

The cities' steps are independent tasks of a :class:`gis.executor.Executor` (each on the city's
roads within ``city_margin_km`` of its communities: travel times are those of the best route
in that box, equal to the province's for every route that stays in it); the province step runs
on the province's graph, from its few province depots.
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
from scipy.sparse.csgraph import dijkstra

from gis.atomic import write_gpkg
from gis.errors import InputError
from gis.executor import Executor, Progress, as_executor
from gis.network import RoadGraph, as_road_graph
from gis.scenario import Scenario
from gis.speech import in_language, say, spoken_lang
from gis.tables import TableOverrides

from .cities import CITY_COLUMN, box_subgraph, city_box, city_scenario, scenario_cities
from .depots import _depot_specs, _suggest, assign_capacitated, depot_table, relocation_demand, stock_table
from .flood_roads import FloodHours, depot_hours
from .siting import load_norms
from .travel import CHUNK_FLOATS, _points, cost_matrix, road_matrix
from .words import norm_source, tier_word, unmet_lines

if TYPE_CHECKING:
    from gis.network.graph import GraphLike
    from risk_models import RiskResult

__all__ = ["TieredDepotPlan", "hours_to_points", "plan_depot_network"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class TieredDepotPlan:
    """A province's depot plan across tiers.

    Attributes
    ----------
    days
        Days of supplies sized.
    communities
        Per community: ``city``, ``population``, ``risk_level``, ``relocate_people``, ``depot``
        (None when unmet), ``served_by_tier``, ``travel_h``, ``delivery_limit_h``,
        ``unmet_people``, ``unmet_reason``.
    depots
        Per depot: ``city``, ``tier``, ``capacity_people``, ``people_assigned`` (served
        directly), ``communities``, ``max_travel_h``, ``delivery_limit_h``, ``parent``,
        ``parent_h``, ``people_below`` (served by the depots under it), ``people_backed``
        (``backup_share`` of them), ``stock_people`` (assigned + backed), ``utilisation``.
    stock
        One row per depot and item: ``need`` (for ``stock_people``), ``stock``, ``shortfall``,
        ``overstock``, ``basis``.
    new_depots
        Suggested new depot sites (candidate sites) for unmet demand, with their ``city``.
    tiers
        One row per tier: depots, people served directly, people backed, capacity, unmet.
    status
        Solver status of every assignment (``city/tier: status``).
    notes
        Assumptions and figures to check.
    """

    days: int
    communities: gpd.GeoDataFrame
    depots: gpd.GeoDataFrame
    stock: pd.DataFrame
    new_depots: gpd.GeoDataFrame
    tiers: pd.DataFrame
    status: tuple[str, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def served(self) -> pd.Series:
        """Community id -> depot id of every served community (drawn by the maps)."""
        return self.communities["depot"].dropna().rename("depot")

    @property
    def unmet_people(self) -> float:
        """People to relocate whom no depot of any tier serves."""
        return float(self.communities["unmet_people"].sum())

    @property
    def by_city(self) -> pd.DataFrame:
        """One row per city: people to relocate, served by each tier, unmet."""
        c = self.communities
        t = c.pivot_table(
            index=CITY_COLUMN,
            columns="served_by_tier",
            values="relocate_people",
            aggfunc="sum",
            fill_value=0.0,
        )
        t = t.drop(columns=[""], errors="ignore").add_prefix("served_by_")
        t.insert(0, "relocate_people", c.groupby(CITY_COLUMN)["relocate_people"].sum())
        t["unmet_people"] = c.groupby(CITY_COLUMN)["unmet_people"].sum()
        return t

    def table(self) -> pd.DataFrame:
        """One row per depot for the report: tier, parent, load, delivery, shortfall / over-stock."""
        keep = (
            "name",
            CITY_COLUMN,
            "tier",
            "parent",
            "capacity_people",
            "people_assigned",
            "people_backed",
            "communities",
            "max_travel_h",
            "delivery_limit_h",
        )
        return depot_table(self.depots, self.stock, keep)

    def report(self) -> str:
        """A few lines: people to relocate, served by each tier, backed, unmet."""
        c = self.communities
        total = float(c["relocate_people"].sum())
        lines = [
            say(
                "plan_network_head", days=self.days, depots=len(self.depots), tiers=len(self.tiers),
                total=f"{total:,.0f}", served=f"{total - self.unmet_people:,.0f}",
            )
        ]  # fmt: skip
        for tier, r in self.tiers.iterrows():
            lines.append(
                say(
                    "plan_network_tier", tier=tier_word(str(tier)), depots=r["depots"],
                    assigned=f"{r['people_assigned']:,.0f}", backed=f"{r['people_backed']:,.0f}",
                    capacity=f"{r['capacity_people']:,.0f}",
                )
            )  # fmt: skip
        lines += unmet_lines(c)
        lines += [
            say("plan_depot_suggested", depot=i, reason=r["reason"]) for i, r in self.new_depots.iterrows()
        ]
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write the layers and the ``stock``, ``tiers`` and ``by_city`` tables to one GeoPackage."""
        layers = {"communities": self.communities, "depots": self.depots, "new_depots": self.new_depots}
        tables = {
            "stock": self.stock.reset_index(drop=True),
            "tiers": self.tiers.rename_axis("tier").reset_index(),
            "by_city": self.by_city.reset_index(),
            "notes": pd.DataFrame({"note": list(self.notes) or ["-"]}),
        }
        return write_gpkg(path, layers, tables)


def _nearest_only(hours: FloatArray, k: int) -> FloatArray:
    """``hours`` with every entry beyond each row's ``k`` smallest set to inf."""
    if hours.shape[1] <= k:
        return hours
    kth = np.partition(hours, k - 1, axis=1)[:, k - 1 : k]
    return np.where(hours <= kth, hours, np.inf)


def _assign_tier(  # noqa: PLR0917
    hours: FloatArray, people: FloatArray, spec: pd.DataFrame, k: int, limit_s: float, gap: float
) -> tuple[npt.NDArray[np.intp], str]:
    """Column of ``spec`` per row (-1 = not served) by the capacitated single-sourcing MILP."""
    if hours.shape[1] == 0 or len(hours) == 0:
        return np.full(len(hours), -1, np.intp), "none"
    return assign_capacitated(
        _nearest_only(hours, k),
        people,
        spec["capacity_people"].to_numpy(np.float64),
        spec["delivery_limit_h"].to_numpy(np.float64),
        time_limit_s=limit_s,
        mip_rel_gap=gap,
    )


def _parents(
    graph: RoadGraph, depots: gpd.GeoDataFrame, spec: pd.DataFrame, order: list[str]
) -> pd.DataFrame:
    """Parent (nearest depot of the next tier up present) and road hours of each depot in ``depots``."""
    out = pd.DataFrame({"parent": pd.Series(None, index=depots.index, dtype=object), "parent_h": np.nan})
    tiers = spec["tier"]
    for i, tier in enumerate(order):
        kids = tiers.index[tiers == tier]
        above = next((tiers.index[tiers == t] for t in order[i + 1 :] if (tiers == t).any()), None)
        if len(kids) == 0 or above is None:
            continue
        h = cost_matrix(graph, depots.loc[above], depots.loc[kids]) / 3600.0
        best = np.argmin(np.where(np.isfinite(h), h, np.inf), axis=1)
        ok = np.isfinite(h[np.arange(len(kids)), best])
        out.loc[kids, "parent"] = np.where(ok, np.asarray(above, dtype=object)[best], None)
        out.loc[kids, "parent_h"] = np.where(ok, h[np.arange(len(kids)), best], np.nan)
    return out


def _reach(flood: FloodHours | None, n: int) -> npt.NDArray[np.bool_]:
    """``(n, 2)``: each community reached from some depot on the open roads, and on the flooded ones."""
    if flood is None:
        return np.zeros((n, 2), bool)
    return np.column_stack([np.isfinite(flood.open_hours).any(axis=1), np.isfinite(flood.hours).any(axis=1)])


def _city_step(  # noqa: PLR0917 (an executor task: shared inputs, then the task's, by position)
    graph: RoadGraph,
    scenario: Scenario,
    demand: pd.DataFrame,
    spec: pd.DataFrame,
    city: str,
    box: tuple[float, float, float, float],
    params: dict[str, Any],
) -> dict[str, Any]:
    """One task: the city tiers of ``city`` on its subgraph: who serves whom, parents, status."""
    sub = city_scenario(scenario, city, box=box)
    g = box_subgraph(graph, box)
    com = sub["communities"]
    dep = scenario["depots"]
    dep = dep[(dep[CITY_COLUMN].astype(str) == city) & dep["tier"].isin(params["city_tiers"])]
    people = demand.loc[com.index, "relocate_people"].to_numpy(np.float64)
    n = len(com)
    col = np.full(n, -1, np.intp)
    hours, flood = (
        depot_hours(g, dep, com, flood=params["flood"]) if len(dep) else (np.full((n, 0), np.inf), None)
    )
    dspec = spec.loc[dep.index]
    limit = dspec["delivery_limit_h"].to_numpy(np.float64)
    status = []
    for tier in params["city_tiers"]:
        cols = np.flatnonzero((dspec["tier"] == tier).to_numpy())
        rows = np.flatnonzero((col < 0) & (people > 0))
        if len(cols) == 0 or len(rows) == 0:
            continue
        got, st = _assign_tier(
            hours[np.ix_(rows, cols)],
            people[rows],
            dspec.iloc[cols],
            params["nearest"],
            params["limit_s"],
            params["gap"],
        )
        col[rows[got >= 0]] = cols[got[got >= 0]]
        status.append(f"{city}/{tier}: {st}")
    in_time = (hours <= limit[None, :]).any(axis=1) if hours.shape[1] else np.zeros(n, bool)
    served = col >= 0
    return {
        "depot": np.where(served, np.asarray(dep.index, dtype=object)[np.maximum(col, 0)], np.array(None))
        if len(dep)
        else np.full(n, None, dtype=object),
        "travel_h": np.where(served, hours[np.arange(n), np.maximum(col, 0)], np.nan)
        if len(dep)
        else np.full(n, np.nan),
        "in_time": in_time,
        "index": com.index,
        "parents": _parents(g, dep, dspec, params["city_tiers"]) if len(dep) else pd.DataFrame(),
        "reach": _reach(flood, n),
        "status": status,
    }


def plan_depot_network(
    scenario: Scenario,
    graph: GraphLike,
    *,
    risk: RiskResult | pd.Series | None = None,
    days: int = 7,
    time_limit_s: float | None = None,
    flood_return_period: float | None = None,
    planning_norms: TableOverrides = None,
    executor: Executor | Any | None = None,
    progress: Progress | None = None,
    flood_depth: str | Path | None = None,
) -> TieredDepotPlan:
    """Plan a province's relief depots across tiers (see the module notes for the method).

    Parameters
    ----------
    scenario
        A province scenario (:func:`planning.cities.scenario_cities`) with ``depots`` (``tier``,
        ``capacity_people``, ``stock_*``, ``city``), ``communities`` with ``city`` and
        ``candidate_sites`` for new depots.
    graph
        The province's road graph.
    risk
        Risk on communities, or a Series of levels: the relocation rate of each community.
    days
        Days of supplies to stock.
    time_limit_s
        Time limit of each assignment (default ``depots.time_limit_s``).
    flood_return_period
        Also relocate the residents the flood of this return period displaces
        (:func:`planning.relocation_demand`).
    planning_norms
        Overrides of ``planning_norms.toml`` (``[depot_network]``, ``[depot_tiers]``...).
    executor
        Where the cities' steps run (None: in process); same plan everywhere.
    progress
        ``progress(done, total)`` in cities.
    flood_depth
        That flood's depth raster (a path every worker reads): each tier's delivery times run on
        the roads it leaves open (:func:`planning.flood_roads.depot_hours`), and a community the
        flood cuts off from every depot of every tier is unmet (``cut_off``, ``flood_cut_off``).
        The depots' parents and the new depot sites are found on the open roads.
    """
    if not (isinstance(days, int | np.integer) and days > 0):
        msg = f"`days` is {days!r}. Fix: give a whole number of days, 1 or more."
        raise InputError(msg)
    cfg = load_norms(planning_norms)
    net = cfg["depot_network"]
    order = [str(t) for t in net["tiers"]]
    city_tiers = [t for t in order if t in net["city_tiers"]]
    upper = [t for t in order if t not in city_tiers]
    limit_s = float(cfg["depots"]["time_limit_s"] if time_limit_s is None else time_limit_s)
    notes = [norm_source("depot_network", str(net["source"]))]
    notes += [norm_source(k, cfg[k]["source"]) for k in ("relocation", "depot_tiers")]
    cities = scenario_cities(scenario)
    depots = scenario.layers.get("depots")
    if not cities or depots is None or len(depots) == 0 or CITY_COLUMN not in depots:
        msg = (
            f"A depot network needs a province: communities and `depots` with a `{CITY_COLUMN}` column "
            "(two or more cities). Fix: use `planning.plan_depots` for one city."
        )
        raise InputError(msg)
    unknown = sorted(set(depots["tier"].astype(str)) - set(order))
    if unknown:
        msg = (
            f"Layer `depots`: tiers {unknown} are not in `depot_network.tiers` {order}. "
            "Fix: use those tiers, or list yours in `planning_norms`."
        )
        raise InputError(msg)
    g = as_road_graph(graph)
    com = scenario["communities"]
    demand = relocation_demand(com, risk=risk, flood_return_period=flood_return_period, planning_norms=cfg)
    spec = _depot_specs(depots, cfg["depot_tiers"], notes)
    margin = float(net["city_margin_km"]) * 1000.0
    params: dict[str, Any] = {
        "city_tiers": city_tiers,
        "nearest": int(net["nearest_depots"]),
        "limit_s": limit_s,
        "gap": float(net["mip_rel_gap"]),
        "flood": None if flood_depth is None else str(flood_depth),
    }
    ex = as_executor(executor)
    shared = (ex.share(g), ex.share(scenario), ex.share(demand), ex.share(spec))
    tasks = [(c, city_box(scenario, c, margin_m=margin), params) for c in cities]
    depot_of = pd.Series(None, index=com.index, dtype=object)
    travel_h = pd.Series(np.nan, index=com.index)
    in_time = pd.Series(False, index=com.index)
    reach = pd.DataFrame(False, index=com.index, columns=["open", "flooded"])
    parents = []
    status: list[str] = []
    for _, r in ex.run(
        in_language(spoken_lang(), _city_step),
        tasks,
        shared=shared,
        progress=progress,
        name="city_depot_tiers",
    ):
        depot_of.loc[r["index"]] = r["depot"]
        travel_h.loc[r["index"]] = r["travel_h"]
        in_time.loc[r["index"]] = r["in_time"]
        reach.loc[r["index"]] = r["reach"]
        parents.append(r["parents"])
        status += r["status"]

    # the upper tiers (province): the people no city depot took, and the city depots' parents
    people = demand["relocate_people"].to_numpy(np.float64)
    for tier in upper:
        ids = spec.index[spec["tier"] == tier]
        rows = np.flatnonzero(depot_of.isna().to_numpy() & (people > 0))
        if len(ids) == 0:
            continue
        if len(rows):
            hours, flood = depot_hours(g, depots.loc[ids], com.iloc[rows], flood=params["flood"])
            reach.iloc[rows] |= _reach(flood, len(rows))
            got, st = _assign_tier(
                hours, people[rows], spec.loc[ids], params["nearest"], limit_s, params["gap"]
            )
            status.append(f"province/{tier}: {st}")
            lim = spec.loc[ids, "delivery_limit_h"].to_numpy(np.float64)
            in_time.iloc[rows] |= (hours <= lim[None, :]).any(axis=1)
            hit = got >= 0
            depot_of.iloc[rows[hit]] = np.asarray(ids, dtype=object)[got[hit]]
            travel_h.iloc[rows[hit]] = hours[np.flatnonzero(hit), got[hit]]
    if city_tiers and upper:  # the city depots' parents among the upper tiers' depots
        top = spec.index[spec["tier"].isin([city_tiers[-1], *upper])]
        parents.append(_parents(g, depots.loc[top], spec.loc[top], [city_tiers[-1], *upper]))
    frames = [p for p in parents if len(p)]
    par = pd.concat(frames) if frames else pd.DataFrame({"parent": [], "parent_h": []})
    par = par[~par.index.duplicated(keep="last")].reindex(spec.index)

    out = gpd.GeoDataFrame(demand, geometry=com.geometry, crs=com.crs)
    if "name" in com:
        out.insert(0, "name", com["name"])
    out.insert(0, CITY_COLUMN, com[CITY_COLUMN])
    served = depot_of.notna().to_numpy()
    out["depot"] = depot_of
    out["served_by_tier"] = depot_of.map(spec["tier"]).fillna("")
    out["travel_h"] = travel_h
    out["delivery_limit_h"] = depot_of.map(spec["delivery_limit_h"])
    out["unmet_people"] = np.where(served, 0.0, people)
    out["unmet_reason"] = np.where(
        served | (people <= 0), "", np.where(in_time.to_numpy(), "capacity", "time")
    )
    if flood_depth is not None:
        cut = (reach["open"] & ~reach["flooded"]).to_numpy()
        out["flood_cut_off"] = cut
        out.loc[cut & (out["unmet_people"].to_numpy() > 0), "unmet_reason"] = "cut_off"
        ids_cut = com.index[cut].astype(str).tolist()
        notes.append(
            f"delivery times on the roads left open by the flood of `{Path(flood_depth).name}`: "
            f"{len(ids_cut)} communities cut off from every depot"
            + (f" ({', '.join(ids_cut[:20])}{', ...' if len(ids_cut) > 20 else ''})" if ids_cut else "")
        )

    dep = gpd.GeoDataFrame(spec, geometry=depots.geometry, crs=depots.crs)
    for col in ("name", CITY_COLUMN):
        if col in depots:
            dep.insert(0, col, depots[col])
    load = out.groupby("depot")["relocate_people"].agg(["sum", "size"])
    dep["people_assigned"] = load["sum"].reindex(dep.index).fillna(0.0)
    dep["communities"] = load["size"].reindex(dep.index).fillna(0).astype(int)
    dep["max_travel_h"] = out.groupby("depot")["travel_h"].max().reindex(dep.index)
    dep["parent"] = par["parent"]
    dep["parent_h"] = par["parent_h"]
    below = pd.Series(0.0, index=dep.index)
    for tier in order:  # bottom up: a depot's people and those below it go to its parent
        for d in dep.index[dep["tier"] == tier]:
            p = dep.loc[d, "parent"]
            if p is not None and pd.notna(p):
                below[p] += float(dep.loc[d, "people_assigned"]) + float(below[d])
    share = float(net["backup_share"])
    dep["people_below"] = below
    dep["people_backed"] = share * below
    dep["stock_people"] = dep["people_assigned"] + dep["people_backed"]
    dep["utilisation"] = dep["stock_people"] / dep["capacity_people"]

    stock = stock_table(depots, dep["stock_people"], days, cfg)
    new = _new_depots(
        scenario, g, out, cfg=cfg, limit_s=limit_s, gap=float(net["mip_rel_gap"]), margin=margin, notes=notes
    )
    tiers = pd.DataFrame(
        {
            "depots": dep.groupby("tier").size(),
            "people_assigned": dep.groupby("tier")["people_assigned"].sum(),
            "people_backed": dep.groupby("tier")["people_backed"].sum(),
            "capacity_people": dep.groupby("tier")["capacity_people"].sum(),
        }
    ).reindex([t for t in order if (dep["tier"] == t).any()])
    tiers_text = " -> ".join(tier_word(t) for t in order)
    notes.append(say("plan_depot_tiers", tiers=tiers_text, nearest=params["nearest"], share=f"{share:.0%}"))
    plan = TieredDepotPlan(days, out, dep, stock, new, tiers, tuple(status), tuple(dict.fromkeys(notes)))
    log.info("%s", plan.report())
    return plan


def hours_to_points(graph: RoadGraph, sources: gpd.GeoDataFrame, targets: gpd.GeoDataFrame) -> FloatArray:
    """Road hours from every source to every target, ``(targets, sources)``: :func:`cost_matrix` / 3600.

    The same matrix as ``cost_matrix(graph, sources, targets) / 3600`` (sources from their
    nearest road node, targets snapped on their edge), searched from whichever side needs
    fewer searches: from the sources as :func:`cost_matrix` does, or, when the targets' edges
    have fewer end nodes than the sources have nodes, from those ends over the reversed roads
    (the time from a source node to an end node is the same shortest path summed from its
    other end: equal up to rounding, about 1e-15 relative). A few unmet communities and a
    hundred candidate sites take a few searches instead of a hundred.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis import load_scenario, scenario_graph, write_demo_scenario
    >>> s = load_scenario(write_demo_scenario(pathlib.Path(tempfile.mkdtemp()) / "d.gpkg", n_road_nodes=2000))
    >>> g = scenario_graph(s, cache=False)
    >>> cand, com = s["candidate_sites"], s["communities"].iloc[:3]
    >>> bool(np.allclose(hours_to_points(g, cand, com), cost_matrix(g, cand, com) / 3600, rtol=1e-12))
    True
    """
    m = road_matrix(graph)
    src = m.positions(m._snap(_points(sources))["node"].tolist())
    snaps = m._snap(_points(targets))
    edge = snaps["edge"].to_numpy(np.int64)
    frac = snaps["frac"].to_numpy(np.float64)[:, None]
    u, v = m.edge_uv[edge, 0], m.edge_uv[edge, 1]
    back = m.reverse_cost[edge]
    ends = np.unique(np.concatenate([u, v[np.isfinite(back)]]))
    if len(ends) >= len(np.unique(src)):
        return cost_matrix(graph, sources, targets) / 3600.0
    reverse = m.csr.T.tocsr()
    to_end = np.empty((len(ends), len(src)))  # time from each source to each end node
    step = max(1, min(64, CHUNK_FLOATS // max(m.n_nodes, 1)))
    for start in range(0, len(ends), step):
        rows = np.atleast_2d(dijkstra(reverse, directed=True, indices=ends[start : start + step]))
        to_end[start : start + step] = rows[:, src]
    at_u, at_v = np.searchsorted(ends, u), np.minimum(np.searchsorted(ends, v), len(ends) - 1)
    from_u = to_end[at_u] + frac * m.edge_cost[edge][:, None]
    back = back[:, None]
    from_v = np.where(np.isfinite(back), to_end[at_v] + (1.0 - frac) * np.nan_to_num(back), np.inf)
    return np.minimum(from_u, from_v) / 3600.0


def _new_depots(
    scenario: Scenario,
    graph: RoadGraph,
    out: gpd.GeoDataFrame,
    *,
    cfg: Mapping[str, Any],
    limit_s: float,
    gap: float,
    margin: float,
    notes: list[str],
) -> gpd.GeoDataFrame:
    """New depots on each city's candidate sites for its unmet communities (on its subgraph).

    The p-median stops within ``gap`` (the network's ``mip_rel_gap``), as the assignments do.
    """
    frames = []
    for city, g in out[out["unmet_people"] > 0].groupby(CITY_COLUMN):
        box = city_box(scenario, str(city), margin_m=margin)
        sub = city_scenario(scenario, str(city), box=box)
        sub_graph = box_subgraph(graph, box)
        cand = sub.layers.get("candidate_sites")
        unmet = g[g["unmet_people"] > 0]
        new = _suggest(
            sub,
            sub_graph,
            g,
            n_new=None,
            cfg=dict(cfg),
            distance="network",
            limit_s=limit_s,
            mip_gap=gap,
            notes=notes,
            hours=hours_to_points(sub_graph, cand, unmet) if cand is not None and len(cand) else None,
        )
        if new is not None:
            frames.append(new.assign(**{CITY_COLUMN: city}))
    if frames:
        return gpd.GeoDataFrame(pd.concat(frames), geometry="geometry", crs=out.crs)
    return gpd.GeoDataFrame(
        {"name": [], "tier": [], "capacity_people": [], "people_served": [], "reason": [], CITY_COLUMN: []},
        geometry=[],
        crs=out.crs,
    )
