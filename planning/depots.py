"""Relief-material depots: who each depot serves, what it must stock, what is left unmet.

:func:`plan_depots` turns every community's population into people to relocate (a rate by
risk level from ``planning_norms.toml``), assigns each community to one depot by road travel
time (a single-sourcing MILP: as many people served as capacities allow, then the least
people x hours), within the first-batch delivery limit of the depot's tier, and sizes the
stock each depot needs for ``days`` days from the per-person norms (rice, water, tents,
quilts, family kits...), against its current ``stock_*``: shortfall and over-stock. Unmet
demand is listed with its reason (``capacity`` or ``time``), and new depot sites are suggested
on the candidate sites when demand is unmet (``n_new`` of them, or as many as the unmet
people need).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.atomic import write_gpkg
from gis.errors import InputError
from gis.scenario import Scenario
from gis.speech import say
from gis.tables import TableOverrides

from .depot_assignment import assign_capacitated
from .flood_roads import depot_hours, mark_cut_off
from .location import p_median
from .names import Distance
from .siting import load_norms
from .travel import cost_matrix
from .words import depot_lines, distance_word, norm_source, tier_word, unmet_lines

if TYPE_CHECKING:
    from gis.network.graph import GraphLike
    from risk_models import RiskResult

__all__ = ["DepotPlan", "assign_capacitated", "plan_depots", "relocation_demand", "stock_needs"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def relocation_demand(
    communities: gpd.GeoDataFrame,
    *,
    risk: RiskResult | pd.Series | None = None,
    flood_return_period: float | None = None,
    planning_norms: TableOverrides = None,
) -> pd.DataFrame:
    """People to relocate per community: population x the relocation rate of its risk level.

    With ``flood_return_period``, a community relocates the larger of that and the residents the
    flood of that return period displaces (``population x flood_affected_rp<T> x
    relocation_flood.displaced_share``; ``relocate_basis`` says which one set it).

    Parameters
    ----------
    communities
        Communities with ``population``, indexed by id.
    risk
        A :class:`risk_models.RiskResult` on communities (``units['level']``), or a Series of
        levels (``red``, ``orange``, ``yellow``, ``blue``); None applies ``relocation.default_rate``.
    flood_return_period
        Plan for the residents this flood displaces too: ``risk`` must be a
        :class:`risk_models.RiskResult` scored with natural hazards of that return period.
    planning_norms
        Overrides of ``planning/data/planning_norms.toml`` (``[relocation]``, ``[relocation_flood]``).

    Raises
    ------
    InputError
        Levels without a rate, or a flood return period the risk result has no figures of.

    Examples
    --------
    >>> com = gpd.GeoDataFrame({"population": [1000.0, 2000.0]}, geometry=[None, None], index=["a", "b"])
    >>> relocation_demand(com, risk=pd.Series({"a": "red", "b": "blue"}))["relocate_people"].tolist()
    [150.0, 40.0]
    """
    norms = load_norms(planning_norms)
    cfg = norms["relocation"]
    pop = communities["population"].astype(float)
    if risk is None:
        level = pd.Series("none", index=communities.index)
        rate = pd.Series(float(cfg["default_rate"]), index=communities.index)
    else:
        levels = risk.units["level"] if hasattr(risk, "units") else pd.Series(risk)
        levels = pd.Series(levels.astype(str).to_numpy(), index=levels.index.astype(str))
        level = pd.Series(levels.reindex(communities.index.astype(str)).to_numpy(), index=communities.index)
        rates = [k for k, v in cfg.items() if isinstance(v, float | int) and not isinstance(v, bool)]
        unknown = ~level.isin([k for k in rates if k != "default_rate"])
        if unknown.any():
            msg = (
                f"Risk levels {sorted(set(level[unknown].astype(str)))} of communities "
                f"{level.index[unknown].tolist()[:10]} have no relocation rate. Fix: score the communities "
                "(units='communities') or add the levels to `[relocation]` in the norms."
            )
            raise InputError(msg)
        rate = level.map(lambda v: float(cfg[v]))
    out = pd.DataFrame(
        {"population": pop, "risk_level": level, "relocation_rate": rate, "relocate_people": pop * rate}
    )
    if flood_return_period is None:
        return out
    share = _flooded_share(communities, risk, flood_return_period)
    displaced = pop * share * float(norms["relocation_flood"]["displaced_share"])
    by_flood = displaced > out["relocate_people"]
    out["flood_displaced"] = displaced
    out["relocate_basis"] = np.where(by_flood, f"flood {float(flood_return_period):g}-year", "risk level")
    out["relocate_people"] = np.maximum(out["relocate_people"], displaced)
    return out


def _flooded_share(communities: gpd.GeoDataFrame, risk: Any, period: float) -> pd.Series:
    """Each community's ``flood_affected_rp<T>`` from the risk result (0 where it is missing)."""
    ok = isinstance(period, int | float) and not isinstance(period, bool) and period > 0
    col = f"flood_affected_rp{float(period):g}" if ok else ""
    units = getattr(risk, "units", None)
    if units is None or col not in units:
        cols = [str(c) for c in getattr(units, "columns", [])]
        have = sorted(
            (c.removeprefix("flood_affected_rp") for c in cols if c.startswith("flood_affected_rp")),
            key=float,
        )
        msg = (
            f"Depots for the {period!r}-year flood need its flooded share per community "
            f"(`{col or 'flood_affected_rp<T>'}`), and the risk result has "
            + (f"the return periods {', '.join(have)} (years)" if have else "no flood figures")
            + ". Fix: score the communities with natural hazards that include this return period "
            "(`[natural_hazards.flood_depth]`), or choose one of those it has."
        )
        raise InputError(msg)
    share = units[col].astype(float)
    share.index = share.index.astype(str)
    return pd.Series(
        share.reindex(communities.index.astype(str)).fillna(0.0).to_numpy(), index=communities.index
    )


def stock_needs(people: float, days: float, *, planning_norms: TableOverrides = None) -> pd.DataFrame:
    """Stock needed for ``people`` displaced for ``days`` days, one row per item of the norms.

    Examples
    --------
    >>> stock_needs(150, 7).loc[["rice_kg", "drinking_water_l", "family_kits", "toilets"], "need"].tolist()
    [420.0, 2625.0, 30.0, 8.0]
    """
    rows = []
    for item, spec in load_norms(planning_norms)["items"].items():
        if "per_person_per_week" in spec:
            need = people * float(spec["per_person_per_week"]) / 7.0 * days
            basis = f"{spec['per_person_per_week']} per person per week x {days} days"
        else:
            need = math.ceil(people / float(spec["people_per_item"]) - 1e-9) if people > 0 else 0.0
            basis = f"one per {spec['people_per_item']:g} people"
        rows.append(
            {
                "item": item,
                "need": float(need),
                "basis": basis,
                "stock_column": spec.get("stock_column", ""),
                "source": spec.get("source", ""),
            }
        )
    return pd.DataFrame(rows).set_index("item")


def depot_table(depots: gpd.GeoDataFrame, stock: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per depot: ``columns`` (those present) and its stock ``shortfall`` / ``overstock`` as text.

    ``stock`` is a :func:`stock_table` (``depot``, ``item``, ``stock``, ``shortfall``,
    ``overstock``); each text lists the items above 0, for example ``"tents 120, water 3,400"``.
    Used by :meth:`DepotPlan.table` and the tiered network's table.
    """
    t = pd.DataFrame(depots.drop(columns=depots.geometry.name))
    t = t[[c for c in columns if c in t]].copy()
    stocked = stock[stock["stock"].notna()]

    def fmt(col: str) -> list[str]:
        pos = stocked[stocked[col] > 0]
        by = dict(list(pos.groupby("depot")))
        return [
            ", ".join(f"{i} {v:,.0f}" for i, v in zip(by[d]["item"], by[d][col], strict=True))
            if d in by
            else ""
            for d in t.index
        ]

    t["shortfall"] = fmt("shortfall")
    t["overstock"] = fmt("overstock")
    return t


@dataclass(frozen=True, eq=False)
class DepotPlan:
    """A relief-depot plan.

    Attributes
    ----------
    days
        Days of supplies sized.
    distance
        ``network`` or ``euclidean``.
    communities
        Per community: ``population``, ``risk_level``, ``relocation_rate``, ``relocate_people``,
        ``depot`` (None when unmet), ``travel_h``, ``delivery_limit_h``, ``unmet_people``,
        ``unmet_reason`` (``capacity``, ``time`` or ``""``); planned for a flood, also
        ``flood_displaced`` and ``relocate_basis``.
    depots
        Per depot: ``tier``, ``capacity_people``, ``tier_norm`` (below / within / above the
        tier's capacity norm), ``people_assigned``, ``communities``, ``max_travel_h``,
        ``delivery_limit_h``, ``utilisation``.
    stock
        One row per depot and item: ``need``, ``stock``, ``shortfall``, ``overstock``, ``basis``.
    new_depots
        Suggested new depot sites (candidate sites) when demand is unmet; may be empty.
    status
        Solver status of the assignment.
    notes
        Assumptions and figures to check.
    """

    days: int
    distance: Distance
    communities: gpd.GeoDataFrame
    depots: gpd.GeoDataFrame
    stock: pd.DataFrame
    new_depots: gpd.GeoDataFrame
    status: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def served(self) -> pd.Series:
        """Community id -> depot id of every served community (drawn by the maps: ``depot_plan=``)."""
        s = self.communities["depot"].dropna()
        return s.rename("depot")

    @property
    def unmet_people(self) -> float:
        """People to relocate whom no depot serves."""
        return float(self.communities["unmet_people"].sum())

    def table(self) -> pd.DataFrame:
        """One row per depot for the report: load, delivery and the stock shortfall / over-stock."""
        keep = ("name", "tier", "capacity_people", "people_assigned", "communities", "max_travel_h")
        return depot_table(self.depots, self.stock, (*keep, "delivery_limit_h"))

    def report(self) -> str:
        """A few lines: people to relocate, served, unmet by reason, shortfalls."""
        c = self.communities
        total = float(c["relocate_people"].sum())
        lines = [
            say(
                "plan_depot_head", distance=distance_word(self.distance), days=self.days,
                total=f"{total:,.0f}", served=f"{total - self.unmet_people:,.0f}", depots=len(self.depots),
                status=self.status,
            )
        ]  # fmt: skip
        if "relocate_basis" in c:
            flood = c[c["relocate_basis"] != "risk level"]
            if len(flood):
                years = str(flood["relocate_basis"].iloc[0]).removeprefix("flood ").removesuffix("-year")
                displaced = f"{flood['flood_displaced'].sum():,.0f}"
                lines.append(say("plan_depot_flood", years=years, count=len(flood), displaced=displaced))
        lines += unmet_lines(c)
        lines += depot_lines(self.table())
        lines += [
            say("plan_depot_suggested", depot=i, reason=r["reason"]) for i, r in self.new_depots.iterrows()
        ]
        return "\n".join(lines)

    def write(self, path: str | Path) -> Path:
        """Write the layers and the ``stock`` table to one GeoPackage, atomically."""
        layers = {"communities": self.communities, "depots": self.depots, "new_depots": self.new_depots}
        return write_gpkg(path, layers, {"stock": self.stock.reset_index(drop=True)})


def _depot_specs(depots: gpd.GeoDataFrame, tiers: dict[str, Any], notes: list[str]) -> pd.DataFrame:
    unknown = ~depots["tier"].isin(list(tiers))
    if unknown.any():
        names = sorted(k for k in tiers if isinstance(tiers[k], dict))
        msg = (
            f"Layer `depots`: tier {sorted(set(depots.loc[unknown, 'tier'].astype(str)))} of depots "
            f"{depots.index[unknown].tolist()[:10]} is unknown. Fix: use one of {names}."
        )
        raise InputError(msg)
    spec = pd.DataFrame({"tier": depots["tier"]})
    lo = spec["tier"].map(lambda t: float(tiers[t]["capacity_min_people"]))
    hi = spec["tier"].map(lambda t: float(tiers[t]["capacity_max_people"]))
    cap = pd.to_numeric(depots.get("capacity_people", pd.Series(np.nan, index=depots.index)), errors="coerce")
    if cap.isna().any():
        notes.append(say("plan_depot_no_capacity", depots=cap.index[cap.isna()].tolist()))
    spec["capacity_people"] = cap.fillna(lo)
    spec["tier_norm"] = np.where(
        spec["capacity_people"] < lo, "below", np.where(spec["capacity_people"] > hi, "above", "within")
    )
    spec["delivery_limit_h"] = spec["tier"].map(lambda t: float(tiers[t]["delivery_h"]))
    return spec


def plan_depots(
    scenario: Scenario,
    graph: GraphLike | None,
    *,
    risk: RiskResult | pd.Series | None = None,
    days: int = 7,
    distance: Distance = "network",
    n_new: int | None = None,
    time_limit_s: float | None = None,
    flood_return_period: float | None = None,
    planning_norms: TableOverrides = None,
    flood_depth: str | Path | None = None,
) -> DepotPlan:
    """Assign communities to relief depots, size their stock for ``days`` days, report what is unmet.

    Parameters
    ----------
    scenario
        Loaded scenario with ``communities`` and ``depots`` (``tier``, ``capacity_people``,
        ``stock_*``); ``candidate_sites`` for new depot suggestions.
    graph
        Its road graph; may be None with ``distance="euclidean"``.
    risk
        Risk result on communities, or a Series of levels by community id (levels set the
        relocation rate); None = one default rate.
    days
        Days of supplies to stock.
    distance
        ``network`` (road travel, depot -> community) or ``euclidean`` (straight line at
        ``euclidean.speed_kph``).
    n_new
        New depots to suggest on candidate sites when demand is unmet: None (the default) as
        many as the unmet people need at the capacity of ``depots.new_tier``, 0 none, or that
        many (at most one per candidate site).
    time_limit_s
        Solver time limit (default ``depots.time_limit_s``).
    flood_return_period
        Also relocate the residents the flood of this return period displaces
        (:func:`relocation_demand`); ``risk`` must then carry natural-hazard figures.
    planning_norms
        Overrides of ``planning/data/planning_norms.toml``.
    flood_depth
        That flood's depth raster: delivery times on the roads it leaves open, the communities it
        cuts off unmet (``cut_off``; :func:`planning.flood_roads.depot_hours`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from gis import load_scenario, write_demo_scenario
    >>> path = write_demo_scenario(pathlib.Path(tempfile.mkdtemp()) / "demo.gpkg", n_road_nodes=2000)
    >>> plan = plan_depots(load_scenario(path), None, distance="euclidean")
    >>> sorted(plan.depots.index.tolist()), plan.days
    (['D1', 'D2', 'D3'], 7)
    """
    if not (isinstance(days, int | np.integer) and days > 0):
        msg = f"`days` is {days!r}. Fix: give a whole number of days, 1 or more."
        raise InputError(msg)
    if n_new is not None and (
        isinstance(n_new, bool) or not isinstance(n_new, int | np.integer) or n_new < 0
    ):
        msg = f"`n_new` is {n_new!r}. Fix: give a whole number of new depots, 0 or more, or None."
        raise InputError(msg)
    cfg = load_norms(planning_norms)
    limit_s = float(cfg["depots"]["time_limit_s"] if time_limit_s is None else time_limit_s)
    notes = [norm_source(k, cfg[k]["source"]) for k in ("relocation", "depot_tiers")]
    com = scenario["communities"]
    depots = scenario.layers.get("depots")
    if depots is None or len(depots) == 0:
        msg = (
            "The scenario has no `depots` layer (or it is empty). "
            "Fix: add relief depots with `tier` and `capacity_people`."
        )
        raise InputError(msg)
    demand = relocation_demand(com, risk=risk, flood_return_period=flood_return_period, planning_norms=cfg)
    if flood_return_period is not None:
        notes.append(norm_source("relocation_flood", cfg["relocation_flood"]["source"]))
    spec = _depot_specs(depots, cfg["depot_tiers"], notes)
    hours, flood = depot_hours(graph, depots, com, distance=distance, cfg=cfg, flood=flood_depth, notes=notes)
    people = demand["relocate_people"].to_numpy(np.float64)
    col, status = assign_capacitated(
        hours,
        people,
        spec["capacity_people"].to_numpy(np.float64),
        spec["delivery_limit_h"].to_numpy(np.float64),
        time_limit_s=limit_s,
    )
    ids = np.asarray(depots.index, dtype=object)
    limit = spec["delivery_limit_h"].to_numpy(np.float64)
    in_time = (hours <= limit[None, :]).any(axis=1)
    served = col >= 0
    out = gpd.GeoDataFrame(demand, geometry=com.geometry, crs=com.crs)
    if "name" in com:
        out.insert(0, "name", com["name"])
    depot_of = ids[np.maximum(col, 0)].copy()
    depot_of[~served] = None
    out["depot"] = depot_of
    out["travel_h"] = np.where(served, hours[np.arange(len(col)), np.maximum(col, 0)], np.nan)
    out["delivery_limit_h"] = np.where(served, limit[np.maximum(col, 0)], np.nan)
    out["nearest_depot_h"] = hours.min(axis=1)
    out["unmet_people"] = np.where(served, 0.0, people)
    out["unmet_reason"] = np.where(served | (people <= 0), "", np.where(in_time, "capacity", "time"))
    mark_cut_off(out, flood)

    dep = gpd.GeoDataFrame(spec, geometry=depots.geometry, crs=depots.crs)
    if "name" in depots:
        dep.insert(0, "name", depots["name"])
    load = out.groupby("depot")["relocate_people"].agg(["sum", "size"])
    dep["people_assigned"] = load["sum"].reindex(dep.index).fillna(0.0)
    dep["communities"] = load["size"].reindex(dep.index).fillna(0).astype(int)
    dep["max_travel_h"] = out.groupby("depot")["travel_h"].max().reindex(dep.index)
    dep["utilisation"] = dep["people_assigned"] / dep["capacity_people"]

    stock = stock_table(depots, dep["people_assigned"], days, cfg)

    new = (
        _suggest(scenario, graph, out, n_new=n_new, cfg=cfg, distance=distance, limit_s=limit_s, notes=notes)
        if n_new != 0
        else None
    )
    if new is None:
        new = gpd.GeoDataFrame(
            {"name": [], "tier": [], "capacity_people": [], "people_served": [], "reason": []},
            geometry=[],
            crs=com.crs,
        )
    plan = DepotPlan(days, distance, out, dep, stock, new, status, tuple(notes))
    log.info("%s", plan.report())
    return plan


def stock_table(
    depots: gpd.GeoDataFrame, people: pd.Series, days: float, cfg: Mapping[str, Any]
) -> pd.DataFrame:
    """Each depot's need of every item for ``people`` (by depot) over ``days``, against its stock.

    One row per depot and item: ``need``, ``stock`` (the depot's ``stock_column``, NaN where the
    layer has none), ``shortfall``, ``overstock``, ``basis`` and ``source`` of the norm.
    """
    rows = []
    for d in people.index:
        need = stock_needs(float(people.loc[d]), days, planning_norms=cfg)
        for item, r in need.iterrows():
            column = r["stock_column"]
            have = (
                float(depots.loc[d, column])
                if column and column in depots and pd.notna(depots.loc[d, column])
                else np.nan
            )
            rows.append(
                {
                    "depot": d,
                    "item": item,
                    "need": r["need"],
                    "stock": have,
                    "shortfall": max(r["need"] - have, 0.0) if np.isfinite(have) else np.nan,
                    "overstock": max(have - r["need"], 0.0) if np.isfinite(have) else np.nan,
                    "basis": r["basis"],
                    "source": r["source"],
                }
            )
    return pd.DataFrame(rows)


def _suggest(
    scenario: Scenario,
    graph: GraphLike | None,
    com: gpd.GeoDataFrame,
    *,
    n_new: int | None,
    cfg: dict[str, Any],
    distance: Distance,
    limit_s: float,
    notes: list[str],
    hours: npt.NDArray[np.float64] | None = None,
    mip_gap: float = 1e-4,
) -> gpd.GeoDataFrame | None:
    """New depots on candidate sites for the unmet communities (p-median on people x hours).

    The p-median stops once proven within ``mip_gap`` of its optimum. ``hours`` is the unmet
    communities x candidate sites matrix when already computed (the depot network computes it
    from the side needing fewer searches).
    """
    unmet = com[com["unmet_people"] > 0]
    if len(unmet) == 0:
        return None
    if "candidate_sites" not in scenario or len(scenario["candidate_sites"]) == 0:
        notes.append(say("plan_depot_no_candidates"))
        return None
    cand = scenario["candidate_sites"]
    tier = str(cfg["depots"]["new_tier"])
    t = cfg["depot_tiers"][tier]
    cap = float(t["capacity_max_people"])
    wanted = math.ceil(unmet["unmet_people"].sum() / cap) if n_new is None else int(n_new)
    count = min(wanted, len(cand))
    if n_new is not None and count < wanted:
        notes.append(say("plan_depot_few_candidates", wanted=wanted, sites=len(cand), count=count))
    if hours is None:
        hours = cost_matrix(graph, cand, unmet, distance=distance, planning_norms=cfg) / 3600.0
    hours = np.where(hours <= float(t["delivery_h"]), hours, np.inf)
    ok = np.isfinite(hours).any(axis=1)
    if not ok.any():
        notes.append(say("plan_depot_none_in_time"))
        return None
    w = unmet["unmet_people"].to_numpy(np.float64)[ok]
    res = p_median(hours[ok], w, count, time_limit_s=limit_s, mip_gap=mip_gap)
    chosen = np.asarray(res.selected, dtype=np.intp)
    serve = chosen[np.argmin(hours[ok][:, chosen], axis=1)]
    rows = []
    for c in chosen:
        people = float(w[serve == c].sum())
        rows.append(
            {
                "id": cand.index[c],
                "name": cand["name"].iloc[c] if "name" in cand else str(cand.index[c]),
                "tier": tier,
                "capacity_people": cap,
                "people_served": people,
                "reason": say(
                    "plan_depot_reason",
                    tier=tier_word(tier),
                    count=int((serve == c).sum()),
                    people=f"{people:,.0f}",
                ),
                "geometry": cand.geometry.iloc[c],
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=cand.crs).set_index("id")
