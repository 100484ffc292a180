"""Safe communities (安全社区): the survey of the dangers around people, its scoring standard, the scores.

Taiyuan's 2024 notice asks every residential community to be surveyed for the dangers around
people (elevators, gas, electric bicycles, electrical fires, blocked fire lanes) under a scoring
standard. This package holds the first half of that work:

- the standard (:mod:`.standard`): ``risk_models/data/community_safety.toml``, sections and
  items with weights, rules, points, pass mark, grades and sources, overridable by a city's own
  TOML (:func:`load_safety_standard`);
- the survey (:mod:`.survey`): CSV or Excel, Chinese or English headers, checked row by row
  against the standard and the scenario's communities (:func:`read_survey`, :func:`check_survey`);
- the scores (:mod:`.scoring`): :func:`score_communities` and, for re-surveys, :func:`survey_changes`;
- the register (:mod:`.register`): failed items as hidden-danger register items, once each
  (:func:`register_failed_items`);
- the outputs (:mod:`.outputs`): a summary per district, the map layer and tables, one
  GeoPackage or Excel file (:func:`safety_summary`, :func:`safety_tables`, :func:`write_safety`).

The score feeds the risk model's vulnerability through
``risk_models.score_scenario(..., community_safety=safety.safety_score())`` (the term
``[vulnerability.community_safety]`` of ``risk_weights.toml``).

Contract with the planning side (``planning.upgrades``: budget and demonstration communities)
-----------------------------------------------------------------------------------------------
- ``score_communities(survey, standard) -> CommunitySafety``; ``standard`` is a
  :class:`SafetyStandard`, overrides of the shipped one, or None (the shipped one).
- ``CommunitySafety.scores``: one row per community and survey, with ``community_id`` (str),
  ``survey_date`` (datetime64, a day), ``score`` (0..100, float), ``grade`` (a key of the
  standard's ``[grades]``), ``passed`` (bool: score >= ``standard.pass_mark`` and no failed veto
  item), ``points_lost`` (100 - score), ``failed_items``, ``veto_failed``, ``failed`` (ids,
  ``; ``-separated), ``score_<section>`` (0..100 per section) and, where known,
  ``community_name``, ``district``, ``street``, ``community_type`` (:data:`COMMUNITY_TYPES`),
  ``population``, ``households``.
- ``CommunitySafety.items``: one row per community, survey and item, with ``community_id``,
  ``survey_date``, ``section``, ``item``, ``points`` (earned), ``max_points``, ``failed``
  (bool), ``value`` (the surveyed value: numbers; yes 1 / no 0; NaN for n/a), ``rule`` (text)
  and ``not_applicable``. ``points`` and ``max_points`` are on the 100-point scale: a survey's
  ``points`` sum to its ``score``, and mending a failed item gains its ``max_points``.
- ``CommunitySafety.latest()`` gives each community's latest survey, ``failed()`` the failed
  items with their register ``category``; ``standard.items`` the item table (``section``,
  ``max_points``, ``veto``, ...).
- Item ids are snake_case and shared with ``planning/data/upgrade_measures.toml``: elevator_age,
  elevator_inspection_overdue, elevator_entrapments, gas_pipe_age, gas_alarm_valve, bottled_lpg,
  ebike_indoor_charging, ebike_charging_points, electrical_old_wiring, electrical_overload,
  fire_lane_blocked, exits_locked, hydrant_pressure, extinguishers, smoke_alarms_elderly,
  drills_this_year, trained_volunteers, mini_fire_station; sections: elevators, gas, ebikes,
  electrical, fire_lanes_exits, fire_facilities, emergency_readiness (:data:`ITEM_IDS`,
  :data:`SECTION_IDS`).

Examples
--------
>>> from gis.demo import synthetic_survey
>>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
>>> len(safety.scores), len(safety.items) == len(safety.scores) * len(ITEM_IDS)
(150, True)
"""

from .outputs import SUFFIXES, safety_summary, safety_tables, write_safety
from .register import SURVEY_KEY_PREFIX, RegisterUpdate, register_failed_items, survey_key, survey_keys
from .scoring import CHANGES, CommunitySafety, SurveyChanges, score_communities, survey_changes
from .standard import ITEM_KINDS, OPERATORS, SafetyStandard, load_safety_standard
from .survey import COMMUNITY_TYPES, NOT_APPLICABLE, SURVEY_FIELDS, Survey, check_survey, read_survey

#: The item ids of the shipped standard (shared with the planning side's measure costs).
ITEM_IDS: tuple[str, ...] = (
    "elevator_age",
    "elevator_inspection_overdue",
    "elevator_entrapments",
    "gas_pipe_age",
    "gas_alarm_valve",
    "bottled_lpg",
    "ebike_indoor_charging",
    "ebike_charging_points",
    "electrical_old_wiring",
    "electrical_overload",
    "fire_lane_blocked",
    "exits_locked",
    "hydrant_pressure",
    "extinguishers",
    "smoke_alarms_elderly",
    "drills_this_year",
    "trained_volunteers",
    "mini_fire_station",
)
#: The section ids of the shipped standard.
SECTION_IDS: tuple[str, ...] = (
    "elevators",
    "gas",
    "ebikes",
    "electrical",
    "fire_lanes_exits",
    "fire_facilities",
    "emergency_readiness",
)

__all__ = [
    "CHANGES",
    "COMMUNITY_TYPES",
    "ITEM_IDS",
    "ITEM_KINDS",
    "NOT_APPLICABLE",
    "OPERATORS",
    "SECTION_IDS",
    "SUFFIXES",
    "SURVEY_FIELDS",
    "SURVEY_KEY_PREFIX",
    "CommunitySafety",
    "RegisterUpdate",
    "SafetyStandard",
    "Survey",
    "SurveyChanges",
    "check_survey",
    "load_safety_standard",
    "read_survey",
    "register_failed_items",
    "safety_summary",
    "safety_tables",
    "score_communities",
    "survey_changes",
    "survey_key",
    "survey_keys",
    "write_safety",
]
