"""The community safety survey in the pipeline: found through the scenario, scored, written out.

A scenario points at its survey with a ``[community_safety]`` table in its ``scenario.toml``
(paths relative to the TOML file; a separate table from ``[layers.communities]``, the layer the
survey's community codes refer to)::

    [community_safety]
    survey = "survey.xlsx"              # CSV (UTF-8 / GB18030) or Excel, Chinese or English headers
    sheet = "2024"                      # optional: the Excel sheet (default: the first)
    safety_standard = "standard.toml"   # optional: the city's scoring standard (overrides)
    budget = 20000000                   # optional: CNY for upgrade measures (HiGHS, proven gap)
    demonstration = 100                 # optional, with a budget: demonstration communities
    upgrade_measures = "measures.toml"  # optional: the city's measure costs (overrides)
    time_limit_s = 30                   # optional: seconds for each solve
    register = true                     # optional: failed items into the scenario's register

:func:`assess_survey` scores the survey and plans the upgrades through the one seam
(:func:`service.communities.assess_communities`), before anything is written, so a bad survey
stops a run with nothing half-written; :func:`community_inputs` gives the risk model the
scores (``score_scenario(..., community_safety=...)``); :func:`community_outputs` writes
``communities.gpkg`` and, when the scenario has a register, adds the failed items to it once
each (:func:`service.communities.register_survey`). :func:`write_demo_survey` gives
``riskplan demo`` the demo city's synthetic survey with the budget and demonstration count of
``gis/data/demo_survey.toml`` ``[demo_run]``.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from gis import InputError, Scenario
from gis.scenario import scenario_table
from gis.tables import toml_path

from .communities import CommunityAssessment, assess_communities, register_survey

if TYPE_CHECKING:
    from .workflow import PipelineResult

__all__ = [
    "COMMUNITIES_FILE",
    "SurveySource",
    "assess_survey",
    "community_inputs",
    "community_outputs",
    "community_summary",
    "register_failed",
    "scenario_survey",
    "survey_source",
    "write_demo_survey",
]

log = logging.getLogger(__name__)

#: The pipeline's output file of the community safety survey.
COMMUNITIES_FILE = "communities.gpkg"
_TABLE = "community_safety"
_KEYS = {
    "survey",
    "sheet",
    "safety_standard",
    "budget",
    "demonstration",
    "upgrade_measures",
    "time_limit_s",
    "register",
}


@dataclass(frozen=True)
class SurveySource:
    """A community safety survey and what to do with it (the ``[community_safety]`` table).

    Attributes
    ----------
    survey
        The survey file, or a survey frame (:func:`gis.demo.synthetic_survey`'s).
    sheet
        The Excel sheet (None: the first).
    safety_standard
        A TOML overriding the scoring standard (None: the shipped one).
    budget
        CNY for the upgrade measures (None: score only).
    demonstration
        Demonstration communities to choose (needs a budget).
    upgrade_measures
        A TOML overriding the measure costs (None: the shipped ones).
    time_limit_s
        Seconds for each HiGHS solve.
    register
        Add the failed items to the run's hidden-danger register (when it has one).

    Examples
    --------
    >>> SurveySource(Path("survey.csv"), budget=2e7, demonstration=18).where
    'survey.csv'
    >>> SurveySource(Path("survey.csv"), demonstration=18)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    gis.errors.InputError: the survey `survey.csv`: `demonstration` = 18 needs a `budget` ...
    """

    survey: Path | pd.DataFrame
    sheet: str | None = None
    safety_standard: Path | None = None
    budget: float | None = None
    demonstration: int = 0
    upgrade_measures: Path | None = None
    time_limit_s: float = 30.0
    register: bool = True

    def __post_init__(self) -> None:
        where = f"the survey `{self.where}`"
        if self.budget is not None and not (
            isinstance(self.budget, numbers.Real) and math.isfinite(self.budget) and self.budget >= 0
        ):
            msg = f"{where}: `budget` is {self.budget!r}. Fix: give CNY, a number >= 0."
            raise InputError(msg)
        if not isinstance(self.demonstration, numbers.Integral) or self.demonstration < 0:
            msg = f"{where}: `demonstration` is {self.demonstration!r}. Fix: give a whole number >= 0."
            raise InputError(msg)
        if self.demonstration and self.budget is None:
            msg = (
                f"{where}: `demonstration` = {self.demonstration} needs a `budget` (the communities are "
                "chosen from the scores after the planned measures). Fix: give `budget` in CNY."
            )
            raise InputError(msg)
        if not (isinstance(self.time_limit_s, numbers.Real) and self.time_limit_s > 0):
            msg = f"{where}: `time_limit_s` is {self.time_limit_s!r}. Fix: give seconds > 0."
            raise InputError(msg)

    @property
    def where(self) -> str:
        """The survey's file, or ``synthetic survey`` for a frame, for messages."""
        return str(self.survey) if isinstance(self.survey, Path) else "synthetic survey (a frame)"


def scenario_survey(scenario: Scenario) -> SurveySource | None:
    """The survey a scenario's ``[community_safety]`` table names, checked; None without one.

    Raises
    ------
    InputError
        Unknown keys, no ``survey``, files that do not exist or bad numbers, naming the TOML,
        the key and the fix.
    """
    found = scenario_table(scenario, _TABLE)
    if found is None:
        return None
    table, src = found
    where = f"Scenario TOML `{src}`, table `[{_TABLE}]`"
    if not isinstance(table, Mapping) or "survey" not in table or set(table) - _KEYS:
        unknown = sorted(set(table) - _KEYS) if isinstance(table, Mapping) else []
        msg = (
            f"{where} needs `survey` and only the keys {sorted(_KEYS)}"
            + (f" (unknown: {unknown})" if unknown else "")
            + '. Fix: e.g. `[community_safety]` with `survey = "survey.xlsx"`.'
        )
        raise InputError(msg)

    def file(key: str) -> Path | None:
        return toml_path(src, where, table, key, file=True)

    def number(key: str, kind: type) -> Any:
        value = table.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            if value is None:
                return None
            msg = f"{where}: `{key}` is {value!r}. Fix: give a {'whole ' if kind is int else ''}number."
            raise InputError(msg)
        return value

    survey = file("survey")
    assert survey is not None
    if not isinstance(table.get("register", True), bool):
        msg = f"{where}: `register` is {table['register']!r}. Fix: write true or false."
        raise InputError(msg)
    try:
        return SurveySource(
            survey,
            sheet=None if table.get("sheet") is None else str(table["sheet"]),
            safety_standard=file("safety_standard"),
            budget=None if number("budget", numbers.Real) is None else float(table["budget"]),
            demonstration=number("demonstration", int) or 0,
            upgrade_measures=file("upgrade_measures"),
            time_limit_s=float(number("time_limit_s", numbers.Real) or 30.0),
            register=bool(table.get("register", True)),
        )
    except InputError as exc:
        msg = f"{where}: {exc}"
        raise InputError(msg) from None


def assess_survey(scenario: Scenario, source: SurveySource) -> CommunityAssessment:
    """Score the survey against the scenario's communities and, with a budget, plan the upgrades.

    Raises
    ------
    InputError
        A bad survey (the file, the rows and the fix), standard, measure table or quotas.
    """
    survey: str | Path | pd.DataFrame = source.survey
    return assess_communities(
        scenario["communities"],
        survey,
        standard=source.safety_standard,
        sheet=source.sheet,
        budget=source.budget,
        demonstration=source.demonstration,
        upgrade_measures=source.upgrade_measures,
        time_limit_s=source.time_limit_s,
    )


def community_inputs(assessment: CommunityAssessment | None) -> dict[str, Any]:
    """The keywords of :func:`risk_models.score_scenario` that make the risk model read the survey.

    ``community_safety``: each surveyed community's latest score; nothing without a survey.

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> run = assess_communities(city["communities"], synthetic_survey(city["communities"], seed=1))
    >>> community_inputs(None), len(community_inputs(run)["community_safety"])
    ({}, 150)
    """
    if assessment is None:
        return {}
    return {"community_safety": assessment.safety.safety_score()}


def community_summary(assessment: CommunityAssessment) -> dict[str, Any]:
    """The survey's figures for ``summary.json``: scores, passes, grades, the plan and demonstration.

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> run = assess_communities(city["communities"], synthetic_survey(city["communities"], seed=1),
    ...                          budget=2_000_000, demonstration=5)
    >>> figures = community_summary(run)
    >>> figures["synthetic"], figures["communities"], len(figures["demonstration"]["chosen"])
    (True, 150, 5)
    >>> figures["upgrades"]["spent_cny"] <= figures["upgrades"]["budget_cny"]
    True
    """
    safety, std = assessment.safety, assessment.standard
    latest = safety.latest()
    out: dict[str, Any] = {
        "survey": safety.where.strip("`"),
        "synthetic": bool(safety.synthetic),
        "standard": std.where.replace("`", ""),
        "pass_mark": float(std.pass_mark),
        "surveys": len(safety.scores),
        "communities": len(latest),
        "mean_score": round(float(latest["score"].mean()), 2),
        "passed": int(latest["passed"].sum()),
        "grades": {g: int((latest["grade"].astype(str) == g).sum()) for g, _, _ in std.grades},
        "failed_items": int(latest["failed_items"].sum()),
        "resurveyed": int(safety.scores["community_id"].duplicated().sum()),
    }
    plan, after = assessment.plan, assessment.after
    if plan is not None and after is not None:
        out["upgrades"] = {
            "budget_cny": float(plan.budget_cny),
            "spent_cny": round(float(plan.budget_used_cny), 2),
            "measures": len(plan.chosen),
            "communities": int(plan.chosen["community_id"].nunique()) if len(plan.chosen) else 0,
            "risk_reduction": round(float(plan.objective), 4),
            "bound": round(float(plan.bound), 4),
            "gap": round(float(plan.gap), 6),
            "status": plan.status,
            "greedy_risk_reduction": round(float(plan.greedy_objective), 4),
            "passed_after": int(after["passed_after"].sum()),
        }
    demo = assessment.demonstration
    if demo is not None:
        out["demonstration"] = {
            "n": int(demo.n),
            "chosen": [str(i) for i in demo.chosen.index],
            "residents": round(float(demo.objective), 1),
            "gap": round(float(demo.gap), 6),
            "status": demo.status,
        }
    return out


def community_outputs(
    assessment: CommunityAssessment,
    scenario: Scenario,
    out_dir: Path,
    result: PipelineResult,
) -> Path:
    """Write ``communities.gpkg`` (scores, items, failed items, changes, plan) and note the figures.

    The path goes into ``result.outputs["communities"]`` and the survey's summary lines
    (:meth:`CommunityAssessment.lines`) into its notes.
    """
    start = time.perf_counter()
    path = assessment.write(out_dir / COMMUNITIES_FILE, scenario["communities"])
    result.outputs["communities"] = path
    tag = " (SYNTHETIC survey: generated, not measured)" if assessment.safety.synthetic else ""
    result.notes.append(
        f"Community safety survey{tag}: {assessment.safety.where}, scored against {assessment.standard.where}"
    )
    result.notes.extend(f"  {line}" for line in assessment.lines())
    result.timings_s["community safety outputs"] = round(time.perf_counter() - start, 3)
    return path


def survey_source(scenario: Scenario, survey: str | Path | SurveySource | None = None) -> SurveySource | None:
    """The survey of a run: ``survey`` (a file, or a :class:`SurveySource`), else the scenario's table.

    Raises
    ------
    InputError
        A survey file that does not exist, or a bad ``[community_safety]`` table.

    Examples
    --------
    >>> from gis import Scenario, RoadsSource
    >>> sc = Scenario("Demo City", city, city["roads"].crs, RoadsSource("layer"), synthetic=True)
    >>> survey_source(sc) is None  # no TOML, no survey table
    True
    """
    if isinstance(survey, SurveySource):
        return survey
    if survey is None:
        return scenario_survey(scenario)
    path = Path(survey)
    if not path.is_file():
        msg = f"The survey `{path}` does not exist. Fix: give a survey CSV or .xlsx."
        raise InputError(msg)
    return SurveySource(path)


def register_failed(
    assessment: CommunityAssessment,
    scenario: Scenario,
    result: PipelineResult,
    *,
    register: str | Path | None = None,
) -> str | None:
    """Add the survey's failed items to the run's register (``register``, else the scenario's), once each.

    Returns the line a person reads (also put in ``result.notes``), or None when the run has no
    register. A ``[register]`` path naming the register's ``events.jsonl`` means its directory.
    """
    from .hazard_register import scenario_register

    if register is None:
        source = scenario_register(scenario)
        if source is None:
            return None
        register = source.path
    directory = Path(register)
    directory = directory.parent if directory.is_file() else directory
    line = register_survey(assessment, scenario["communities"], directory)
    result.notes.append(line)
    log.info(line)
    return line


def write_demo_survey(
    path: str | Path,
    scenario: Scenario | str | Path,
    *,
    seed: int = 42,
    demo_survey: Mapping[str, Any] | None = None,
) -> SurveySource:
    """Write the demo city's synthetic survey (CSV, labelled synthetic) and how the demo uses it.

    The survey is :func:`gis.demo.synthetic_survey` of the scenario's communities, with the
    re-surveys, ``budget_cny`` and ``demonstration`` of ``gis/data/demo_survey.toml``
    ``[demo_run]`` (overridable with ``demo_survey``). Its failed items are not put into the
    demo's synthetic register (``register=False``): that register's items are drawn with their
    whole life over 2024, and some 900 survey items verified in May and never rectified would
    swamp its month's figures (a real register moves them through its workflow).

    Examples
    --------
    >>> import tempfile
    >>> from gis import Scenario, RoadsSource
    >>> sc = Scenario("Demo City", city, city["roads"].crs, RoadsSource("layer"), synthetic=True)
    >>> src = write_demo_survey(Path(tempfile.mkdtemp()) / "demo_survey.csv", sc)
    >>> src.budget, src.demonstration, src.register
    (20000000.0, 18, False)
    """
    from gis import load_scenario
    from gis.demo import load_survey_params, write_synthetic_survey

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    run = load_survey_params(demo_survey)["demo_run"]
    written = write_synthetic_survey(
        path,
        sc["communities"],
        seed=seed,
        survey_date=str(run["survey_date"]),
        resurvey_share=float(run["resurvey_share"]),
        demo_survey=demo_survey,
    )
    return SurveySource(
        written, budget=float(run["budget_cny"]), demonstration=int(run["demonstration"]), register=False
    )
