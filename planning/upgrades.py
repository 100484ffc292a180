"""Upgrade priority under a budget, from the community safety survey (issue 16).

A survey scores every community item by item (``risk_models.community_safety``: the ``items``
frame, one row per community, survey and item, with the points earned, the maximum and
``failed``). This module turns the failed items into priced measures and chooses which to fund:

- :func:`load_upgrade_measures`: the measure-cost table ``planning/data/upgrade_measures.toml``
  (per item one or more measures, each with its cost basis, the share of lost points it gives
  back and a source note), overridable by a city's own TOML;
- :func:`upgrade_candidates`: one row per (community, measure) for the failed items of each
  community's latest survey, with its cost, the score points it restores and the risk it
  removes; the measures of one item in one community form a *group* of alternatives;
- :func:`plan_upgrades`: the measures that remove the most risk within a budget, a
  multiple-choice knapsack solved with HiGHS (proven bound and gap, like the location models of
  :mod:`planning.location`) on the core left by LP-based fixing, beside a greedy ratio
  heuristic (:func:`greedy_upgrades`);
- :func:`scores_after_upgrades`: each community's score once the chosen measures are done, and
  what it still fails; :func:`choose_demonstration` (:mod:`planning.demonstration`) picks the
  demonstration communities from it.

Risk removed
------------
The survey score feeds the vulnerability factor of the risk model. A measure restoring ``s``
score points (the item's lost points x ``restores``, on the 0-100 score scale) removes

    risk_reduction = residents x vulnerability_weight x s / 100 x risk_level

where ``vulnerability_weight`` (``[risk]`` of the table, 0.3 shipped: the factor's range 1.5 x
the survey's share 0.2 of the vulnerability index) is the fall of the vulnerability factor per
100 points, and ``risk_level`` the community's hazard x exposure (x
response) level when given (for example the product of the factors of
:func:`risk_models.score_scenario` other than vulnerability), else 1. The objective of the plan
is then the expected fall of the population-weighted risk.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from gis.errors import InputError
from gis.tables import TableOverrides

from ._demonstration import COMMUNITY_TYPES, QUOTA_COLUMNS, Demonstration, Quotas, choose_demonstration
from ._knapsack import fill_upgrades, fix_by_reduced_profit, greedy_upgrades, knapsack_model, lp_relaxation
from ._upgrade_measures import MEASURE_COLUMNS, UpgradeMeasures, load_upgrade_measures
from ._upgrade_tables import community_table, latest_items
from .location._milp import solve_milp
from .location._result import Status, relative_gap

__all__ = [
    "CANDIDATE_COLUMNS",
    "COMMUNITY_TYPES",
    "MEASURE_COLUMNS",
    "QUOTA_COLUMNS",
    "Demonstration",
    "Quotas",
    "UpgradeMeasures",
    "UpgradePlan",
    "choose_demonstration",
    "greedy_upgrades",
    "load_upgrade_measures",
    "plan_upgrades",
    "scores_after_upgrades",
    "upgrade_candidates",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

#: Columns of :func:`upgrade_candidates`' frame.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "community_id",
    "survey_date",
    "section",
    "item",
    "measure",
    "title",
    "group",
    "households",
    "units",
    "unit",
    "cost_cny",
    "points_restored",
    "score_points",
    "residents",
    "risk_level",
    "risk_reduction",
    "source",
)
_TOL = 1e-9


def upgrade_candidates(
    items: pd.DataFrame,
    communities: pd.DataFrame,
    upgrade_measures: UpgradeMeasures | TableOverrides = None,
    *,
    risk_level: pd.Series | None = None,
) -> pd.DataFrame:
    """Priced measures for the failed items of each community's latest survey.

    Parameters
    ----------
    items
        The survey's item breakdown, long: ``community_id``, ``survey_date``, ``section``,
        ``item``, ``points`` (earned), ``max_points``, ``failed``; ``value`` and ``rule`` are
        kept when present. Only the latest survey of each community is used.
    communities
        The communities layer, indexed by id (or with an ``id`` / ``community_id`` column):
        ``population`` (residents), ``households`` (else population / ``household_size`` of
        the table), and the unit columns the measures name (``elevator_cars``, ``buildings``,
        ...; else units are estimated from households).
    upgrade_measures
        A loaded :class:`UpgradeMeasures`, or overrides of ``planning/data/upgrade_measures.toml``
        (a mapping or a city's TOML path).
    risk_level
        Per community id: its hazard x exposure level (see the module docstring); 1 when
        absent. Must be finite and >= 0.

    Returns
    -------
    pandas.DataFrame
        One row per (community, measure), columns :data:`CANDIDATE_COLUMNS`: ``group`` numbers
        the (community, item) pairs whose measures are alternatives; ``points_restored`` is in
        item points, ``score_points`` on the 0-100 score scale. ``attrs["unpriced_items"]``
        lists failed items that no measure puts right (they stay failed in every plan).

    Raises
    ------
    InputError
        Missing columns, failed items of communities absent from the layer, bad residents,
        households or levels; the message names the rows and the fix.

    Examples
    --------
    >>> items = pd.DataFrame({
    ...     "community_id": ["C1", "C1", "C2"], "survey_date": "2025-03-01",
    ...     "section": ["fire_lanes_exits", "gas", "gas"],
    ...     "item": ["fire_lane_blocked", "gas_alarm_valve", "gas_alarm_valve"],
    ...     "points": [0.0, 2.0, 6.0], "max_points": [8.0, 6.0, 6.0],
    ...     "failed": [True, True, False]})
    >>> comms = pd.DataFrame({"population": [3000.0, 500.0], "households": [1000, 180]},
    ...                      index=pd.Index(["C1", "C2"], name="id"))
    >>> cand = upgrade_candidates(items, comms)
    >>> print(cand[["community_id", "measure", "cost_cny", "score_points"]].to_string(index=False))
    community_id            measure  cost_cny  score_points
              C1 fire_lane_clearing   25000.0     57.142857
              C1    gas_alarm_valve  450000.0     28.571429
    """
    table = load_upgrade_measures(upgrade_measures)
    failed, total_max = latest_items(items)
    comm = community_table(communities, table.household_size, risk_level)
    ids = failed["community_id"].unique()
    missing = [c for c in ids if c not in comm.index]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        msg = (
            f"`items` has failed items of communities [{shown}] that are not in `communities`. "
            "Fix: survey only communities of the layer, or add them with their population."
        )
        raise InputError(msg)
    measures = table.table.reset_index()
    unpriced = sorted(set(failed["item"]) - set(measures["item"]))
    if unpriced:
        log.warning("failed items without a measure (they stay failed): %s", unpriced)
    groups = failed[["community_id", "item"]].drop_duplicates().reset_index(drop=True)
    groups["group"] = np.arange(len(groups), dtype=np.int64)
    failed = failed.merge(groups, on=["community_id", "item"])
    cand = failed.merge(measures, on="item", how="inner", sort=False)
    cand = cand.sort_values(["group", "measure"], kind="stable").reset_index(drop=True)
    c = comm.reindex(cand["community_id"].to_numpy())
    households = c["households"].to_numpy(dtype=np.float64)
    units = _units(cand, c, households)
    cost = (
        cand["fixed_cny"].to_numpy(dtype=np.float64)
        + cand["per_household_cny"].to_numpy(dtype=np.float64) * households
        + cand["per_unit_cny"].to_numpy(dtype=np.float64) * units
    )
    lost = cand["lost"].to_numpy(dtype=np.float64)
    restored = lost * cand["restores"].to_numpy(dtype=np.float64)
    scale = 100.0 / total_max.reindex(cand["community_id"].to_numpy()).to_numpy(dtype=np.float64)
    score_points = restored * scale
    residents = c["population"].to_numpy(dtype=np.float64)
    level = c["risk_level"].to_numpy(dtype=np.float64)
    out = pd.DataFrame(
        {
            "community_id": cand["community_id"].to_numpy(),
            "survey_date": cand["survey_date"].to_numpy(),
            "section": cand["section"].to_numpy(),
            "item": cand["item"].to_numpy(),
            "measure": cand["measure"].to_numpy(),
            "title": cand["title"].to_numpy(),
            "group": cand["group"].to_numpy(dtype=np.int64),
            "households": households,
            "units": units,
            "unit": cand["unit"].to_numpy(),
            "cost_cny": cost,
            "points_restored": restored,
            "score_points": score_points,
            "residents": residents,
            "risk_level": level,
            "risk_reduction": residents * table.vulnerability_weight * score_points / 100.0 * level,
            "source": cand["source"].to_numpy(),
        }
    )
    out.index.name = "candidate"
    out.attrs["unpriced_items"] = unpriced
    return out


def _units(cand: pd.DataFrame, comm: pd.DataFrame, households: FloatArray) -> FloatArray:
    """Units per candidate: the community's ``unit_column`` when it has one, else from households."""
    per = cand["households_per_unit"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        units = np.maximum(np.ceil(np.maximum(households, 1.0) / per), 1.0)  # NaN without households_per_unit
    for column in cand["unit_column"].unique():
        if not column or column not in comm.columns:
            continue
        rows = (cand["unit_column"] == column).to_numpy()
        given = pd.to_numeric(comm[column], errors="coerce").to_numpy(dtype=np.float64)[rows]
        bad = given < 0
        if bad.any():
            where = sorted(set(cand.loc[rows, "community_id"][bad].astype(str)))[:10]
            msg = f"`communities.{column}` is negative for communities {where}. Fix: give counts >= 0."
            raise InputError(msg)
        units[rows] = np.where(np.isfinite(given), given, units[rows])
    priced = cand["per_unit_cny"].to_numpy(dtype=np.float64) > 0
    unknown = priced & ~np.isfinite(units)
    if unknown.any():
        pairs = cand.loc[unknown, ["community_id", "measure", "unit_column"]].drop_duplicates("measure")
        shown = [
            f"{m} (`communities.{c}`, e.g. {cid})" for cid, m, c in pairs.head(5).itertuples(index=False)
        ]
        msg = (
            f"Units cannot be counted for the measures {shown}: the communities layer has no count and the "
            "measure no `households_per_unit`. Fix: fill the column, or give `households_per_unit` in the "
            "measure table."
        )
        raise InputError(msg)
    return np.where(np.isfinite(units), units, 0.0)


# --------------------------------------------------------------------------------- the plan


@dataclass(frozen=True, eq=False)
class UpgradePlan:
    """The measures chosen within a budget, with the proven bound and the greedy beside them.

    Attributes
    ----------
    chosen
        The chosen rows of the candidates frame (its index and columns), by group.
    objective
        Total risk reduction of :attr:`chosen`.
    bound
        A proven upper bound on the best total risk reduction within the budget.
    gap
        ``(bound - objective) / objective``; 0 when proven optimal.
    lp_bound
        The LP relaxation's optimum (an upper bound; :attr:`bound` is never above it).
    status
        ``"optimal"`` (gap within ``mip_gap``), ``"time_limit"`` (HiGHS stopped at the limit:
        the best plan found, with its gap), ``"heuristic"`` (HiGHS gave no plan and no bound:
        the best of the greedy and the LP rounding, with the gap to the LP bound).
    budget_cny, budget_used_cny
        The budget and what :attr:`chosen` costs.
    greedy_objective, greedy_budget_used_cny, greedy_time_s
        The greedy ratio heuristic's plan, side by side (:func:`greedy_upgrades`).
    milp_time_s, wall_time_s
        HiGHS's time and the whole call's.
    solver
        What produced :attr:`chosen`: ``"highs (highspy)"`` (the MILP on the core), or
        ``"greedy"`` / ``"lp rounding"`` when HiGHS found nothing better (``", core by ..."``).
    notes
        Human-readable notes: dropped candidates, limits reached.
    """

    chosen: pd.DataFrame
    objective: float
    bound: float
    lp_bound: float
    status: Status
    budget_cny: float
    budget_used_cny: float
    greedy_objective: float
    greedy_budget_used_cny: float
    greedy_time_s: float
    milp_time_s: float
    wall_time_s: float
    solver: str
    notes: tuple[str, ...] = ()
    gap: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chosen", self.chosen.copy())
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "gap", relative_gap(self.objective, self.bound))

    @property
    def by_community(self) -> pd.DataFrame:
        """Per community: measures chosen, cost, score points restored and risk removed."""
        g = self.chosen.groupby("community_id", sort=True)
        return pd.DataFrame(
            {
                "measures": g["measure"].agg(", ".join),
                "cost_cny": g["cost_cny"].sum(),
                "score_points": g["score_points"].sum(),
                "risk_reduction": g["risk_reduction"].sum(),
            }
        )

    def summary(self) -> str:
        """One line: status, measures, objective, bound, gap, budget use, greedy, times."""
        return (
            f"upgrades: {self.status}, {len(self.chosen)} measures in "
            f"{self.chosen['community_id'].nunique() if len(self.chosen) else 0} communities, "
            f"risk reduction {self.objective:.6g}, bound {self.bound:.6g}, gap {self.gap:.3%}, "
            f"budget {self.budget_used_cny:,.0f} of {self.budget_cny:,.0f} CNY; greedy "
            f"{self.greedy_objective:.6g} ({self.greedy_time_s:.2f} s); "
            f"{self.wall_time_s:.2f} s ({self.solver})"
        )

    def __repr__(self) -> str:
        return f"UpgradePlan({self.summary()})"


def _arrays(candidates: pd.DataFrame) -> tuple[FloatArray, FloatArray, IntArray]:
    need = ["cost_cny", "risk_reduction", "group"]
    missing = [c for c in need if c not in candidates.columns]
    if missing:
        msg = f"`candidates` lacks the columns {missing}. Fix: build them with `upgrade_candidates`."
        raise InputError(msg)
    cost = candidates["cost_cny"].to_numpy(dtype=np.float64)
    value = candidates["risk_reduction"].to_numpy(dtype=np.float64)
    for name, arr in (("cost_cny", cost), ("risk_reduction", value)):
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            rows = candidates.index[bad][:10].tolist()
            msg = f"`candidates.{name}` is negative or not finite in rows {rows}. Fix: give numbers >= 0."
            raise InputError(msg)
    _, group = np.unique(candidates["group"].to_numpy(), return_inverse=True)
    return cost, value, group.astype(np.intp).ravel()


def plan_upgrades(
    candidates: pd.DataFrame,
    budget_cny: float,
    *,
    time_limit_s: float = 30.0,
    mip_gap: float = 0.005,
) -> UpgradePlan:
    """Choose the measures that remove the most risk within ``budget_cny``.

    A multiple-choice knapsack: maximise the total ``risk_reduction`` of the chosen candidates
    such that their ``cost_cny`` stays within the budget and at most one measure of each
    ``group`` is taken. The steps, all within ``time_limit_s``:

    1. the greedy ratio heuristic (:func:`greedy_upgrades`), reported side by side;
    2. the LP relaxation, solved exactly by the convex-hull method: its bound (``lp_bound``)
       and its plan rounded down and filled up; the better of the two plans is the incumbent;
    3. reduced-profit fixing at the LP's budget price: candidates that cannot be in a plan
       better than the incumbent are set aside, those that must be are fixed in;
    4. HiGHS solves the MILP on the core that is left, warm-started from the incumbent; its
       proven bound on the core plus the fixed candidates is the plan's bound.

    When HiGHS stops at the limit (or finds nothing better), the incumbent is kept with its gap.

    Parameters
    ----------
    candidates
        The frame of :func:`upgrade_candidates` (at least ``cost_cny``, ``risk_reduction``,
        ``group``).
    budget_cny
        Money available, CNY (>= 0).
    time_limit_s
        Wall-time limit of HiGHS.
    mip_gap
        Relative gap at which HiGHS stops (0.005 = 0.5 %).

    Returns
    -------
    UpgradePlan
        Chosen measures, objective, proven bound, gap, status, budget used, and the greedy
        plan's objective and time side by side.

    Examples
    --------
    >>> cand = pd.DataFrame({"community_id": ["C1", "C1", "C2"], "measure": ["a", "b", "c"],
    ...                      "cost_cny": [4.0, 2.0, 3.0], "risk_reduction": [9.0, 5.0, 6.0],
    ...                      "score_points": [5.0, 3.0, 4.0], "group": [0, 0, 1]})
    >>> plan = plan_upgrades(cand, 6.0)
    >>> plan.chosen["measure"].tolist(), plan.objective, plan.status, plan.budget_used_cny
    (['b', 'c'], 11.0, 'optimal', 5.0)
    """
    t0 = time.perf_counter()
    if not (isinstance(budget_cny, numbers.Real) and math.isfinite(budget_cny) and budget_cny >= 0):
        msg = f"`budget_cny` is {budget_cny!r}. Fix: give the money available in CNY, a number >= 0."
        raise InputError(msg)
    if not (time_limit_s > 0 and 0 <= mip_gap < 1):
        msg = f"`time_limit_s` = {time_limit_s}, `mip_gap` = {mip_gap}. Fix: a time > 0 and a gap in [0, 1)."
        raise InputError(msg)
    budget = float(budget_cny)
    cost, value, group = _arrays(candidates)
    notes: list[str] = []
    t_greedy = time.perf_counter()
    greedy = greedy_upgrades(cost, value, group, budget)
    greedy_time = time.perf_counter() - t_greedy
    g_obj = float(value[greedy].sum())
    # only what fits and is worth something can improve a plan
    keep = np.flatnonzero((cost <= budget * (1 + _TOL) + _TOL) & (value > 0))
    if len(keep) < len(cost):
        notes.append(f"{len(cost) - len(keep)} candidates over the budget or worth nothing left out")
    kc, kv = cost[keep], value[keep]
    kg = np.unique(group[keep], return_inverse=True)[1].astype(np.intp).ravel()
    lp = lp_relaxation(kc, kv, kg, budget)
    rounded = fill_upgrades(lp.rounded, kc, kv, kg, budget)
    best, solver = (greedy[keep], "greedy") if g_obj >= float(kv[rounded].sum()) else (rounded, "lp rounding")
    objective = float(kv[best].sum())
    fix = fix_by_reduced_profit(kc, kv, kg, lam=lp.lam, bound=lp.bound, incumbent=objective)
    free, ones = fix.free, fix.one
    bound, milp_time = lp.bound, 0.0
    status: Status = "heuristic"
    if free.any():
        sub = np.flatnonzero(free)
        sg = np.unique(kg[sub], return_inverse=True)[1].astype(np.intp).ravel()
        core_budget = budget - float(kc[ones].sum())
        start = best[sub].astype(np.float64) if not (best & fix.zero).any() and best[ones].all() else None
        t_milp = time.perf_counter()
        left = max(time_limit_s - (t_milp - t0), 0.05)
        out = solve_milp(
            knapsack_model(kc[sub], kv[sub], sg, core_budget),
            maximize=True,
            time_limit_s=left,
            mip_gap=mip_gap,
            start=start,
        )
        milp_time = time.perf_counter() - t_milp
        notes.append(
            f"LP relaxation bound {lp.bound:.6g}; reduced-profit fixing left {len(sub)} of {len(keep)} "
            f"candidates to HiGHS ({int(ones.sum())} fixed in)"
        )
        if out.x is not None:
            x = ones.copy()
            x[sub] = out.x > 0.5
            if float(kc[x].sum()) <= budget * (1 + 1e-9) + 1e-6 and len(np.unique(kg[x])) == x.sum():
                # HiGHS can hand back a column presolve fixed at its start value: add what still fits
                x = fill_upgrades(x, kc, kv, kg, budget)
                if float(kv[x].sum()) > objective:
                    best, objective, solver = x, float(kv[x].sum()), out.solver
            else:
                notes.append("HiGHS returned a plan over the budget or the groups: it is not used")
        if math.isfinite(out.bound):
            bound = min(bound, max(objective, float(kv[ones].sum()) + float(out.bound)))
        if out.status == "time_limit":
            notes.append(f"HiGHS stopped at its time limit ({left:.3g} s left): best plan found and its gap")
            status = "time_limit"
        elif out.status not in ("optimal", "infeasible"):
            notes.append(f"HiGHS ended with {out.message or out.status}")
        if out.status == "infeasible":  # no plan within the fixing beats the incumbent
            bound = min(bound, objective)
        solver = f"{solver}, core by {out.solver}" if solver in ("greedy", "lp rounding") else out.solver
    elif len(keep):
        # every better plan holds exactly the candidates fixed in
        if ones.any() and float(kc[ones].sum()) <= budget * (1 + 1e-9) and float(kv[ones].sum()) > objective:
            best, objective, solver = ones, float(kv[ones].sum()), "lp fixing"
        bound = min(bound, objective)
    bound = max(bound, objective)
    if relative_gap(objective, bound) <= mip_gap + 1e-9:
        status = "optimal"
    take = np.zeros(len(cost), dtype=bool)
    take[keep[best]] = True
    chosen = candidates.iloc[np.flatnonzero(take)]
    return UpgradePlan(
        chosen=chosen,
        objective=objective,
        bound=bound,
        lp_bound=max(lp.bound, objective),
        status=status,
        budget_cny=budget,
        budget_used_cny=float(cost[take].sum()),
        greedy_objective=g_obj,
        greedy_budget_used_cny=float(cost[greedy].sum()),
        greedy_time_s=greedy_time,
        milp_time_s=milp_time,
        wall_time_s=time.perf_counter() - t0,
        solver=solver,
        notes=tuple(notes),
    )


def scores_after_upgrades(
    scores: pd.DataFrame,
    items: pd.DataFrame,
    plan: UpgradePlan | pd.DataFrame,
    *,
    pass_mark: float,
) -> pd.DataFrame:
    """Each community's score once the planned measures are done, and what it still fails.

    Parameters
    ----------
    scores
        The survey's scores: ``community_id``, ``survey_date``, ``score`` (0-100); the latest
        survey of each community is used.
    items
        The survey's item breakdown (as for :func:`upgrade_candidates`).
    plan
        An :class:`UpgradePlan`, or its ``chosen`` frame (``community_id``, ``item``,
        ``measure``, ``score_points``).
    pass_mark
        The scoring standard's pass mark (0-100).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``community_id``: ``survey_date``, ``score``, ``points_restored``,
        ``upgrade_cost_cny``, ``score_after`` (capped at 100), ``passed_after``,
        ``points_to_pass`` (0 when passing) and ``still_failed``: the items still short after
        the plan, largest loss first, as ``item (score points)``.

    Examples
    --------
    >>> items = pd.DataFrame({"community_id": ["C1", "C1"], "survey_date": "2025-03-01",
    ...     "section": ["fire_lanes_exits", "emergency_readiness"],
    ...     "item": ["fire_lane_blocked", "drills_this_year"], "points": [0.0, 0.0],
    ...     "max_points": [60.0, 40.0], "failed": [True, True]})
    >>> scores = pd.DataFrame({"community_id": ["C1"], "survey_date": ["2025-03-01"], "score": [0.0]})
    >>> chosen = pd.DataFrame({"community_id": ["C1"], "item": ["fire_lane_blocked"],
    ...     "measure": ["fire_lane_clearing"], "score_points": [60.0], "cost_cny": [25000.0]})
    >>> after = scores_after_upgrades(scores, items, chosen, pass_mark=80)
    >>> row = after.loc["C1"]
    >>> float(row["score_after"]), float(row["points_to_pass"]), row["still_failed"]
    (60.0, 20.0, 'drills_this_year (40)')
    """
    if not (isinstance(pass_mark, (int, float)) and 0 <= pass_mark <= 100):
        msg = f"`pass_mark` is {pass_mark!r}. Fix: give the scoring standard's pass mark, 0-100."
        raise InputError(msg)
    chosen = plan.chosen if isinstance(plan, UpgradePlan) else plan
    missing = [c for c in ("community_id", "survey_date", "score") if c not in scores.columns]
    if missing:
        msg = f"`scores` lacks the columns {missing}. Fix: pass the survey's `.scores` frame."
        raise InputError(msg)
    latest = scores.sort_values("survey_date", kind="stable").drop_duplicates("community_id", keep="last")
    latest = latest.set_index("community_id")
    failed, total_max = latest_items(items)
    scale = 100.0 / total_max.reindex(failed["community_id"].to_numpy()).to_numpy(dtype=np.float64)
    lost = failed["lost"].to_numpy(dtype=np.float64) * scale
    left = pd.DataFrame(
        {"community_id": failed["community_id"].to_numpy(), "item": failed["item"].to_numpy(), "left": lost}
    )
    if len(chosen):
        done = chosen.groupby(["community_id", "item"], as_index=False)["score_points"].sum()
        left = left.merge(done, on=["community_id", "item"], how="left")
        left["left"] -= left["score_points"].fillna(0.0).to_numpy()
    left = left[left["left"].to_numpy() > 1e-9].sort_values(
        ["community_id", "left"], ascending=[True, False], kind="stable"
    )
    label = pd.Series(
        [f"{item} ({p:.3g})" for item, p in zip(left["item"].tolist(), left["left"].tolist(), strict=True)],
        index=left.index,
        dtype=object,
    )
    text = label.groupby(left["community_id"].to_numpy(), sort=False).agg(", ".join)
    g = chosen.groupby("community_id") if len(chosen) else None
    restored = g["score_points"].sum() if g is not None else pd.Series(dtype=float)
    spent = g["cost_cny"].sum() if g is not None and "cost_cny" in chosen else pd.Series(dtype=float)
    out = pd.DataFrame(index=latest.index)
    out["survey_date"] = latest["survey_date"]
    out["score"] = latest["score"].astype(float)
    out["points_restored"] = restored.reindex(out.index).fillna(0.0)
    out["upgrade_cost_cny"] = spent.reindex(out.index).fillna(0.0)
    out["score_after"] = np.minimum(out["score"] + out["points_restored"], 100.0)
    out["passed_after"] = out["score_after"] >= float(pass_mark) - 1e-9
    out["points_to_pass"] = np.maximum(float(pass_mark) - out["score_after"], 0.0)
    out["still_failed"] = text.reindex(out.index).fillna("")
    out.attrs["pass_mark"] = float(pass_mark)
    return out
