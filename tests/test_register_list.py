"""The register's list in SQL: the JSON SQLite makes equals the API's ItemOut, the filters equal Python's.

The reference is the slow path the list answered with before: an :class:`Item` per row,
:func:`service.api.register_models.item_record` and :func:`json.dumps`; the filters are checked
against a plain Python filter over every stored item, on the R*Tree and on the row walk.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

import gis
from risk_models.register import Item, load_workflow, report, synthetic_register, transition
from risk_models.register.vocab import OPEN_STATUSES, ROLES
from service.api.accounts import Actor
from service.api.register_access import list_view, scope_of
from service.api.register_models import ItemOut, item_record
from service.store import AreaRule, ItemQuery, Scope, SQLiteRegister, StoredItem
from service.store import _register_list as register_list
from tests.register_factory import build

WF = load_workflow()
NOW = datetime(2024, 7, 15, 10, 30)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteRegister:
    """The hand-made register, a synthetic one of the demo city (WGS84) and a few odd items."""
    reg = SQLiteRegister(tmp_path_factory.mktemp("list") / "r.sqlite3")
    hand = build()
    reg.append_events(lambda counters: hand.log)
    city = gis.demo_city(n_road_nodes=2000)
    syn = synthetic_register(city, seed=5, n_items=400)
    log, frame = syn.log_in_wgs84()
    reg.append_events(lambda counters: log, areas=frame[["district"]])
    # texts that JSON must escape, floats of 17 digits, a supervised major with funds
    odd = 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f 中文 \u2028 end'
    for k, (x, y) in enumerate([(112.53728374628374, 37.1), (1e-5, -0.0), (179.99999999999997, 89.5)]):

        def make(number: str, x: float = x, y: float = y, k: int = k) -> tuple:
            return report(
                number, at=datetime(2024, 7, 1 + k, 8), actor="a", role="admin", category="mining",
                x=x, y=y, description=odd, source="public_report" if k == 0 else "government_inspection",
                reporter=odd if k else None,
            )  # fmt: skip

        stored = reg.report(make, year=2024, areas={"district": "东区" if k else None, "street": odd})
        n = stored.item.number

        def step(item: Item, action: str, data: dict, role: str = "inspector", k: int = k) -> tuple:
            return transition(item, action, at=datetime(2024, 7, 2 + k, 9), actor="a", role=role, data=data)

        reg.move(n, lambda i: step(i, "verify", {"criteria": ["CM-02"], "public_summary": odd}))
        reg.move(
            n, lambda i: step(i, "hand_over", {"territorial_unit": "东区 government", "department_unit": odd})
        )
        if k == 1:
            reg.move(n, lambda i: step(i, "supervise", {"authority": "市安委办"}, role="supervisor"))
        plan = {"plan": odd, "measures": [odd, "二"], "funds_yuan": 1234.5678901234567 + k}
        plan["deadline"] = date(2024, 7, 10)
        reg.move(n, lambda i, plan=plan: step(i, "plan", plan, role="admin"))
    return reg


def _everything(reg: SQLiteRegister) -> list[StoredItem]:
    return reg.list_items(ItemQuery())


def _reference(stored: list[StoredItem], role: str, now: datetime) -> list[str]:
    return [
        json.dumps(item_record(s, role=role, wf=WF, now=now), ensure_ascii=False, allow_nan=False,
                   separators=(",", ":"))
        for s in stored
    ]  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("now", [NOW, datetime(2026, 3, 21, 8), datetime(2030, 1, 1)])
def test_list_json_is_item_out_byte_for_byte(store: SQLiteRegister, role: str, now: datetime) -> None:
    stored = _everything(store)
    assert len(stored) > 400
    view = list_view(Actor("x", role, "u"), WF, now)
    rows = store.list_json(ItemQuery(), view)
    assert [r[0] for r in rows] == [s.row for s in stored]
    assert [r[1] for r in rows] == _reference(stored, role, now)
    overdue = [json.loads(r[1])["overdue"] for r in rows]
    if now == NOW:
        assert any(overdue) and not all(overdue)
    for text in (r[1] for r in rows[:50]):
        ItemOut.model_validate_json(text)  # the documented model reads it


def _matches(s: StoredItem, q: ItemQuery) -> bool:
    i = s.item
    for name in ("status", "category", "grade", "department_unit", "territorial_unit", "enterprise_id"):
        if getattr(q, name) is not None and getattr(i, name) != getattr(q, name):
            return False
    if q.district is not None and s.district != q.district:
        return False
    if q.month is not None and i.reported_at.strftime("%Y-%m") != q.month:
        return False
    if q.overdue_on is not None and not (
        i.status in OPEN_STATUSES and i.deadline is not None and i.deadline < q.overdue_on
    ):
        return False
    if q.bbox is not None:
        w, so, e, n = q.bbox
        if not (w <= i.x <= e and so <= i.y <= n):
            return False
    if q.scope is not None:
        sc = q.scope
        value = getattr(i, sc.field)
        unset_ok = value is None and (
            sc.unassigned or (sc.area is not None and sc.area.contains(s.district, s.street))
        )
        if not (value == sc.value or unset_ok):
            return False
    return True


def _queries(stored: list[StoredItem]) -> list[ItemQuery]:
    rng = np.random.default_rng(7)
    xs = np.array([s.item.x for s in stored if abs(s.item.x) < 180])
    ys = np.array([s.item.y for s in stored if abs(s.item.x) < 180])
    districts = sorted({s.district for s in stored if s.district})
    units = sorted({s.item.department_unit for s in stored if s.item.department_unit})
    months = sorted({s.item.reported_at.strftime("%Y-%m") for s in stored})
    out = [ItemQuery()]
    for _ in range(120):
        kw: dict = {}
        if rng.random() < 0.3:
            kw["status"] = str(rng.choice(["rectifying", "closed", "verified", "reported", "rejected"]))
        if rng.random() < 0.2:
            kw["category"] = str(
                rng.choice(["gas", "electrical", "fire_lane_blocked", "hazardous_chemicals"])
            )
        if rng.random() < 0.2:
            kw["grade"] = str(rng.choice(["general", "major"]))
        if rng.random() < 0.2:
            kw["month"] = str(rng.choice(months))
        if rng.random() < 0.2:
            kw["overdue_on"] = date(2024, int(rng.integers(1, 13)), 1)
        if rng.random() < 0.4:
            w, s = np.quantile(xs, rng.random() * 0.8), np.quantile(ys, rng.random() * 0.8)
            size = rng.random() * 0.03
            kw["bbox"] = (float(w), float(s), float(w + size), float(s + size))
        if rng.random() < 0.3:
            kw["scope"] = Scope("department_unit", str(rng.choice(units)))
        elif rng.random() < 0.3:
            area = AreaRule(districts=(str(rng.choice(districts)),))
            kw["scope"] = Scope("territorial_unit", "东区 government", area=area)
        if rng.random() < 0.1:
            kw["district"] = str(rng.choice(districts))
        out.append(ItemQuery(**kw))
    return out


@pytest.mark.parametrize("probe", [0, 10**9], ids=["row-walk", "rtree"])
def test_list_filters_equal_a_python_filter(
    store: SQLiteRegister, probe: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register_list, "RTREE_PROBE", probe)
    stored = _everything(store)
    view = list_view(Actor("x", "admin"), WF, NOW)
    nonempty = 0
    for q in _queries(stored):
        expected = [s.row for s in stored if _matches(s, q)]
        assert [s.row for s in store.list_items(q)] == expected, q
        got = [r[0] for r in store.list_json(q, view, limit=7)]
        assert got == expected[:7], q
        if len(expected) > 7:  # keyset paging: the next page starts after the last row
            nxt = [r[0] for r in store.list_json(q, view, limit=7, after=got[-1])]
            assert nxt == expected[7:14], q
        nonempty += bool(expected)
    assert nonempty > 40


def test_antimeridian_box_and_scopes(store: SQLiteRegister) -> None:
    stored = _everything(store)
    far = [s.row for s in stored if (s.item.x >= 179.0 or s.item.x <= -179.0) and abs(s.item.y) <= 90]
    assert far and [s.row for s in store.list_items(ItemQuery(bbox=(179.0, -90.0, -179.0, 90.0)))] == far
    dept = Actor("d", "department", "Emergency Management Bureau")
    mine = store.list_items(ItemQuery(scope=scope_of(dept, WF)))
    assert mine and all(s.item.department_unit == dept.unit for s in mine)


def test_rtree_keeps_in_step_and_is_backfilled(tmp_path: Path) -> None:
    reg = SQLiteRegister(tmp_path / "r.sqlite3")
    hand = build()
    reg.append_events(lambda counters: hand.log)
    conn = sqlite3.connect(reg.db_path)
    rows = conn.execute("SELECT row, x, y FROM register_items ORDER BY row").fetchall()
    tree = conn.execute(
        "SELECT id, west, east, south, north FROM register_items_rtree ORDER BY id"
    ).fetchall()
    assert [r[0] for r in tree] == [r[0] for r in rows]
    assert all(t[1] <= r[1] <= t[2] and t[3] <= r[2] <= t[4] for r, t in zip(rows, tree, strict=True))
    # a store made before the tree existed gets it filled when opened
    conn.execute("DELETE FROM register_items_rtree")
    conn.commit()
    conn.close()
    reg.close()
    again = SQLiteRegister(tmp_path / "r.sqlite3")
    conn = sqlite3.connect(again.db_path)
    assert conn.execute("SELECT count(*) FROM register_items_rtree").fetchone()[0] == len(rows)
    conn.close()
    x, y = rows[0][1], rows[0][2]
    found = again.list_items(ItemQuery(bbox=(x - 1, y - 1, x + 1, y + 1)))
    assert [s.row for s in found] == [rows[0][0]]
