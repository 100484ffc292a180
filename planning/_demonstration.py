"""Demonstration communities: N representative, feasible communities reaching the most residents.

Public through :mod:`planning.upgrades` (:func:`choose_demonstration`). The choice is a MILP
solved with HiGHS: binary ``x_i`` per eligible community, ``sum x = n``, for every quota
``minimum <= sum_{i in category} x_i <= maximum``, maximise ``sum residents_i x_i``. A community
is eligible (feasible as a model) when its score after the planned measures is at least
``pass_mark - margin``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from gis.errors import InputError, SolverError
from gis.speech import say

from ._upgrade_tables import community_ids
from .location._milp import MilpModel, solve_milp
from .location._result import Status, relative_gap
from .words import quota_word

__all__ = ["COMMUNITY_TYPES", "QUOTA_COLUMNS", "Demonstration", "Quotas", "choose_demonstration"]

log = logging.getLogger(__name__)

#: The community types of issue 16 (the ``community_type`` column; the demo city has none).
COMMUNITY_TYPES: tuple[str, ...] = ("old_town", "new_high_rise", "mixed", "resettlement")
#: Columns that get proportional quotas by default, when the communities layer has them.
QUOTA_COLUMNS: tuple[str, ...] = ("district", "street", "community_type")
#: Quotas per column: ``"proportional"`` or ``{category: minimum or (minimum, maximum)}``.
Quotas = Mapping[str, Literal["proportional"] | Mapping[str, int | Sequence[int]]]


@dataclass(frozen=True, eq=False)
class Demonstration:
    """The demonstration communities and how the quotas were met.

    Attributes
    ----------
    chosen
        Indexed by community id, largest first: ``residents``, the quota columns, ``score``,
        ``score_after``, ``points_to_pass``, ``reasons`` (why it was chosen) and ``still_needs``
        (what it still needs to pass, item by item).
    quotas
        One row per (column, category): ``minimum``, ``maximum``, ``eligible``, ``chosen``.
    objective
        Residents reached (sum over :attr:`chosen`).
    bound, gap, status
        HiGHS's proven upper bound, the relative gap and ``"optimal"`` / ``"time_limit"``.
    n, pass_mark, margin
        What was asked: ``n`` communities scoring at least ``pass_mark - margin`` after the plan.
    wall_time_s, notes
        Time of the call; notes on defaults taken.
    """

    chosen: pd.DataFrame
    quotas: pd.DataFrame
    objective: float
    bound: float
    status: Status
    n: int
    pass_mark: float
    margin: float
    wall_time_s: float = 0.0
    notes: tuple[str, ...] = ()
    gap: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chosen", self.chosen.copy())
        object.__setattr__(self, "quotas", self.quotas.copy())
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "gap", relative_gap(self.objective, self.bound))

    def summary(self) -> str:
        """One line: communities, residents reached, bound, gap and time."""
        return (
            f"demonstration: {self.status}, {len(self.chosen)} communities, {self.objective:,.0f} residents "
            f"(bound {self.bound:,.0f}, gap {self.gap:.3%}), {len(self.quotas)} quotas met, "
            f"{self.wall_time_s:.2f} s"
        )

    def __repr__(self) -> str:
        return f"Demonstration({self.summary()})"


def _quota_table(
    spec: Quotas | None, comm: pd.DataFrame, eligible: pd.Series, n: int
) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    if spec is None:
        spec = {c: "proportional" for c in QUOTA_COLUMNS if c in comm.columns}
        absent = [c for c in QUOTA_COLUMNS if c not in comm.columns]
        if absent:
            notes.append(say("plan_demo_no_quotas", columns=absent))
    rows = []
    for column, given in spec.items():
        if column not in comm.columns:
            hint = f" ({', '.join(COMMUNITY_TYPES)})" if column == "community_type" else ""
            msg = (
                f"`quotas` names the column `{column}`, which `communities` lacks. "
                f"Fix: add a `{column}` column{hint} to the communities, or drop its quota."
            )
            raise InputError(msg)
        cats = comm[column].astype(str)
        present = sorted(cats.unique())
        elig = cats[eligible].value_counts()
        if isinstance(given, str):
            if given != "proportional":
                msg = f"`quotas.{column}` is {given!r}. Fix: give 'proportional' or a mapping of categories."
                raise InputError(msg)
            share = comm.groupby(cats)["population"].sum() / max(float(comm["population"].sum()), 1e-12)
            one = n >= len(present)
            for cat in present:
                lo = math.floor(n * float(share.get(cat, 0.0)) + 1e-9)
                if one:
                    lo = max(lo, min(1, int(elig.get(cat, 0))))
                rows.append((column, cat, lo, n))
            continue
        if not isinstance(given, Mapping):
            msg = f"`quotas.{column}` is {given!r}. Fix: give 'proportional' or {{category: minimum}}."
            raise InputError(msg)
        unknown = sorted(set(map(str, given)) - set(present))
        if unknown:
            msg = (
                f"`quotas.{column}` names categories {unknown} that no community has "
                f"(present: {present}). Fix: use the categories of `communities.{column}`."
            )
            raise InputError(msg)
        for cat, value in given.items():
            pair = [value, n] if isinstance(value, (int, np.integer)) else list(value)
            ok = len(pair) == 2 and all(isinstance(v, (int, np.integer)) and v >= 0 for v in pair)
            if not ok or pair[0] > pair[1]:
                msg = (
                    f"`quotas.{column}.{cat}` is {value!r}. Fix: give a minimum count, or "
                    "[minimum, maximum] with 0 <= minimum <= maximum."
                )
                raise InputError(msg)
            rows.append((column, str(cat), int(pair[0]), int(pair[1])))
    table = pd.DataFrame(rows, columns=["column", "category", "minimum", "maximum"])
    counts = {c: comm[c].astype(str)[eligible].value_counts() for c in dict.fromkeys(table["column"])}
    table["eligible"] = [
        int(counts[c].get(cat, 0)) for c, cat in zip(table["column"], table["category"], strict=True)
    ]
    return table, notes


def _check(table: pd.DataFrame, n: int, n_eligible: int, pass_mark: float, margin: float) -> None:
    floor = f"{pass_mark - margin:g} ({margin:g} points below the pass mark {pass_mark:g})"
    fix = "lower the quota, widen `margin`, or raise the budget so more communities come close to passing"
    if n_eligible < n:
        msg = (
            f"Only {n_eligible} communities score at least {floor} after the planned measures, "
            f"fewer than the {n} asked for (`n`). Fix: lower `n`, widen `margin`, or raise the budget."
        )
        raise SolverError(msg)
    short = table[table["minimum"] > table["eligible"]]
    if len(short):
        parts = [
            f"`{r.column}` = `{r.category}` needs at least {r.minimum} but has {r.eligible} eligible"
            for r in short.itertuples()
        ]
        msg = (
            f"Quotas cannot be met: {'; '.join(parts[:10])} (eligible: scoring at least {floor}). Fix: {fix}."
        )
        raise SolverError(msg)
    for column, part in table.groupby("column", sort=False):
        if int(part["minimum"].sum()) > n:
            msg = (
                f"The minimum quotas of `{column}` add up to {int(part['minimum'].sum())}, more than the "
                f"{n} communities asked for (`n`). Fix: raise `n` or lower the quotas of `{column}`."
            )
            raise SolverError(msg)


def _reasons(
    chosen: pd.DataFrame, table: pd.DataFrame, pass_mark: float, margin: float, rank: pd.Series
) -> pd.Series:
    counts: dict[tuple[str, str], int] = {}
    for column in dict.fromkeys(table["column"]):
        for cat, k in chosen[column].astype(str).value_counts().items():
            counts[(column, str(cat))] = int(k)
    by_col = {c: part.set_index("category")["minimum"] for c, part in table.groupby("column", sort=False)}
    texts = []
    for cid, row in chosen.iterrows():
        parts = [
            say(
                "plan_demo_score", score=f"{row['score_after']:.1f}", pass_mark=f"{pass_mark:g}",
                lowest=f"{pass_mark - margin:g}",
            ),
            say("plan_demo_residents", residents=f"{row['residents']:,.0f}", rank=rank[cid]),
        ]  # fmt: skip
        for column, minimum in by_col.items():
            cat = str(row[column])
            if cat in minimum.index:
                lo = int(minimum[cat])
                parts.append(
                    say("plan_demo_quota", column=quota_word(column), category=cat,
                        chosen=counts[(column, cat)], minimum=lo)
                )  # fmt: skip
        texts.append(say("words_clause_sep").join(parts))
    return pd.Series(texts, index=chosen.index, dtype=object)


def choose_demonstration(
    scores_after: pd.DataFrame,
    communities: pd.DataFrame,
    n: int,
    *,
    quotas: Quotas | None = None,
    pass_mark: float | None = None,
    margin: float = 5.0,
    time_limit_s: float = 30.0,
) -> Demonstration:
    """Choose ``n`` demonstration communities: representative, feasible, reaching the most residents.

    Parameters
    ----------
    scores_after
        Per community (index or ``community_id`` column): ``score_after``, the score after the
        planned measures (:func:`~planning.upgrades.scores_after_upgrades`); ``score``,
        ``points_to_pass`` and ``still_failed`` are used when present.
    communities
        The communities layer, indexed by id (or an ``id`` column): ``population`` and the
        quota columns (``district``, ``street``, ``community_type``). The demo city has
        ``district`` but no community type: give ``community_type`` (one of
        :data:`COMMUNITY_TYPES`) as an input column.
    n
        Number of communities (100 for a city).
    quotas
        Per column: ``"proportional"`` (at least ``floor(n x residents' share)`` of each
        category, and at least one of each category with an eligible community when ``n``
        allows) or ``{category: minimum}`` / ``{category: [minimum, maximum]}``. Default:
        proportional on each of :data:`QUOTA_COLUMNS` the layer has.
    pass_mark
        The scoring standard's pass mark; default ``scores_after.attrs["pass_mark"]`` (set by
        :func:`~planning.upgrades.scores_after_upgrades`).
    margin
        Points below the pass mark a community may score after the plan and still be chosen.
    time_limit_s
        Wall-time limit of HiGHS.

    Returns
    -------
    Demonstration
        The chosen communities with their reasons and what each still needs; every quota met.

    Raises
    ------
    SolverError
        Too few eligible communities for ``n`` or a quota, minimums adding up to more than
        ``n``, or quotas that cannot hold together; the message names the quota and the fix.
    InputError
        Quota columns or categories the layer lacks, bad counts, unknown communities.

    Examples
    --------
    >>> comms = pd.DataFrame({"population": [900, 800, 700, 600], "district": list("AABB")},
    ...                      index=pd.Index(["C1", "C2", "C3", "C4"], name="id"))
    >>> after = pd.DataFrame({"score_after": [90.0, 85.0, 70.0, 83.0]}, index=comms.index)
    >>> demo = choose_demonstration(after, comms, 2, pass_mark=85)
    >>> demo.chosen.index.tolist(), demo.objective
    (['C1', 'C4'], 1500.0)
    >>> print(demo.chosen.loc["C4", "still_needs"])
    2 points more to pass
    """
    t0 = time.perf_counter()
    if not isinstance(n, (int, np.integer)) or n < 1:
        msg = f"`n` is {n!r}. Fix: give the number of demonstration communities, an integer >= 1."
        raise InputError(msg)
    if pass_mark is None:
        pass_mark = scores_after.attrs.get("pass_mark")
        if pass_mark is None:
            msg = "`pass_mark` is not given and `scores_after` does not carry one. Fix: give `pass_mark=`."
            raise InputError(msg)
    if not (0 <= float(pass_mark) <= 100 and 0 <= margin <= 100):
        msg = f"`pass_mark` = {pass_mark}, `margin` = {margin}. Fix: give both on the 0-100 score scale."
        raise InputError(msg)
    pm = float(pass_mark)
    after = scores_after.set_index("community_id") if "community_id" in scores_after.columns else scores_after
    if "score_after" not in after.columns:
        msg = "`scores_after` has no `score_after` column. Fix: build it with `scores_after_upgrades`."
        raise InputError(msg)
    comm = community_ids(communities)
    unknown = [c for c in after.index if c not in comm.index]
    if unknown:
        msg = (
            f"`scores_after` has communities {unknown[:10]} that are not in `communities`. "
            "Fix: score the layer's communities."
        )
        raise InputError(msg)
    if "population" not in comm.columns:
        msg = "`communities` has no `population` column. Fix: give the residents of each community."
        raise InputError(msg)
    comm = comm.loc[after.index].copy()
    comm["population"] = pd.to_numeric(comm["population"], errors="coerce").fillna(0.0).astype(float)
    score_after = pd.to_numeric(after["score_after"], errors="coerce")
    eligible = (score_after >= pm - margin - 1e-9).fillna(False)
    table, notes = _quota_table(quotas, comm, eligible, int(n))
    _check(table, int(n), int(eligible.sum()), pm, float(margin))
    ids = comm.index[eligible.to_numpy()]
    residents = comm.loc[ids, "population"].to_numpy(dtype=np.float64)
    k = len(ids)
    rows, cols, lb, ub = [np.zeros(k, dtype=np.intp)], [np.arange(k)], [float(n)], [float(n)]
    members_of: dict[tuple[str, str], np.ndarray] = {}
    for column in dict.fromkeys(table["column"]):
        labels = comm.loc[ids, column].astype(str).to_numpy(dtype=object)
        order = np.argsort(labels, kind="stable")
        cats, first = np.unique(labels[order], return_index=True)
        for cat, part in zip(cats.tolist(), np.split(order, first[1:]), strict=True):
            members_of[(column, cat)] = part
    for r, q in enumerate(table.itertuples(), start=1):
        members = members_of.get((q.column, q.category), np.zeros(0, dtype=np.intp))
        rows.append(np.full(len(members), r, dtype=np.intp))
        cols.append(members)
        lb.append(float(q.minimum))
        ub.append(float(q.maximum))
    r_all, c_all = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_array((np.ones(len(r_all)), (r_all, c_all)), shape=(len(lb), k))
    model = MilpModel(
        residents, matrix, np.array(lb), np.array(ub), np.zeros(k), np.ones(k), np.ones(k, dtype=bool)
    )
    out = solve_milp(model, maximize=True, time_limit_s=time_limit_s, mip_gap=1e-6)
    if out.x is None:
        if out.status == "infeasible":
            msg = (
                f"The quotas cannot all be met together with {n} communities ({len(table)} quotas on "
                f"{sorted(table['column'].unique())}). "
                "Fix: loosen the maximums or the minimums, or widen `margin`."
            )
            raise SolverError(msg)
        msg = f"HiGHS found no choice within {time_limit_s:g} s ({out.message}). Fix: raise `time_limit_s`."
        raise SolverError(msg)
    pick = ids[out.x > 0.5]
    chosen = _chosen(after.loc[pick], comm.loc[pick], table, pm=pm, margin=float(margin), pool=comm.loc[ids])
    picked = {c: chosen[c].astype(str).value_counts() for c in dict.fromkeys(table["column"])}
    table["chosen"] = [
        int(picked[c].get(cat, 0)) for c, cat in zip(table["column"], table["category"], strict=True)
    ]
    objective = float(chosen["residents"].sum())
    bound = max(float(out.bound) if math.isfinite(out.bound) else objective, objective)
    status: Status = "optimal" if out.status == "optimal" else "time_limit"
    return Demonstration(
        chosen=chosen,
        quotas=table,
        objective=objective,
        bound=bound,
        status=status,
        n=int(n),
        pass_mark=pm,
        margin=float(margin),
        wall_time_s=time.perf_counter() - t0,
        notes=tuple(notes),
    )


def _chosen(
    after: pd.DataFrame,
    comm: pd.DataFrame,
    table: pd.DataFrame,
    *,
    pm: float,
    margin: float,
    pool: pd.DataFrame,
) -> pd.DataFrame:
    quota_cols = [c for c in dict.fromkeys(table["column"]) if c in comm.columns]
    out = pd.DataFrame(index=after.index)
    out["residents"] = comm["population"]
    for c in quota_cols:
        out[c] = comm[c]
    out["score"] = pd.to_numeric(after["score"], errors="coerce") if "score" in after.columns else np.nan
    out["score_after"] = pd.to_numeric(after["score_after"], errors="coerce")
    to_pass = np.maximum(pm - out["score_after"], 0.0)
    out["points_to_pass"] = to_pass
    still = (
        after["still_failed"].fillna("").astype(str)
        if "still_failed" in after.columns
        else pd.Series("", index=out.index)
    )
    out["still_needs"] = [
        say("plan_demo_passes")
        if p <= 1e-9
        else say("plan_demo_to_pass", points=f"{p:.3g}") + (say("plan_demo_still", failed=s) if s else "")
        for p, s in zip(to_pass, still, strict=True)
    ]
    # rank by residents among the eligible of the first quota column's category (or overall)
    if quota_cols:
        col = quota_cols[0]
        grp = pool[col].astype(str)
        rank_all = pool["population"].groupby(grp).rank(ascending=False, method="min").astype(int)
        size = grp.map(grp.value_counts())
        rank = pd.Series(
            [
                say(
                    "plan_demo_rank_in",
                    rank=rank_all[i],
                    size=size[i],
                    column=quota_word(col),
                    category=grp[i],
                )
                for i in out.index
            ],
            index=out.index,
            dtype=object,
        )
    else:
        rank_all = pool["population"].rank(ascending=False, method="min").astype(int)
        rank = pd.Series(
            [say("plan_demo_rank", rank=rank_all[i], size=len(pool)) for i in out.index], index=out.index
        )
    out["reasons"] = _reasons(out, table, pm, margin, rank)
    return out.sort_values("residents", ascending=False, kind="stable")
