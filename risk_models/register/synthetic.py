"""A synthetic hidden-danger register for the demo city, drawn from its layers (labelled synthetic).

:func:`synthetic_register` places about 1,500 items over 12 months at the demo city's hazard
sources and in its communities and walks each through the workflow with the real
:func:`~risk_models.register.report` / :func:`~risk_models.register.transition` (so every
history is one the workflow allows): most are closed on time, some run late or are extended,
some fail re-inspection and reopen, a few majors are put under supervision, a few stall and
are overdue at the end; a few synthetic incidents happen near items left open. The same
layers and seed give the same register. Parameters: ``risk_models/data/demo_register.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import to_metric
from gis.tables import TableOverrides, load_table
from gis.validate import index_by_id

from .errors import RegisterError
from .frames import events_frame, items_frame
from .items import Event, Item, item_number
from .link import LINK_DISTANCE_M, link_items
from .log import is_overdue
from .transitions import report, transition
from .vocab import OPEN_STATUSES
from .workflow import Workflow, load_workflow

__all__ = ["SyntheticRegister", "synthetic_register"]

SOURCE_LABEL = "synthetic register (riskplan)"
_GENERIC = ("electrical", "fire_facilities")


@dataclass(frozen=True, eq=False)
class SyntheticRegister:
    """A synthetic register: items, the audit log (objects and frame) and incidents.

    Attributes
    ----------
    items
        Items frame (:func:`~risk_models.register.items_frame`) with ``district``, in the
        layers' CRS.
    events
        The audit log as a frame (:func:`~risk_models.register.events_frame`), in log order.
    log
        The same events as :class:`~risk_models.register.items.Event` objects.
    incidents
        Synthetic incidents near items open at the end (``id``, ``category``, ``time``,
        ``hazard_id``, ``source``), indexed by id.
    as_of
        The end of the period (events stop before it).
    label
        Says it is synthetic.
    """

    items: gpd.GeoDataFrame
    events: pd.DataFrame
    log: tuple[Event, ...]
    incidents: gpd.GeoDataFrame
    as_of: datetime
    label: str

    def log_in_wgs84(self) -> tuple[list[Event], gpd.GeoDataFrame]:
        """The audit log with its reports' ``x`` / ``y`` in WGS84, and the items frame in WGS84.

        A register store keeps longitude and latitude; the synthetic register is made in the
        layers' metric CRS. Only the ``report`` events carry a location.
        """
        frame = self.items.to_crs(4326)
        moved = {n: (p.x, p.y) for n, p in zip(frame.index, frame.geometry, strict=True)}

        def to_wgs84(ev: Event) -> Event:
            if ev.action != "report":
                return ev
            x, y = moved[ev.number]
            return replace(ev, data={**ev.data, "x": float(x), "y": float(y)})

        return [to_wgs84(e) for e in self.log], frame


class _Walk:
    """One item's history, cut at the end of the period."""

    def __init__(self, item: Item, event: Event, end: datetime, wf: Workflow) -> None:
        self.item, self.events, self.end, self.wf = item, [event], end, wf

    def step(self, action: str, at: datetime, role: str, **kw: Any) -> bool:
        at = max(at.replace(second=0, microsecond=0), self.item.updated_at + timedelta(minutes=1))
        if at >= self.end:
            return False
        self.item, event = transition(self.item, action, at=at, role=role, register_workflow=self.wf, **kw)
        self.events.append(event)
        return True


def _weights(table: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    keys = list(table)
    p = np.array([float(table[k]) for k in keys])
    return keys, p / p.sum()


def _points_in(polygons: gpd.GeoSeries, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, 2))
    for k, poly in enumerate(polygons):
        minx, miny, maxx, maxy = poly.bounds
        for _ in range(200):
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if poly.contains(shapely.Point(x, y)):
                break
        else:
            x, y = shapely.get_coordinates(poly.representative_point())[0]
        out[k] = (x, y)
    return out


def _plan_rectification(
    walk: _Walk, spec: Mapping[str, Any], rng: np.random.Generator, owner: dict[str, Any]
) -> None:
    """Plan, maybe extend, claim, re-inspect; reopen and start again as drawn."""
    d, wf = spec["delays_days"], walk.wf
    p = spec["register"]
    late = rng.random() < float(p["late_share"])
    extend = late and rng.random() < float(p["extension_share"])
    stalled_share = p["stalled_major_share"] if walk.item.grade == "major" else p["stalled_share"]
    stalled = rng.random() < float(stalled_share)
    for attempt in range(3):
        item = walk.item
        at = item.updated_at + timedelta(days=rng.uniform(*(d["plan"] if attempt == 0 else d["replan"])))
        deadline = item.deadline or (at.date() + timedelta(days=30))
        plan_by = min(deadline, max(at.date(), deadline - timedelta(days=int(rng.integers(0, 6)))))
        data = {
            "plan": f"rectification plan for {item.number}",
            "measures": [f"fix: {item.description}", "train the staff on duty"],
            "funds_yuan": float(round(rng.lognormal(8.5, 1.2), -2)),
            "deadline": plan_by,
        }
        if not walk.step("plan", at, owner["role"], actor=owner["actor"], unit=owner["unit"], data=data):
            return
        if stalled:
            walk.step(
                "comment",
                at + timedelta(days=float(rng.uniform(5, 20))),
                "inspector",
                actor="insp-01",
                note="urged",
            )
            return
        item = walk.item
        assert item.deadline is not None and item.verified_at is not None  # planned items are verified
        due = datetime.combine(item.deadline, datetime.min.time()) + timedelta(hours=17)
        if extend and attempt == 0:
            cls = "supervised" if item.supervised_by else str(item.grade)
            rule = wf.deadlines[cls]
            latest = item.verified_at.date() + timedelta(days=rule.extended_limit_days)
            if latest > item.deadline:
                role, actor, unit = (
                    ("supervisor", "sup-01", None)
                    if item.supervised_by
                    else ("department", "dept-01", item.department_unit)
                )
                ask = max(
                    item.updated_at + timedelta(hours=2), due - timedelta(days=float(rng.uniform(1, 5)))
                )
                extension = {"deadline": latest}
                if not walk.step(
                    "extend", ask, role, actor=actor, unit=unit, data=extension, note="materials on order"
                ):
                    return
                due = datetime.combine(latest, datetime.min.time()) + timedelta(hours=17)
                late = False
        span = max((due - walk.item.updated_at).total_seconds() / 86400.0, 0.5)
        claim_at = (
            due + timedelta(days=float(rng.uniform(*d["late_by"])))
            if late and attempt == 0
            else walk.item.updated_at + timedelta(days=span * float(rng.uniform(0.2, 0.8)))
        )
        if attempt > 0:
            claim_at = walk.item.updated_at + timedelta(days=float(rng.uniform(*d["reclaim"])))
        if not walk.step("claim", claim_at, owner["role"], actor=owner["actor"], unit=owner["unit"]):
            return
        sup = walk.item.supervised_by
        role, actor = (
            ("supervisor", "sup-01") if sup else ("inspector", f"insp-{int(rng.integers(1, 13)):02d}")
        )
        check_at = walk.item.updated_at + timedelta(days=float(rng.uniform(*d["reinspect"])))
        if attempt < 2 and rng.random() < float(p["reopen_share"]):
            if not walk.step(
                "reopen", check_at, role, actor=actor, note="measures not in place on re-inspection"
            ):
                return
            continue
        walk.step("accept", check_at, role, actor=actor)
        return


def synthetic_register(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    seed: int = 0,
    n_items: int | None = None,
    demo_register: TableOverrides = None,
    register_workflow: Workflow | TableOverrides = None,
) -> SyntheticRegister:
    """A synthetic register of the demo city: items, events and incidents, labelled synthetic.

    Parameters
    ----------
    layers
        The demo city's layers (:func:`gis.demo_city`): ``hazards`` and ``communities``
        (with ``district``) are used.
    seed
        Random seed: the same layers and seed give the same register.
    n_items
        Number of items (default ``[register] n_items``, 1,500).
    demo_register
        Overrides of ``risk_models/data/demo_register.toml``.
    register_workflow
        Loaded workflow or overrides (the histories follow it).

    Returns
    -------
    SyntheticRegister

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from risk_models.register import synthetic_register
    >>> reg = synthetic_register(city, seed=0)
    >>> status = reg.items["status"].value_counts(normalize=True)
    >>> len(reg.items), status.index[0], bool(status["closed"] > 0.75)
    (1500, 'closed', True)
    >>> reg.label
    'Demo City hidden-danger register (synthetic)'
    """
    wf = load_workflow(register_workflow)
    spec = load_table("demo_register", demo_register, package="risk_models")
    p = spec["register"]
    for name in ("hazards", "communities"):
        if name not in layers or not len(layers[name]):
            msg = (
                f"`synthetic_register` needs a `{name}` layer (it has {sorted(layers)}). "
                "Fix: pass `gis.demo_city()`."
            )
            raise RegisterError(msg)
    rng = np.random.default_rng(seed)
    hazards = index_by_id(layers["hazards"])
    crs = hazards.crs
    metric = to_metric(hazards)
    comm = index_by_id(layers["communities"]).to_crs(metric.crs)
    n = int(n_items if n_items is not None else p["n_items"])
    start_day = p["start"] if isinstance(p["start"], date) else date.fromisoformat(str(p["start"]))
    start = datetime.combine(start_day, datetime.min.time())
    end = datetime.combine(
        (pd.Timestamp(start_day) + pd.DateOffset(months=int(p["months"]))).date(), datetime.min.time()
    )
    span_days = (end - start).days

    # where and when: at hazard sources (each non-quiet one self-checks regularly) or in
    # communities, weighted by population; numbered in the order reported
    n_at = round(n * float(p["share_at_sources"]))
    ids = hazards.index.to_numpy()
    quiet = set(rng.choice(ids, round(len(ids) * float(p["share_quiet_sources"])), replace=False))
    regular = [h for h in ids if h not in quiet]
    per = min(int(p["self_checks_per_source"]), n_at // max(1, len(regular)))
    part = span_days / max(per, 1)
    seeds: list[tuple[float, Any, str | None]] = [
        (part * (j + rng.random()) * 0.999, h, "enterprise_self_check") for j in range(per) for h in regular
    ]
    seeds += [
        (rng.uniform(0, span_days), ids[rng.integers(0, len(ids))], None) for _ in range(n_at - len(seeds))
    ]
    seeds += [(rng.uniform(0, span_days), None, None) for _ in range(n - len(seeds))]
    seeds.sort(key=lambda t: t[0])
    pop = comm["population"].to_numpy(float) + 1.0
    xy = _points_in(comm.geometry.iloc[rng.choice(len(comm), n, p=pop / pop.sum())], n, rng)
    hxy = shapely.get_coordinates(metric.geometry.representative_point().to_numpy())
    pos = {h: k for k, h in enumerate(ids)}
    for k, (_, hid, _) in enumerate(seeds):
        if hid is not None:
            angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(0, 30)
            xy[k] = hxy[pos[hid]] + (radius * np.cos(angle), radius * np.sin(angle))
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=metric.crs)
    near = gpd.sjoin_nearest(pts, comm[["geometry"]], how="left")
    comm_of = near[~near.index.duplicated()]["index_right"].to_numpy()
    # each item linked as an import links it (link_items): its seeded source kept, any other
    # item near a source linked to it, the community containing it
    seeded = [None if hid is None else str(hid) for _, hid, _ in seeds]
    links = link_items(
        pts.assign(hazard_id=seeded),
        hazards=metric,
        communities=comm,
        max_distance_m=float(p.get("link_distance_m", LINK_DISTANCE_M)),
    )
    xy_out = shapely.get_coordinates(pts.to_crs(crs).geometry.to_numpy())

    hazard_cat = {hc: c for c, s in wf.table["categories"].items() for hc in s["hazard_categories"]}
    people, people_p = _weights(spec["people_categories"])
    srcs_a, srcs_a_p = _weights(spec["sources"]["at_sources"])
    srcs_c, srcs_c_p = _weights(spec["sources"]["in_communities"])
    walks: list[_Walk] = []
    for k, (day, seed_hid, forced) in enumerate(seeds):
        # office hours, 08:00 to 18:00, in the order drawn (numbers follow the report times)
        whole = int(day)
        at = start + timedelta(days=whole, hours=8 + 10 * (float(day) - whole))
        at = at.replace(second=0, microsecond=0)
        hid = None if seed_hid is None else str(seed_hid)
        if hid is not None:
            category = (
                str(rng.choice(_GENERIC))
                if rng.random() < float(p["share_generic_at_sources"])
                else hazard_cat.get(str(hazards.loc[hid, "category"]), "other")
            )
            source = forced or str(rng.choice(srcs_a, p=srcs_a_p))
            if source == "enterprise_self_check" and hid in quiet:
                source = "government_inspection"
            enterprise: str | None = str(links["enterprise_id"].iloc[k])
        else:
            category, source, enterprise = (
                str(rng.choice(people, p=people_p)),
                str(rng.choice(srcs_c, p=srcs_c_p)),
                None,
            )
        owner_enterprise = enterprise  # the enterprise rectifies the dangers at its own source
        linked_hid, linked_ent, cid = (
            links[c].iloc[k] for c in ("hazard_id", "enterprise_id", "community_id")
        )
        if hid is None and linked_hid is not None:  # a danger around people next to a source
            hid, enterprise = str(linked_hid), linked_ent
        area_of = str(cid) if cid is not None else str(comm_of[k])
        district = str(comm.loc[area_of, "district"]) if "district" in comm else "City"
        inspector = f"insp-{int(rng.integers(1, 13)):02d}"
        anonymous = rng.random() < float(p["anonymous_share"])
        resident = None if anonymous else f"resident {int(rng.integers(1, 10_000)):04d}"
        role, actor, unit, reporter = {
            "enterprise_self_check": (
                "enterprise",
                f"ent-{hid}",
                enterprise,
                f"safety officer of {enterprise}",
            ),
            "government_inspection": ("inspector", inspector, None, "inspector (synthetic)"),
            "public_report": ("reporter", "public", None, resident),
            "sensor_alarm": ("admin", "sensor-gateway", None, None),
        }[source]
        descriptions = spec["descriptions"][category]
        item, ev = report(
            item_number(start.year, k + 1, prefix=wf.prefix, digits=wf.digits),
            at=at, actor=actor, role=role, unit=unit, category=category,
            x=float(xy_out[k, 0]), y=float(xy_out[k, 1]),
            description=str(descriptions[int(rng.integers(0, len(descriptions)))]), source=source,
            reporter=reporter, hazard_id=hid, enterprise_id=enterprise, community_id=cid,
            register_workflow=wf,
        )  # fmt: skip
        walk = _Walk(item, ev, end, wf)
        walks.append(walk)
        d = spec["delays_days"]
        check_at = at + timedelta(days=float(rng.uniform(*d["verify"])))
        if rng.random() < float(p["reject_share"]):
            dup = k > 0 and rng.random() < float(p["duplicate_share"])
            data = (
                {"reason": "duplicate", "duplicate_of": walks[int(rng.integers(0, k))].item.number}
                if dup
                else {"reason": "not_a_danger"}
            )
            walk.step("reject", check_at, "inspector", actor="insp-01", data=data, note="checked on site")
            continue
        criteria: list[str] = []
        if rng.random() < float(p["major_share"]):
            options = spec["major_criteria"][category]
            criteria = [str(c) for c in options[int(rng.integers(0, len(options)))]]
        summary = None if source == "public_report" else item.description
        if not walk.step(
            "verify",
            check_at,
            "inspector",
            actor="insp-01",
            data={"criteria": criteria, "public_summary": summary},
        ):
            continue
        units = {"territorial_unit": f"{district} government", "department_unit": wf.department_of(category)}
        if not walk.step(
            "hand_over",
            walk.item.updated_at + timedelta(days=float(rng.uniform(*d["hand_over"]))),
            "inspector",
            actor="insp-01",
            data=units,
        ):
            continue
        if walk.item.grade == "major" and rng.random() < float(p["supervised_share"]):
            sup_at = walk.item.updated_at + timedelta(days=float(rng.uniform(*d["supervise"])))
            if not walk.step(
                "supervise",
                sup_at,
                "supervisor",
                actor="sup-01",
                data={"authority": str(p["supervising_authority"])},
            ):
                continue
        owner: dict[str, Any]
        if owner_enterprise is not None:
            owner = {"role": "enterprise", "actor": f"ent-{hid}", "unit": owner_enterprise}
        elif rng.random() < 0.5:
            owner = {"role": "department", "actor": "dept-01", "unit": walk.item.department_unit}
        else:
            owner = {"role": "territorial_government", "actor": "gov-01", "unit": walk.item.territorial_unit}
        _plan_rectification(walk, spec, rng, owner)

    log = sorted((e for w in walks for e in w.events), key=lambda e: e.at)
    items = items_frame([w.item for w in walks], crs=crs)
    areas = pd.Series([str(c) for c in comm_of], index=items.index).where(
        items["community_id"].isna(), items["community_id"]
    )
    items["district"] = comm["district"].reindex(areas.to_numpy()).to_numpy() if "district" in comm else None

    # a few incidents near items open and overdue at the end, after their deadline
    late = [w.item for w in walks if is_overdue(w.item, end - timedelta(seconds=1))]
    late = sorted(late, key=lambda i: (i.grade != "major", i.deadline, i.number))
    picked = late[: int(p["incidents_near_open"])]
    rows, geoms = [], []
    for k, it in enumerate(picked, start=1):
        first = datetime.combine(it.deadline, datetime.min.time()) + timedelta(days=1)  # type: ignore[arg-type]
        when = first + (end - first) * float(rng.uniform(0.1, 0.9))
        ang, r = rng.uniform(0, 2 * np.pi), rng.uniform(0, float(p["incident_radius_m"]))
        here = shapely.get_coordinates(
            gpd.GeoSeries([shapely.Point(it.x, it.y)], crs=crs).to_crs(metric.crs).to_numpy()
        )[0]
        geoms.append(shapely.Point(here[0] + r * np.cos(ang), here[1] + r * np.sin(ang)))
        cat = str(hazards.loc[it.hazard_id, "category"]) if it.hazard_id else "residential_fire"
        rows.append(
            {
                "id": f"RI{k:03d}",
                "category": cat,
                "time": when.isoformat(timespec="minutes"),
                "hazard_id": it.hazard_id,
                "source": SOURCE_LABEL,
            }
        )
    incidents = gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["id", "category", "time", "hazard_id", "source"]),
        geometry=geoms,
        crs=metric.crs,
    ).to_crs(crs)
    incidents.index = pd.Index(incidents["id"].astype(str).to_numpy(), dtype=object)
    open_left = sum(w.item.status in OPEN_STATUSES for w in walks)
    if not open_left:
        msg = "The synthetic register has no open items. Fix: lengthen `months` or raise `stalled_share`."
        raise RegisterError(msg)
    return SyntheticRegister(items, events_frame(log), tuple(log), incidents, end, str(spec["meta"]["label"]))
