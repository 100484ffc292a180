"""Community safety end to end: a survey scored, planned within a budget, and put in a register.

The one place the service assembles the safe-communities work of issue 16 from its parts, so
the CLI (``riskplan communities``), the pipeline (``riskplan run`` / ``riskplan demo``) and the
web service's job all give the same answer:

- :func:`assess_communities` reads and checks the survey against the scoring standard
  (``risk_models.community_safety``), scores every community and, with a budget, chooses the
  upgrade measures (``planning.plan_upgrades``: HiGHS with the proven gap), the scores after
  them and the demonstration communities (``planning.choose_demonstration``);
- :class:`CommunityAssessment` holds the result: its tables (:meth:`~CommunityAssessment.tables`),
  its printed summary (:meth:`~CommunityAssessment.lines`) and one GeoPackage or Excel file
  (:meth:`~CommunityAssessment.write`);
- :func:`register_survey` adds the failed items to a hidden-danger register directory, once each.

Examples
--------
>>> from gis.demo import synthetic_survey
>>> run = assess_communities(city["communities"], synthetic_survey(city["communities"], seed=1),
...                          budget=2_000_000, demonstration=5)
>>> run.plan is not None and len(run.demonstration.chosen)
5
>>> sorted(run.tables())[:3]
['demonstration', 'demonstration_quotas', 'scores_after_upgrades']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from gis.i18n import Lang
    from planning import Demonstration, UpgradeMeasures, UpgradePlan
    from planning.compare import Comparison
    from risk_models.community_safety import CommunitySafety, SafetyStandard

__all__ = ["CommunityAssessment", "assess_communities", "register_survey"]


@dataclass(frozen=True)
class CommunityAssessment:
    """A scored survey and, with a budget, its upgrade plan and demonstration communities.

    Attributes
    ----------
    standard
        The scoring standard the survey was scored against.
    safety
        The scores, item breakdown and failed items (:class:`CommunitySafety`).
    notes
        What the survey import noticed but did not refuse.
    budget
        The budget in CNY, or None when no plan was asked for.
    plan
        The upgrade measures chosen within the budget (None without a budget).
    after
        Each community's latest score after the plan, with ``passed_after`` (None without a budget).
    demonstration
        The demonstration communities (None unless asked for with a budget).
    """

    standard: SafetyStandard
    safety: CommunitySafety
    notes: tuple[str, ...] = ()
    budget: float | None = None
    plan: UpgradePlan | None = None
    after: pd.DataFrame | None = field(default=None, repr=False)
    demonstration: Demonstration | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The plan's tables (name -> frame), written beside the scores; empty without a budget."""
        import pandas as pd

        if self.plan is None or self.after is None:
            return {}
        out: dict[str, pd.DataFrame] = {
            "upgrade_plan": pd.DataFrame(self.plan.chosen),
            "upgrade_by_community": self.plan.by_community,
            "scores_after_upgrades": self.after,
            "upgrade_summary": pd.DataFrame({"line": [self.plan.summary(), *self.plan.notes]}),
        }
        if self.demonstration is not None:
            out["demonstration"] = self.demonstration.chosen
            out["demonstration_quotas"] = self.demonstration.quotas
        return out

    def write(self, path: str | Path, communities: gpd.GeoDataFrame) -> Path:
        """Write the scores, items, failed items, summary, changes and the plan's tables to one file.

        ``path`` ends in ``.gpkg`` (with its QGIS styles, :func:`maps.qgis_styles.write_qgis_styles`)
        or ``.xlsx``; the file is written atomically.
        """
        from maps.qgis_styles import write_qgis_styles
        from risk_models.community_safety import write_safety

        out = write_safety(path, self.safety, communities, extra_tables=self.tables())
        if out.suffix.lower() == ".gpkg":
            write_qgis_styles(out)
        return out

    def compare(
        self,
        scenario: object,
        *,
        response_time_s: pd.Series | None = None,
        risk_weights: object = None,
        lang: Lang = "en",
    ) -> Comparison:
        """The chosen measures' before and after: the risk today and with the measures done.

        :func:`planning.compare_uses.compare_upgrades` on this assessment's scores, scores after
        the plan and chosen measures (the reasons name the measures). Needs a budget's plan.
        """
        from gis.errors import InputError
        from planning.compare_uses import compare_upgrades

        if self.plan is None or self.after is None:
            msg = "No upgrade plan to compare. Fix: assess the survey with a `budget` (`--budget CNY`)."
            raise InputError(msg)
        return compare_upgrades(
            scenario,
            self.safety.safety_score(),
            self.after,
            self.plan.chosen,
            response_time_s=response_time_s,
            risk_weights=risk_weights,  # type: ignore[arg-type]
            lang=lang,
        )

    def lines(self, *, top: int = 5) -> list[str]:
        """The summary a person reads: scores, pass counts per district, most failed items, the plan."""
        from risk_models.community_safety import safety_summary

        safety, standard = self.safety, self.standard
        latest = safety.latest()
        out = [
            f"Latest surveys: mean score {latest['score'].mean():.1f}, {int(latest['passed'].sum())} of "
            f"{len(latest)} pass (pass mark {standard.pass_mark:g}, no failed veto item)"
        ]
        summary = safety_summary(safety)
        grades = [g for g, _, _ in standard.grades]
        cols = ["district", "communities", "mean_score", "passed", "failed_items", "most_failed_item"]
        cols += grades
        out.extend(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.1f}").splitlines())
        failed = safety.failed()
        last = failed.set_index(["community_id", "survey_date"]).index.isin(
            list(zip(latest.index, latest["survey_date"], strict=True))
        )
        if last.any():
            counts = failed.loc[last, "item"].astype(str).value_counts().head(top)
            listed = ", ".join(f"{item} {n}" for item, n in counts.items())
            out.append(f"Most failed items (latest surveys): {listed}")
        out.extend(f"note: {note}" for note in self.notes)
        if self.plan is not None and self.after is not None:
            out.append(f"Upgrade plan within {self.budget:,.0f} CNY: {self.plan.summary()}")
            out.append(
                f"  after the plan {int(self.after['passed_after'].sum())} of {len(self.after)} communities "
                f"pass (today {int(latest['passed'].sum())})"
            )
        if self.demonstration is not None:
            out.append(f"Demonstration communities: {self.demonstration.summary()}")
        return out


def assess_communities(
    communities: gpd.GeoDataFrame,
    survey: str | Path | pd.DataFrame,
    *,
    standard: SafetyStandard | str | Path | None = None,
    sheet: str | None = None,
    budget: float | None = None,
    demonstration: int = 0,
    upgrade_measures: UpgradeMeasures | str | Path | None = None,
    time_limit_s: float = 30.0,
) -> CommunityAssessment:
    """Score a community safety survey and, with a budget, plan upgrades and demonstration communities.

    Parameters
    ----------
    communities
        The scenario's communities layer (``id``, population, district ...).
    survey
        A survey file (CSV in UTF-8 / GB18030, or ``.xlsx``; Chinese or English headers) or a survey
        frame (for example :func:`gis.demo.synthetic_survey`'s).
    standard
        The scoring standard, or a TOML overriding the shipped one, or None (the shipped one).
    sheet
        The Excel sheet (default: the first).
    budget
        CNY for the upgrade measures; None scores only.
    demonstration
        With a budget: choose this many demonstration communities (quotas by district and type).
    upgrade_measures
        TOML overriding the shipped measure costs ``planning/data/upgrade_measures.toml``, or the
        loaded measures.
    time_limit_s
        Seconds for each HiGHS solve.

    Raises
    ------
    InputError
        A bad survey, standard or measure table (naming the file, rows and the fix), or quotas that
        cannot be met.
    """
    from risk_models.community_safety import (
        SafetyStandard,
        load_safety_standard,
        read_survey,
        score_communities,
    )

    std = standard if isinstance(standard, SafetyStandard) else load_safety_standard(standard)
    notes: tuple[str, ...] = ()
    if isinstance(survey, str | Path):
        checked = read_survey(survey, std, communities=communities, sheet=sheet)
        notes = checked.notes
        safety = score_communities(checked, std, communities=communities)
    else:
        safety = score_communities(survey, std, communities=communities)
    if budget is None:
        return CommunityAssessment(std, safety, notes)

    from planning import choose_demonstration, plan_upgrades, scores_after_upgrades, upgrade_candidates

    candidates = upgrade_candidates(safety.items, communities, upgrade_measures)
    plan = plan_upgrades(candidates, budget, time_limit_s=time_limit_s)
    after = scores_after_upgrades(safety.scores, safety.items, plan, pass_mark=std.pass_mark)
    chosen = None
    if demonstration:
        # the survey records each community's type (old town, high-rise, ...): the quotas use it
        latest = safety.latest()
        com = communities.set_index("id") if "id" in communities.columns else communities
        if "community_type" in latest:
            com = com.join(latest[["community_type"]], how="left")
        chosen = choose_demonstration(after, com, demonstration, pass_mark=std.pass_mark)
    return CommunityAssessment(std, safety, notes, budget, plan, after, chosen)


def register_survey(
    assessment: CommunityAssessment,
    communities: gpd.GeoDataFrame,
    register_dir: str | Path,
    *,
    actor: str = "community-survey",
) -> str:
    """Add the survey's failed items to the register in ``register_dir`` (created if need be), once each.

    Returns the line a person reads: how many items were added, their numbers, how many were
    there already, and how many earlier open items re-surveys followed up (noted still failing,
    or moved towards closure: :func:`risk_models.community_safety.register_failed_items`).
    """
    from risk_models.community_safety import register_failed_items

    from .register_files import open_register

    safety = assessment.safety
    register_dir = Path(register_dir)
    tag = " (synthetic survey)" if safety.synthetic else ""
    label = f"hidden-danger register {register_dir.name}{tag}"
    reg = open_register(register_dir, create=True, label=label)
    update = register_failed_items(
        safety, communities, first_counter=reg.next_counters(), existing=reg.events, actor=actor
    )
    if update.events:
        reg.append(update.events, update.areas)
    numbers = list(update.items)
    span = f": {numbers[0]} .. {numbers[-1]}" if numbers else ""
    return (
        f"Register {register_dir.resolve()}: {len(numbers)} failed items added{span}; "
        f"{len(update.skipped)} already there (not added again); "
        f"{len(update.follow_ups)} earlier items followed up by re-surveys"
    )
