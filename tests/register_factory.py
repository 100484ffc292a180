"""A small hand-made hidden-danger register (synthetic), with its figures worked out by hand.

Seven items in two districts, March 2026 the month under test (EPSG:32650, points 2 km
apart so that each incident below is near one item only):

====  ========  =================  =====  ======================================================
item  district  source             grade  history
====  ========  =================  =====  ======================================================
1     North     self-check (E1)    major  Feb 20 reported .. plan (deadline Mar 20) .. closed Mar 12
2     North     inspection (E1)    gen.   Mar 1 .. plan (Mar 15) .. claim .. reopened Mar 16 ..
                                          plan .. closed Mar 22 (late)
3     South     inspection (E2)    gen.   Mar 5, deadline Mar 20, rectifying at the month's end
                                          (overdue)
4     South     self-check (E2)    major  Mar 10, supervised Mar 12, rectifying (deadline Apr 30)
5     South     public, anonymous  -      Mar 15, rejected Mar 16 (not a danger)
6     South     public, named      gen.   Mar 25, verified Mar 26 (open, deadline Apr 25)
7     North     inspection         gen.   Feb 1 .. closed Feb 10 (outside March)
====  ========  =================  =====  ======================================================

Private texts carry the marker ``SECRET`` so that a test can look for them in public tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely import Point

from risk_models.register import Event, Item, events_frame, items_frame, report, transition

CRS = "EPSG:32650"
X0, Y0 = 400_000.0, 3_400_000.0
#: Where each item lies (2 km apart).
XY = {k: (X0 + 2000.0 * k, Y0) for k in range(1, 8)}
DISTRICT = {1: "North", 2: "North", 3: "South", 4: "South", 5: "South", 6: "South", 7: "North"}
REPORTERS = ("SECRET reporter Wang", "SECRET reporter Li", "SECRET resident Zhao")


def num(k: int) -> str:
    """The number of item ``k``."""
    return f"YH-2026-{k:06d}"


def t(month: int, day: int, hour: int = 9) -> datetime:
    """A time in 2026."""
    return datetime(2026, month, day, hour)


@dataclass
class HandMade:
    """The hand-made register: items, events (objects and frames), incidents, hazards."""

    items: dict[str, Item]
    log: list[Event]
    frame: gpd.GeoDataFrame
    events: pd.DataFrame
    incidents: gpd.GeoDataFrame
    hazards: gpd.GeoDataFrame


class _Book:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.log: list[Event] = []

    def report(self, k: int, at: datetime, **kw: Any) -> None:
        x, y = XY[k]
        item, ev = report(num(k), at=at, x=x, y=y, **kw)
        self.items[item.number] = item
        self.log.append(ev)

    def move(self, k: int, action: str, at: datetime, role: str, **kw: Any) -> None:
        kw.setdefault("actor", f"acct-{role}")
        item, ev = transition(self.items[num(k)], action, at=at, role=role, **kw)
        self.items[item.number] = item
        self.log.append(ev)


def _units(district: str, department: str) -> dict[str, str]:
    return {"territorial_unit": f"{district} government", "department_unit": department}


def build() -> HandMade:
    """Build the register of the module docstring."""
    b = _Book()
    ent = {"role": "enterprise", "actor": "acct-e1", "unit": "E1"}
    ent2 = {"role": "enterprise", "actor": "acct-e2", "unit": "E2"}
    insp = {"role": "inspector", "actor": "insp-1"}
    emb = "Emergency Management Bureau"

    # 1: major self-check of E1 at H1, closed on time in March
    b.report(
        1,
        t(2, 20),
        actor="acct-e1",
        role="enterprise",
        unit="E1",
        category="hazardous_chemicals",
        description="SECRET tank farm shut-off valve seized",
        source="enterprise_self_check",
        reporter=REPORTERS[0],
        hazard_id="H1",
        enterprise_id="E1",
        community_id="C1",
    )
    b.move(
        1, "verify", t(2, 21), **insp, data={"criteria": ["HC-05"], "public_summary": "tank farm shut-off"}
    )
    b.move(1, "hand_over", t(2, 22), **insp, data=_units("North", emb))
    plan = {"plan": "SECRET plan", "measures": ["replace valve"], "funds_yuan": 20000.0}
    b.move(1, "plan", t(2, 23), **ent, data={**plan, "deadline": date(2026, 3, 20)})
    b.move(1, "claim", t(3, 10), **ent)
    b.move(1, "accept", t(3, 12), **insp)

    # 2: general inspection find at E1 / H1, reopened once, closed late
    b.report(
        2,
        t(3, 1),
        actor="insp-1",
        role="inspector",
        category="gas",
        description="SECRET hose perished",
        source="government_inspection",
        reporter=REPORTERS[1],
        hazard_id="H1",
        enterprise_id="E1",
        community_id="C1",
    )
    b.move(2, "verify", t(3, 1, 10), **insp)
    b.move(
        2, "hand_over", t(3, 2), **insp, data=_units("North", "Housing and Urban-Rural Development Bureau")
    )
    b.move(2, "plan", t(3, 3), **ent, data={**plan, "deadline": date(2026, 3, 15)})
    b.move(2, "claim", t(3, 14), **ent)
    b.move(2, "reopen", t(3, 16), **insp, note="SECRET note: hose still cracked")
    b.move(2, "plan", t(3, 17), **ent, data={**plan, "deadline": date(2026, 3, 15)})
    b.move(2, "claim", t(3, 20), **ent)
    b.move(2, "accept", t(3, 22), **insp)

    # 3: general inspection find at E2 / H3, overdue at the month's end
    b.report(
        3,
        t(3, 5),
        actor="insp-1",
        role="inspector",
        category="electrical",
        description="SECRET bare wiring",
        source="government_inspection",
        reporter=REPORTERS[1],
        hazard_id="H3",
        enterprise_id="E2",
        community_id="C2",
    )
    b.move(3, "verify", t(3, 5, 10), **insp, data={"deadline": date(2026, 3, 20)})
    b.move(3, "hand_over", t(3, 6), **insp, data=_units("South", "Fire and Rescue Detachment"))
    b.move(3, "plan", t(3, 7), **ent2, data={**plan, "deadline": date(2026, 3, 20)})

    # 4: major self-check of E2 at H2, supervised, rectifying
    b.report(
        4,
        t(3, 10),
        actor="acct-e2",
        role="enterprise",
        unit="E2",
        category="dust_explosion",
        description="SECRET dust on beams",
        source="enterprise_self_check",
        reporter=REPORTERS[0],
        hazard_id="H2",
        enterprise_id="E2",
        community_id="C2",
    )
    b.move(4, "verify", t(3, 10, 10), **insp, data={"criteria": ["DE-03"]})
    b.move(4, "hand_over", t(3, 11), **insp, data=_units("South", emb))
    b.move(
        4, "supervise", t(3, 12), role="supervisor", actor="sup-1", data={"authority": "City Safety Office"}
    )
    b.move(4, "plan", t(3, 13), **ent2, data={**plan, "deadline": date(2026, 4, 30)})

    # 5: anonymous public report, rejected
    b.report(
        5,
        t(3, 15),
        actor="public",
        role="reporter",
        category="ebike_indoor_charging",
        description="SECRET e-bikes in the hall",
        source="public_report",
        community_id="C2",
    )
    b.move(5, "reject", t(3, 16), **insp, data={"reason": "not_a_danger"}, note="SECRET nothing found")

    # 6: named public report, verified late in the month
    b.report(
        6,
        t(3, 25),
        actor="public",
        role="reporter",
        category="fire_lane_blocked",
        description="SECRET cars in the lane",
        source="public_report",
        reporter=REPORTERS[2],
        community_id="C2",
    )
    b.move(6, "verify", t(3, 26), **insp)

    # 7: closed in February
    b.report(
        7,
        t(2, 1),
        actor="insp-1",
        role="inspector",
        category="fire_facilities",
        description="SECRET extinguishers expired",
        source="government_inspection",
        reporter=REPORTERS[1],
        community_id="C1",
    )
    b.move(7, "verify", t(2, 1, 10), **insp)
    b.move(7, "hand_over", t(2, 2), **insp, data=_units("North", "Fire and Rescue Detachment"))
    gov = {"role": "territorial_government", "actor": "gov-n", "unit": "North government"}
    b.move(7, "plan", t(2, 3), **gov, data={**plan, "deadline": date(2026, 2, 20)})
    b.move(7, "claim", t(2, 8), **gov)
    b.move(7, "accept", t(2, 10), **insp)

    log = sorted(b.log, key=lambda e: e.at)
    frame = items_frame(b.items.values(), crs=CRS)
    frame["district"] = [DISTRICT[int(n[-6:])] for n in frame.index]
    incidents = gpd.GeoDataFrame(
        {
            "time": [
                "2026-03-25T09:00",
                "2026-04-01T09:00",
                "2026-03-20T09:00",
                "2026-03-20T09:00",
                "2026-03-25T12:00",
                "2026-08-01T09:00",
            ],
            "hazard_id": [None, "H1", None, None, None, None],
        },
        geometry=[
            Point(XY[3][0] + 30, Y0),  # near 3: overdue (5 days)
            Point(X0 - 50_000, Y0),  # far away, at H1: 1 closed 20 days before, 2 closed 10 days before
            Point(XY[5][0], Y0 + 40),  # near 5: rejected 4 days before
            Point(XY[4][0] - 20, Y0),  # near 4: open, not overdue
            Point(XY[6][0], Y0 - 10),  # near 6: reported, not yet verified
            Point(XY[7][0], Y0),  # near 7, long after its closure: nothing
        ],
        crs=CRS,
        index=pd.Index(["I1", "I2", "I3", "I4", "I5", "I6"]),
    )
    hazards = gpd.GeoDataFrame(
        {"name": ["E1", "E2", "E2"], "category": ["hazardous_chemicals", "dust_explosion", "other"]},
        geometry=[Point(XY[1]), Point(XY[4]), Point(XY[3])],
        crs=CRS,
        index=pd.Index(["H1", "H2", "H3"]),
    )
    return HandMade(dict(b.items), log, frame, events_frame(log), incidents, hazards)
