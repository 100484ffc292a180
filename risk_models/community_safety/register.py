"""Failed survey items into the hidden-danger register, once each; re-surveys close the loop.

Each failed item of a scored survey becomes a register item through the register's own API
(:func:`risk_models.register.report`, then ``verify`` with
:func:`risk_models.register.transition`, as an on-site inspection is): its category is the
item's ``category`` in the standard, its place the community's representative point (WGS84),
its community the community, its grade follows the ``criteria`` the standard gives the item
(the major-danger checklists), and its deadline the grade's time limit in the workflow
(``register_workflow.toml [deadlines]``).

Every survey result the register holds carries a stable key made of the community, the
survey date and the item (:func:`survey_key`), kept as the first line of the ``note`` of the
event it made; keys already in the register are skipped, so importing a survey again adds
nothing.

A re-survey (a later survey date of the same community) follows up the items an earlier
survey put in the register and that are still open (verified .. reopened; a ``reported``
item not yet verified counts too):

- an item that **still fails** gets no second item: a ``comment`` event on the open one says
  it was found failing again (value, rule, score);
- an item that **now passes** moves towards closure by the workflow's own rules, as far as
  the survey's role may take it: ``claim`` where the role may claim a rectification
  (``rectifying`` -> ``rectified``), then ``accept`` (销号, ``rectified`` -> ``closed``: the
  re-survey is the re-inspection) where the role may accept, which on a supervised item only
  the supervisor or admin may. Where the role may go no further (an inspector may not claim
  for the responsible unit; a supervised item awaits its supervisor; an item not yet handed
  over still needs its handover, plan and claim), a ``comment`` says the item passed the
  re-survey, what it still needs and which roles make that step.

An item that fails in a survey older than the open item's own report adds nothing (the open
item already stands for it).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import geopandas as gpd
import pandas as pd
import shapely

from gis.crs import to_metric
from gis.tables import TableOverrides
from gis.validate import index_by_id
from risk_models.register import (
    Event,
    Item,
    RoleError,
    Workflow,
    item_number,
    load_workflow,
    replay_many,
    report,
    transition,
)

from .scoring import CommunitySafety

__all__ = [
    "FOLLOW_UP_COLUMNS",
    "SURVEY_KEY_PREFIX",
    "RegisterUpdate",
    "register_failed_items",
    "survey_key",
    "survey_keys",
]

log = logging.getLogger(__name__)

#: The start of a survey item's key in the note of the event it made.
SURVEY_KEY_PREFIX = "community-survey"
#: Columns of :attr:`RegisterUpdate.follow_ups`.
FOLLOW_UP_COLUMNS = (
    "number", "community_id", "item", "survey_date", "outcome", "actions", "status_before", "status_after",
)  # fmt: skip
#: States of an item a re-survey follows up (open, or reported and not yet verified).
_FOLLOWED = ("reported", "verified", "handed_over", "rectifying", "rectified", "reopened")


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
    r"""``{survey key: item number}`` of the survey results a register's events already hold.

    The keys of the items surveys reported, and of the re-survey follow-ups (``comment``,
    ``claim``, ``accept``) on earlier items: the number is the item the event is on.

    Examples
    --------
    >>> from risk_models.register import Event
    >>> ev = Event("YH-2024-000001", "report", "2024-05-15T00:00", "community-survey", "inspector",
    ...            note=survey_key("C001", "2024-05-15", "bottled_lpg") + "\nsurvey score 88.0")
    >>> survey_keys([ev])
    {'community-survey:C001:2024-05-15:bottled_lpg': 'YH-2024-000001'}
    """
    out: dict[str, str] = {}
    for ev in events:
        if ev.note.startswith(SURVEY_KEY_PREFIX + ":"):
            out.setdefault(ev.note.split("\n", 1)[0], ev.number)
    return out


def _reported_keys(events: Iterable[Event]) -> dict[str, str]:
    """``{number: survey key}`` of the items surveys reported."""
    return {
        ev.number: ev.note.split("\n", 1)[0]
        for ev in events
        if ev.action == "report" and ev.note.startswith(SURVEY_KEY_PREFIX + ":")
    }


def _parse_key(key: str) -> tuple[str, pd.Timestamp, str]:
    """``(community, survey day, item)`` of a key (the community may hold ``:``)."""
    body = key[len(SURVEY_KEY_PREFIX) + 1 :]
    community, day, item = body.rsplit(":", 2)
    return community, pd.Timestamp(day), item


@dataclass(frozen=True)
class RegisterUpdate:
    """What :func:`register_failed_items` adds (nothing is stored yet).

    Attributes
    ----------
    items
        New items by number.
    events
        Their ``report`` and ``verify`` events and the re-survey follow-ups on earlier items, in
        time order (append them to the register).
    areas
        ``district`` / ``street`` of the new items where known (indexed by number).
    keys
        ``{number: survey key}`` of the new items.
    skipped
        Survey keys of results the register already holds (or an open item reported by a later
        survey stands for).
    follow_ups
        One row per earlier item a re-survey followed up (:data:`FOLLOW_UP_COLUMNS`): its
        ``number``, ``community_id``, ``item``, the re-survey's ``survey_date``, ``outcome``
        (``still_failing``, ``closed``, ``rectified``: claimed but not accepted, ``passed``:
        noted only), the ``actions`` taken (``; ``-separated) and the status before and after.
    """

    items: Mapping[str, Item]
    events: tuple[Event, ...]
    areas: pd.DataFrame
    keys: Mapping[str, str]
    skipped: tuple[str, ...]
    follow_ups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(FOLLOW_UP_COLUMNS)))


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


#: What each state still needs before the number is cancelled (销号), in the workflow's order.
_TO_CLOSE: dict[str, tuple[str, ...]] = {
    "reported": ("verify", "hand_over", "plan", "claim", "accept"),
    "verified": ("hand_over", "plan", "claim", "accept"),
    "handed_over": ("plan", "claim", "accept"),
    "rectifying": ("claim", "accept"),
    "rectified": ("accept",),
    "reopened": ("plan", "claim", "accept"),
}
#: Steps a re-survey takes itself when its role may: they need no data a survey lacks.
_SURVEY_STEPS = ("claim", "accept")


def _still_needs(item: Item, wf: Workflow) -> str:
    """The steps left to close ``item`` and who may make each, as text."""
    supervised = bool(item.supervised_by)
    steps = [
        f"`{a}` by {'/'.join(sorted(wf.rule(a).roles_for(supervised=supervised)))}"
        for a in _TO_CLOSE.get(item.status, ())
    ]
    return ", then ".join(steps)


def _follow_up(
    item: Item,
    *,
    failed: bool,
    key: str,
    at: datetime,
    day: str,
    what: str,
    actor: str,
    role: str,
    unit: str | None,
    wf: Workflow,
) -> tuple[Item, list[Event], str]:
    """The events a re-survey puts on an earlier open item, the item after them, and the outcome.

    Each step is one the workflow allows the role from the item's state; a step the actor's
    unit may not take on this item (its scope) is not taken. No events: the role may not even
    comment on the item.
    """
    supervised = bool(item.supervised_by)
    at = max(at, item.updated_at)
    events: list[Event] = []

    def step(action: str, note: str) -> bool:
        nonlocal item
        if action not in wf.allowed_actions(item.status, role, supervised=supervised):
            return False
        try:
            item, ev = transition(
                item, action, at=at, actor=actor, role=role, unit=unit, note=note, register_workflow=wf
            )
        except RoleError:  # the actor's unit is not the item's
            return False
        events.append(ev)
        return True

    if failed:
        step("comment", f"{key}\nstill failing at the re-survey of {day}: {what}; no second item is made")
        return item, events, "still_failing"
    while item.status in _TO_CLOSE and _TO_CLOSE[item.status][0] in _SURVEY_STEPS:
        action = _TO_CLOSE[item.status][0]
        done = (
            "rectification found done"
            if action == "claim"
            else "re-inspection passed; number cancelled (销号)"
        )
        if not step(action, f"{key}\nre-survey of {day}: {what}; {done}"):
            break
    if item.status == "closed":
        return item, events, "closed"
    claimed = bool(events)
    why = (
        "accepting (销号) a supervised item is for the supervising authority"
        if item.status == "rectified" and supervised
        else f"a `{role}` may go no further"
    )
    note = (
        f"{key}\npassed at the re-survey of {day}: {what}; {why}: left at `{item.status}`; "
        f"to close it: {_still_needs(item, wf)}"
    )
    step("comment", note)
    return item, events, "rectified" if claimed else "passed"


def register_failed_items(
    safety: CommunitySafety,
    communities: gpd.GeoDataFrame,
    *,
    first_counter: Mapping[int, int],
    existing: Iterable[Event] = (),
    actor: str = "community-survey",
    role: str = "inspector",
    unit: str | None = None,
    verify: bool = True,
    register_workflow: Workflow | TableOverrides = None,
) -> RegisterUpdate:
    """Register the failed survey items not yet in the register; follow up earlier items on re-surveys.

    Parameters
    ----------
    safety
        Scored surveys (:func:`score_communities`), one or more dates per community.
    communities
        The scenario's communities (indexed by id, any CRS): the place of each item.
    first_counter
        ``{year: next free counter}`` of the register (``RegisterDir.next_counters()``).
    existing
        The register's events (at least all events of the items surveys reported): results
        whose key they hold are skipped, and the open items of earlier surveys are followed up.
    actor, role, unit
        Who imports (an ``inspector`` by default: survey results are government inspections),
        and the actor's unit where its role has a scope. The role decides how far a re-survey
        moves a mended item (see the module).
    verify
        Verify each new item at once (the survey is an on-site inspection): grade by the item's
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
    failed = safety.failed()
    points = _points(communities)
    unknown = sorted(set(failed["community_id"].astype(str)) - set(points.index))
    if unknown:
        msg = (
            f"{safety.where}: communities {unknown[:10]} are not in the communities layer, so their "
            "failed items have no place. Fix: read the survey with the scenario's communities."
        )
        raise InputError(msg)
    existing = list(existing)
    have = survey_keys(existing)
    reported = _reported_keys(existing)
    current = replay_many([e for e in existing if e.number in reported], register_workflow=wf)
    # the earlier survey items still open, by (community, item): (survey day, number)
    open_items: dict[tuple[str, str], tuple[pd.Timestamp, str]] = {}
    for number, key in sorted(reported.items(), key=lambda kv: _parse_key(kv[1])[1]):
        cid, day, item_id = _parse_key(key)
        if current[number].status in _FOLLOWED:
            open_items[(cid, item_id)] = (day, number)
    # the results that may matter: failures, and any result of an item that fails or is open
    surveyed = safety.items[
        ~safety.items["not_applicable"].to_numpy() & (safety.items["max_points"] > 0).to_numpy()
    ]
    pairs = set(open_items) | set(
        zip(failed["community_id"].astype(str), failed["item"].astype(str), strict=True)
    )
    pair = pd.MultiIndex.from_arrays([surveyed["community_id"].astype(str), surveyed["item"].astype(str)])
    rows = surveyed[pair.isin(list(pairs))] if pairs else surveyed.iloc[:0]
    rows = rows.sort_values(["survey_date", "community_id", "item"], kind="stable")
    scores = safety.scores.set_index(["community_id", "survey_date"])
    spec = safety.standard.items
    counters = dict(first_counter)
    items: dict[str, Item] = {}
    events: list[Event] = []
    keys: dict[str, str] = {}
    areas = []
    skipped = []
    follow = []
    tag = " [synthetic survey]" if safety.synthetic else ""
    for row in rows.itertuples(index=False):
        cid, item = str(row.community_id), str(row.item)
        key = survey_key(cid, row.survey_date, item)
        if key in have:
            if row.failed:
                skipped.append(key)
            continue
        at = pd.Timestamp(row.survey_date).to_pydatetime()
        day = f"{at:%Y-%m-%d}"
        s = spec.loc[item]
        meta = scores.loc[(cid, row.survey_date)]
        value = _value_text(float(row.value), str(s["kind"]), str(s["unit"]))
        earlier = open_items.get((cid, item))
        if earlier is not None and earlier[0] >= pd.Timestamp(at.date()):
            if row.failed:  # an older survey: the open item reported later stands for it
                skipped.append(key)
            continue
        if earlier is not None:
            number = earlier[1]
            before = current[number]
            what = (
                f"{s['label']} ({s['label_zh']}) surveyed {value}; {s['rule']}; "
                f"survey score {float(meta['score']):.1f}{tag}"
            )
            after, batch, outcome = _follow_up(
                before,
                failed=bool(row.failed),
                key=key,
                at=at,
                day=day,
                what=what,
                actor=actor,
                role=role,
                unit=unit,
                wf=wf,
            )
            if not batch:
                log.warning(
                    "%s: the re-survey of %s cannot note item %s as `%s`", safety.where, day, number, role
                )
                continue
            current[number] = after
            if number in items:
                items[number] = after
            if after.status not in _FOLLOWED:
                del open_items[(cid, item)]
            have[key] = number
            events.extend(batch)
            follow.append(
                {
                    "number": number, "community_id": cid, "item": item, "survey_date": pd.Timestamp(at),
                    "outcome": outcome, "actions": "; ".join(e.action for e in batch),
                    "status_before": before.status, "status_after": after.status,
                }
            )  # fmt: skip
            continue
        if not row.failed:
            continue
        number = item_number(at.year, counters.get(at.year, 1), prefix=wf.prefix, digits=wf.digits)
        surveyor = meta.get("surveyor") if "surveyor" in scores.columns else None
        new, ev = report(
            number,
            at=at,
            actor=actor,
            role=role,
            category=str(s["category"]),
            x=float(points.loc[cid, "lon"]),
            y=float(points.loc[cid, "lat"]),
            source="government_inspection",
            description=f"Community safety survey {day}: {s['label']} ({s['label_zh']}): surveyed "
            f"{value}; {s['rule']}{tag}",
            reporter=str(surveyor) if isinstance(surveyor, str) and surveyor else actor,
            community_id=cid,
            unit=unit,
            note=f"{key}\nsurvey score {float(meta['score']):.1f}",
            register_workflow=wf,
        )
        batch = [ev]
        if verify:
            data = {"criteria": list(s["criteria"]), "public_summary": f"{s['label_zh']} (社区安全评估)"}
            new, ev = transition(
                new, "verify", at=at, actor=actor, role=role, unit=unit, data=data, register_workflow=wf
            )
            batch.append(ev)
        counters[at.year] = counters.get(at.year, 1) + 1
        have[key] = number
        items[number] = new
        current[number] = new
        open_items[(cid, item)] = (pd.Timestamp(at.date()), number)
        keys[number] = key
        events.extend(batch)
        areas.append(
            {"number": number, **{c: meta.get(c) for c in ("district", "street") if c in scores.columns}}
        )
    columns = ["number", *[c for c in ("district", "street") if c in scores.columns]]
    frame = pd.DataFrame(areas, columns=columns).set_index("number")
    frame.index.name = None
    follow_ups = pd.DataFrame(follow, columns=list(FOLLOW_UP_COLUMNS))
    log.info(
        "%d failed survey items registered, %d earlier items followed up, %d already in the register",
        len(items), len(follow_ups), len(skipped),
    )  # fmt: skip
    ordered = tuple(sorted(events, key=lambda e: e.at))
    return RegisterUpdate(items, ordered, frame, keys, tuple(skipped), follow_ups)
