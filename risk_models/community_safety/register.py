"""Failed survey items into the hidden-danger register, once each.

Each failed item of a scored survey becomes a register item through the register's own API
(:func:`risk_models.register.report`, then ``verify`` with
:func:`risk_models.register.transition`, as an on-site inspection is): its category is the
item's ``category`` in the standard, its place the community's representative point (WGS84),
its community the community, its grade follows the ``criteria`` the standard gives the item
(the major-danger checklists), and its deadline the grade's time limit in the workflow
(``register_workflow.toml [deadlines]``).

Re-importing a survey adds nothing twice: every item carries a stable key made of the
community, the survey date and the item (:func:`survey_key`), kept as the first line of the
``note`` of its ``report`` event; keys already in the register are skipped. A re-survey on a
later date is a new inspection and makes new items for what still fails.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

import geopandas as gpd
import pandas as pd
import shapely

from gis.crs import to_metric
from gis.tables import TableOverrides
from gis.validate import index_by_id
from risk_models.register import Event, Item, Workflow, item_number, load_workflow, report, transition

from .scoring import CommunitySafety

__all__ = ["SURVEY_KEY_PREFIX", "RegisterUpdate", "register_failed_items", "survey_key", "survey_keys"]

log = logging.getLogger(__name__)

#: The start of a survey item's key in its ``report`` event's note.
SURVEY_KEY_PREFIX = "community-survey"


def survey_key(community_id: object, survey_date: date | datetime | pd.Timestamp | str, item: str) -> str:
    """The stable key of a failed survey item: community, survey day and item.

    Examples
    --------
    >>> survey_key("C001", pd.Timestamp("2024-05-15"), "exits_locked")
    'community-survey:C001:2024-05-15:exits_locked'
    """
    day = pd.Timestamp(survey_date).strftime("%Y-%m-%d")
    return f"{SURVEY_KEY_PREFIX}:{community_id}:{day}:{item}"


def survey_keys(events: Iterable[Event]) -> dict[str, str]:
    r"""``{survey key: item number}`` of the survey items a register's events already hold.

    Examples
    --------
    >>> from risk_models.register import Event
    >>> ev = Event("YH-2024-000001", "report", "2024-05-15T00:00", "community-survey", "inspector",
    ...            note=survey_key("C001", "2024-05-15", "bottled_lpg") + "\nsurvey score 88.0")
    >>> survey_keys([ev])
    {'community-survey:C001:2024-05-15:bottled_lpg': 'YH-2024-000001'}
    """
    out = {}
    for ev in events:
        if ev.action == "report" and ev.note.startswith(SURVEY_KEY_PREFIX + ":"):
            out[ev.note.split("\n", 1)[0]] = ev.number
    return out


@dataclass(frozen=True)
class RegisterUpdate:
    """What :func:`register_failed_items` adds (nothing is stored yet).

    Attributes
    ----------
    items
        New items by number.
    events
        Their ``report`` and ``verify`` events in time order (append them to the register).
    areas
        ``district`` / ``street`` of the new items where known (indexed by number).
    keys
        ``{number: survey key}`` of the new items.
    skipped
        Survey keys of failed items the register already holds.
    """

    items: Mapping[str, Item]
    events: tuple[Event, ...]
    areas: pd.DataFrame
    keys: Mapping[str, str]
    skipped: tuple[str, ...]


def _points(communities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Each community's representative point (inside its polygon), as WGS84 lon / lat."""
    layer = index_by_id(communities)
    metric = to_metric(layer)
    pts = gpd.GeoSeries(shapely.point_on_surface(metric.geometry.values), index=layer.index, crs=metric.crs)
    wgs = pts.to_crs(4326)
    return pd.DataFrame({"lon": wgs.x.to_numpy(), "lat": wgs.y.to_numpy()}, index=layer.index.astype(str))


def _value_text(value: float, kind: str, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if kind == "yes_no":
        return "yes" if value == 1 else "no"
    return f"{value:g}{f' {unit}' if unit else ''}"


def register_failed_items(
    safety: CommunitySafety,
    communities: gpd.GeoDataFrame,
    *,
    first_counter: Mapping[int, int],
    existing: Iterable[Event] = (),
    actor: str = "community-survey",
    role: str = "inspector",
    verify: bool = True,
    register_workflow: Workflow | TableOverrides = None,
) -> RegisterUpdate:
    """Register items (report and verify) for the failed survey items not yet in the register.

    Parameters
    ----------
    safety
        Scored surveys (:func:`score_communities`).
    communities
        The scenario's communities (indexed by id, any CRS): the place of each item.
    first_counter
        ``{year: next free counter}`` of the register (``RegisterDir.next_counters()``).
    existing
        The register's events: failed items whose key they hold are skipped.
    actor, role
        Who imports (an ``inspector`` by default: survey results are government inspections).
    verify
        Verify each item at once (the survey is an on-site inspection): grade by the item's
        criteria, deadline by the grade's time limit. False: items stay ``reported``.
    register_workflow
        Loaded workflow or overrides.

    Returns
    -------
    RegisterUpdate

    Raises
    ------
    InputError
        A surveyed community that is not in ``communities``.

    Examples
    --------
    >>> from gis.demo import synthetic_survey
    >>> from risk_models.community_safety import score_communities
    >>> safety = score_communities(synthetic_survey(city["communities"], seed=1))
    >>> first = register_failed_items(safety, city["communities"], first_counter={})
    >>> again = register_failed_items(safety, city["communities"], first_counter={2024: 10**5},
    ...                               existing=first.events)
    >>> len(first.items) == len(safety.failed()), len(again.items), len(again.skipped) == len(first.items)
    (True, 0, True)
    """
    from gis.errors import InputError

    wf = load_workflow(register_workflow)
    failed = safety.failed().sort_values(["survey_date", "community_id", "item"], kind="stable")
    points = _points(communities)
    unknown = sorted(set(failed["community_id"].astype(str)) - set(points.index))
    if unknown:
        msg = (
            f"{safety.where}: communities {unknown[:10]} are not in the communities layer, so their "
            "failed items have no place. Fix: read the survey with the scenario's communities."
        )
        raise InputError(msg)
    have = survey_keys(existing)
    scores = safety.scores.set_index(["community_id", "survey_date"])
    spec = safety.standard.items
    counters = dict(first_counter)
    items: dict[str, Item] = {}
    events: list[Event] = []
    keys: dict[str, str] = {}
    areas = []
    skipped = []
    tag = " [synthetic survey]" if safety.synthetic else ""
    for row in failed.itertuples(index=False):
        cid, item = str(row.community_id), str(row.item)
        key = survey_key(cid, row.survey_date, item)
        if key in have:
            skipped.append(key)
            continue
        at = pd.Timestamp(row.survey_date).to_pydatetime()
        s = spec.loc[item]
        number = item_number(at.year, counters.get(at.year, 1), prefix=wf.prefix, digits=wf.digits)
        meta = scores.loc[(cid, row.survey_date)]
        surveyor = meta.get("surveyor") if "surveyor" in scores.columns else None
        value = _value_text(float(row.value), str(s["kind"]), str(s["unit"]))
        new, ev = report(
            number,
            at=at,
            actor=actor,
            role=role,
            category=str(s["category"]),
            x=float(points.loc[cid, "lon"]),
            y=float(points.loc[cid, "lat"]),
            source="government_inspection",
            description=f"Community safety survey {at:%Y-%m-%d}: {s['label']} ({s['label_zh']}): surveyed "
            f"{value}; {s['rule']}{tag}",
            reporter=str(surveyor) if isinstance(surveyor, str) and surveyor else actor,
            community_id=cid,
            note=f"{key}\nsurvey score {float(meta['score']):.1f}",
            register_workflow=wf,
        )
        batch = [ev]
        if verify:
            data = {"criteria": list(s["criteria"]), "public_summary": f"{s['label_zh']} (社区安全评估)"}
            new, ev = transition(
                new, "verify", at=at, actor=actor, role=role, data=data, register_workflow=wf
            )
            batch.append(ev)
        counters[at.year] = counters.get(at.year, 1) + 1
        have[key] = number
        items[number] = new
        keys[number] = key
        events.extend(batch)
        areas.append(
            {"number": number, **{c: meta.get(c) for c in ("district", "street") if c in scores.columns}}
        )
    columns = ["number", *[c for c in ("district", "street") if c in scores.columns]]
    frame = pd.DataFrame(areas, columns=columns).set_index("number")
    frame.index.name = None
    log.info("%d failed survey items registered, %d already in the register", len(items), len(skipped))
    return RegisterUpdate(items, tuple(sorted(events, key=lambda e: e.at)), frame, keys, tuple(skipped))
