"""Before and after of the plans (issue 19): the stations proposed, the majors closed, the measures chosen.

Each function scores the scenario's communities twice with :func:`risk_models.score_scenario`,
once as they are and once with the plan done, and compares the two
(:func:`planning.compare.compare_units`) with reasons that name what the plan changes:

- :func:`compare_station_plan`: the response times with the proposed fire stations
  (:class:`planning.stations.StationPlan`); the reasons name the new station serving a unit;
- :func:`compare_register_closing`: the hidden-danger register's open major items closed (they
  raise their source's severity, ``[severity.register]``); the reasons name the sources;
- :func:`compare_upgrades`: the community safety scores after the chosen upgrade measures
  (:func:`planning.plan_upgrades`, :func:`planning.scores_after_upgrades`); the reasons name
  the measures.

What-if closures compare from their own difference layer: :func:`planning.compare.compare_what_if`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from gis.errors import InputError
from gis.i18n import Lang, load_glossary
from gis.tables import TableOverrides

from ._compare_reasons import Changes
from .compare import Comparison, compare_units

if TYPE_CHECKING:
    from risk_models.natural import NaturalHazards

    from .stations import StationPlan

__all__ = ["close_open_majors", "compare_register_closing", "compare_station_plan", "compare_upgrades"]


def _score(
    scenario: Any,
    *,
    response_time_s: pd.Series | None,
    risk_weights: TableOverrides,
    natural_hazards: NaturalHazards | None,
    natural_table: TableOverrides,
    **extra: Any,
) -> gpd.GeoDataFrame:
    from risk_models import score_scenario

    return score_scenario(
        scenario,
        units="communities",
        response_time_s=response_time_s,
        learn=False,
        risk_weights=risk_weights,
        natural_hazards=natural_hazards,
        natural_table=natural_table,
        **extra,
    ).units


def _labels(before: str, after: str, lang: Lang) -> tuple[str, str]:
    g = load_glossary()
    return g.text(before, lang), g.text(after, lang)


def compare_station_plan(
    scenario: Any,
    plan: StationPlan,
    *,
    risk_weights: TableOverrides = None,
    natural_hazards: NaturalHazards | None = None,
    natural_table: TableOverrides = None,
    lang: Lang = "en",
) -> Comparison:
    """The communities before and with the proposed stations of ``plan``.

    Both sides are scored with the plan's own response times (``plan.communities``:
    ``response_before_s`` / ``response_after_s``), so the change is the plan's alone; coverage
    and the serving station come from the plan too.

    Parameters
    ----------
    scenario
        The scenario the plan was made on (a :class:`gis.Scenario` or its layers).
    plan
        :func:`planning.plan_stations`'s result.
    risk_weights, natural_hazards, natural_table
        As for :func:`risk_models.score_scenario` (the same as the run's).
    lang
        Language of the reasons.
    """
    c = plan.communities
    sides = []
    for side in ("before", "after"):
        cover = pd.DataFrame(
            {
                "response_time_s": c[f"response_{side}_s"].astype(float),
                "covered": c[f"covered_{side}"].astype(bool),
                "nearest_station": c[f"station_{side}"],
                "population": c["population"].astype(float),
            },
            index=c.index.astype(str),
        )
        units = _score(
            scenario,
            response_time_s=cover["response_time_s"],
            risk_weights=risk_weights,
            natural_hazards=natural_hazards,
            natural_table=natural_table,
        )
        sides.append((units, cover))
    (before, cover_before), (after, cover_after) = sides
    return compare_units(
        before,
        after,
        coverage_before=cover_before,
        coverage_after=cover_after,
        changes=Changes(stations_added=tuple(str(i) for i in plan.proposed.index)),
        labels=_labels("cmp_side_baseline", "cmp_side_stations", lang),
        lang=lang,
    )


def close_open_majors(register: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The register with every open major item closed, and the count closed per hazard source.

    Examples
    --------
    >>> reg = pd.DataFrame({"hazard_id": ["H1", "H1", "H2"], "grade": ["major", "general", "major"],
    ...                     "status": ["rectifying", "rectifying", "closed"]})
    >>> after, closed = close_open_majors(reg)
    >>> after["status"].tolist(), closed.to_dict()
    (['closed', 'rectifying', 'closed'], {'H1': 1})
    """
    from risk_models.register.vocab import OPEN_STATUSES

    missing = sorted({"hazard_id", "grade", "status"} - set(register.columns))
    if missing:
        msg = (
            f"The register lacks columns {missing}. "
            "Fix: give the items frame (`risk_models.register.items_frame`)."
        )
        raise InputError(msg)
    open_major = register["grade"].eq("major") & register["status"].isin(OPEN_STATUSES)
    after = register.copy()
    after.loc[open_major, "status"] = "closed"
    linked = open_major & register["hazard_id"].notna()
    closed = register.loc[linked, "hazard_id"].astype(str).value_counts().sort_index().rename("majors_closed")
    return after, closed


def compare_register_closing(
    scenario: Any,
    register: pd.DataFrame,
    *,
    response_time_s: pd.Series | None = None,
    register_at: datetime | date | pd.Timestamp | None = None,
    risk_weights: TableOverrides = None,
    natural_hazards: NaturalHazards | None = None,
    natural_table: TableOverrides = None,
    lang: Lang = "en",
) -> Comparison:
    """The communities' risk with the register as it is, and with its open major items closed.

    An open (or overdue) major hidden danger raises its source's severity
    (``[severity.register]`` of ``risk_weights.toml``); closing them all is the "after". The
    reasons name the sources nearest each unit and how many majors closing there.

    Parameters
    ----------
    scenario
        A scenario with its ``hazards`` (the register's ``hazard_id`` are their ids).
    register
        The register's items frame (:func:`risk_models.register.items_frame`).
    response_time_s
        Response time per community (as for :func:`risk_models.score_scenario`).
    register_at
        When the register is read (overdue is computed then); None: its last change.
    risk_weights, natural_hazards, natural_table
        As for :func:`risk_models.score_scenario`.
    lang
        Language of the reasons.
    """
    after_items, closed = close_open_majors(register)
    kw: dict[str, Any] = {
        "response_time_s": response_time_s,
        "risk_weights": risk_weights,
        "natural_hazards": natural_hazards,
        "natural_table": natural_table,
        "register_at": register_at,
    }
    before = _score(scenario, register=register, **kw)
    after = _score(scenario, register=after_items, **kw)
    hazards = _hazards_of(scenario)
    changed = None
    if hazards is not None and len(closed):
        changed = hazards.loc[hazards.index.astype(str).isin(closed.index)].copy()
        changed["majors_closed"] = closed.reindex(changed.index.astype(str)).to_numpy()
    return compare_units(
        before,
        after,
        changes=Changes(hazards=changed),
        labels=_labels("cmp_side_open_majors", "cmp_side_majors_closed", lang),
        lang=lang,
    )


def _hazards_of(scenario: Any) -> gpd.GeoDataFrame | None:
    layers: Mapping[str, Any] = scenario.layers if hasattr(scenario, "layers") else scenario
    if "hazards" not in layers:
        return None
    h = layers["hazards"]
    if "id" in h.columns and h.index.name != "id":
        h = h.set_index(h["id"].astype(str), drop=False)
    return h


def compare_upgrades(
    scenario: Any,
    safety_score: pd.Series,
    after: pd.DataFrame,
    chosen: pd.DataFrame,
    *,
    response_time_s: pd.Series | None = None,
    risk_weights: TableOverrides = None,
    natural_hazards: NaturalHazards | None = None,
    natural_table: TableOverrides = None,
    measure_titles: Mapping[str, str] | None = None,
    lang: Lang = "en",
) -> Comparison:
    """The communities' risk with today's safety scores and with the chosen measures done.

    Parameters
    ----------
    scenario
        The scenario of the surveyed communities.
    safety_score
        Today's score per community (``CommunitySafety.safety_score()``).
    after
        :func:`planning.scores_after_upgrades`: ``score_after`` per community.
    chosen
        The chosen measures (``UpgradePlan.chosen``: ``community_id``, ``measure``); the reasons
        name them.
    response_time_s, risk_weights, natural_hazards, natural_table
        As for :func:`risk_models.score_scenario`.
    measure_titles
        Titles of measures the glossary does not know (a city's own), by measure id.
    lang
        Language of the reasons.
    """
    if "score_after" not in after.columns:
        msg = "`after` lacks `score_after`. Fix: pass `planning.scores_after_upgrades(...)`."
        raise InputError(msg)
    today = safety_score.astype(float)
    done = today.copy()
    done.update(after["score_after"].astype(float))
    kw: dict[str, Any] = {
        "response_time_s": response_time_s,
        "risk_weights": risk_weights,
        "natural_hazards": natural_hazards,
        "natural_table": natural_table,
    }
    before_units = _score(scenario, community_safety=today, **kw)
    after_units = _score(scenario, community_safety=done, **kw)
    measures = chosen[["community_id", "measure"]].copy() if len(chosen) else chosen
    if measure_titles and len(measures):
        measures["title"] = measures["measure"].map(measure_titles)
    return compare_units(
        before_units,
        after_units,
        changes=Changes(measures=measures),
        labels=_labels("cmp_side_today", "cmp_side_measures", lang),
        lang=lang,
    )
