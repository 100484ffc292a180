"""The synthetic register of ``bench_register.py``: 1,000,000 items, 10,000,000 events (labelled synthetic).

Written straight into the store's tables with ``executemany``, by the workflow's own path:
report, verify, hand over, plan, comments, claim, reopen, plan, claim, accept for most items,
a few stuck open and overdue, recent ones still open. Items are spread over six years, 10
events each on average. :func:`check_sample` replays a sample with
:func:`risk_models.register.replay` and compares it with the stored projection, so the data is
what the service itself would store.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from risk_models.register.vocab import CATEGORIES as VOCAB_CATEGORIES

__all__ = ["CATEGORIES", "DAYS", "DEPARTMENTS", "DISTRICTS", "START", "check_sample", "generate"]

START = datetime(2021, 1, 1, 8)
DAYS = 6 * 365
# general items of every category but mining (the benchmark's majors are mining items)
CATEGORIES = tuple(c for c in VOCAB_CATEGORIES if c != "mining")
DEPARTMENTS = (
    "Fire and Rescue Detachment",
    "Housing and Urban-Rural Development Bureau",
    "Market Regulation Bureau",
    "Emergency Management Bureau",
)
DISTRICTS = ("Xiaodian", "Yingze", "Xinghualing", "Jiancaoping", "Wanbailin", "Jinyuan")


def _iso(t: datetime) -> str:
    return t.isoformat()


def _rows(k0: int, day0: np.ndarray, rng: np.random.Generator, end: datetime):
    """Items and events rows of items ``k0 .. k0 + n - 1`` (the store's column order)."""
    from service.store._register_sql import EVENT_COLUMNS, ITEM_FIELDS

    assert EVENT_COLUMNS[0] == "number"
    n = len(day0)
    cat = rng.integers(0, len(CATEGORIES), n)
    major = rng.random(n) < 0.08
    scale = rng.lognormal(0.0, 0.45, n)
    stuck = rng.random(n) < 0.01
    lon = 112.45 + rng.random(n) * 0.2
    lat = 37.75 + rng.random(n) * 0.2
    items, events = [], []
    for j in range(n):
        k = k0 + j
        t0 = START + timedelta(days=float(day0[j]))
        year = t0.year
        number = f"YH-{year}-{k:07d}"
        category = "mining" if major[j] else CATEGORIES[cat[j]]
        grade = "major" if major[j] else "general"
        limit = 60 if major[j] else 30
        dept = DEPARTMENTS[k % len(DEPARTMENTS)]
        district = DISTRICTS[k % len(DISTRICTS)]
        terr = f"{district} government"
        s = float(scale[j])
        verify_at = t0 + timedelta(hours=20)
        deadline = (verify_at + timedelta(days=limit)).date()
        steps: list[tuple[str, datetime, str | None, str | None, dict]] = [
            (
                "report",
                t0,
                None,
                "reported",
                {
                    "category": category,
                    "x": float(lon[j]),
                    "y": float(lat[j]),
                    "description": "synthetic",
                    "source": "government_inspection",
                    "reporter": "bench",
                },
            ),
            (
                "verify",
                verify_at,
                "reported",
                "verified",
                {"criteria": ["CM-02"] if major[j] else [], "grade": grade, "deadline": deadline.isoformat()},
            ),
            (
                "hand_over",
                t0 + timedelta(days=2),
                "verified",
                "handed_over",
                {"territorial_unit": terr, "department_unit": dept},
            ),
            (
                "plan",
                t0 + timedelta(days=3),
                "handed_over",
                "rectifying",
                {"plan": "p", "measures": ["m"], "funds_yuan": 1000.0, "deadline": deadline.isoformat()},
            ),
            ("comment", t0 + timedelta(days=4), "rectifying", "rectifying", {}),
        ]
        recent = (end - t0).days < 90
        if stuck[j] or (recent and rng.random() < 0.6):
            for c in range(5):
                steps.append(("comment", t0 + timedelta(days=5 + c), "rectifying", "rectifying", {}))
        else:
            for name, d, frm, to in (
                ("claim", 8, "rectifying", "rectified"),
                ("reopen", 10, "rectified", "reopened"),
                ("plan", 11, "reopened", "rectifying"),
                ("claim", 16, "rectifying", "rectified"),
                ("accept", 20, "rectified", "closed"),
            ):
                data = (
                    {"plan": "p2", "measures": ["m"], "funds_yuan": 1000.0, "deadline": deadline.isoformat()}
                    if name == "plan"
                    else {}
                )
                steps.append((name, t0 + timedelta(days=4 + d * s), frm, to, data))
        if steps[-1][1] > end:  # not yet happened
            steps = [st for st in steps if st[1] <= end] or steps[:1]
        times = {}
        for seq, (action, at, frm, to, data) in enumerate(steps, start=1):
            role = (
                "inspector"
                if action in ("report", "verify", "hand_over", "reopen", "accept")
                else "department"
            )
            unit = dept if role == "department" else None
            note = "synthetic note" if action in ("comment", "reopen") else ""
            events.append(
                (
                    number,
                    seq,
                    action,
                    _iso(at),
                    f"bench-{role}",
                    role,
                    unit,
                    frm,
                    to,
                    note,
                    "[]",
                    data.get("grade"),
                    data.get("deadline"),
                    None,
                    data.get("territorial_unit"),
                    data.get("department_unit"),
                    json.dumps(data, sort_keys=True, ensure_ascii=False),
                )
            )
            times.setdefault(action, []).append(at)
        last = steps[-1]
        status = last[3]
        first = {a: ts[0] for a, ts in times.items()}
        latest = {a: ts[-1] for a, ts in times.items()}
        rec = {
            "number": number,
            "status": status,
            "category": category,
            "x": float(lon[j]),
            "y": float(lat[j]),
            "description": "synthetic",
            "source": "government_inspection",
            "reporter": "bench",
            "hazard_id": None,
            "enterprise_id": None,
            "community_id": None,
            "reported_at": _iso(t0),
            "updated_at": _iso(last[1]),
            "version": len(steps),
            "grade": grade if "verify" in times else None,
            "criteria": json.dumps(["CM-02"] if major[j] and "verify" in times else []),
            "public_summary": None,
            "territorial_unit": terr if "hand_over" in times else None,
            "department_unit": dept if "hand_over" in times else None,
            "plan": ("p2" if len(times.get("plan", [])) > 1 else "p") if "plan" in times else None,
            "measures": json.dumps(["m"] if "plan" in times else []),
            "funds_yuan": 1000.0 if "plan" in times else None,
            "deadline": deadline.isoformat() if "verify" in times else None,
            "supervised_by": None,
            "reject_reason": None,
            "duplicate_of": None,
            "extensions": 0,
            "reopens": len(times.get("reopen", [])),
            "verified_at": first.get("verify"),
            "handed_over_at": first.get("hand_over"),
            "rectifying_at": latest.get("plan"),
            "rectified_at": latest.get("claim"),
            "closed_at": latest.get("accept"),
            "rejected_at": None,
            "supervised_at": None,
        }
        for key in ("verified_at", "handed_over_at", "rectifying_at", "rectified_at", "closed_at"):
            rec[key] = _iso(rec[key]) if rec[key] is not None else None
        items.append((k, *(rec[f] for f in ITEM_FIELDS), district, None, None, None))
    return items, events


def generate(db: Path, n_items: int, seed: int, end: datetime) -> tuple[int, float]:
    """Write ``n_items`` items and their events into the store's tables; (events, seconds)."""
    from service.store import SQLiteRegister
    from service.store._register_sql import EVENT_COLUMNS, ITEM_FIELDS, STATES_BULK_LOAD

    SQLiteRegister(db).close()
    t = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master "
        "WHERE type='index' AND sql IS NOT NULL AND name LIKE 'register_%'"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    item_sql = (
        f"INSERT INTO register_items (row, {', '.join(ITEM_FIELDS)}, "
        "district, street, reported_by, follow_digest) "
        f"VALUES ({', '.join('?' * (len(ITEM_FIELDS) + 5))})"
    )
    marks = ", ".join("?" * len(EVENT_COLUMNS))
    event_sql = f"INSERT INTO register_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"
    rng = np.random.default_rng(seed)
    # items are stored in the order they were reported, as a live register stores them
    days = np.sort(rng.uniform(0, DAYS, n_items))
    n_events = 0
    chunk = 20_000
    # the states of every event in one pass after the rows (as an import folds them), not by
    # the per-event trigger (which makes the generation several times slower)
    conn.execute("INSERT INTO register_bulk_load VALUES (0)")
    for k0 in range(1, n_items + 1, chunk):
        items, events = _rows(k0, days[k0 - 1 : k0 - 1 + chunk], rng, end)
        conn.execute("BEGIN")
        conn.executemany(item_sql, items)
        conn.executemany(event_sql, events)
        conn.execute("COMMIT")
        n_events += len(events)
        print(f"\r  {k0 + len(items) - 1:,} items, {n_events:,} events", end="", flush=True)
    print()
    conn.execute("DELETE FROM register_bulk_load")
    conn.execute("PRAGMA cache_size = -1048576")
    conn.execute("BEGIN")
    conn.execute(STATES_BULK_LOAD, (0,))
    conn.execute("COMMIT")
    years = conn.execute("SELECT substr(number, 4, 4), max(row) FROM register_items GROUP BY 1").fetchall()
    conn.executemany(
        "INSERT OR REPLACE INTO register_counters VALUES (?, ?)", [(int(y), int(r)) for y, r in years]
    )
    for _, sql in indexes:  # the indexes again
        conn.execute(sql)
    conn.execute("ANALYZE")
    conn.close()
    return n_events, time.perf_counter() - t


def check_sample(db: Path, n: int, seed: int) -> None:
    """Replay ``n`` random items' events with the domain and compare with the stored items."""
    from risk_models.register import replay
    from service.store import SQLiteRegister

    reg = SQLiteRegister(db)
    total = reg.count()[0]
    rng = np.random.default_rng(seed)
    rows = sorted({int(r) for r in rng.integers(1, total + 1, n)})
    conn = sqlite3.connect(db)
    numbers = [
        conn.execute("SELECT number FROM register_items WHERE row = ?", (r,)).fetchone()[0] for r in rows
    ]
    conn.close()
    bad = [num for num in numbers if replay(reg.events(num)) != reg.get(num).item]
    reg.close()
    if bad:
        sys.exit(f"the generated register does not replay: {bad[:5]}")
    print(
        f"  {len(numbers)} random items replayed with risk_models.register.replay: equal to the stored items"
    )
