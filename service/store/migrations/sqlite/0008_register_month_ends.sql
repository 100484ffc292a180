-- The month-end states of each ended month, materialised (issue 15: a month's disclosure in
-- <= 2 s). A month's disclosure is made from the states at the month's end of the items that
-- can count in it (service.store._register_frames.snapshot_sql over the window of
-- SQLiteRegister._window): on a cold cache that query reads every item closed since the month
-- began, 1-2 s for a month of a 1M-item register. An ended month's rows are kept here once
-- made (on the month's first request, or by SQLiteRegister.build_month_ends) and read back as
-- one range of this table.
--
-- The rows stay exactly what the query gives (tested against it with random event orders,
-- tests/test_register_month_ends.py): they change only when
--   * an event dated before the month's end is stored (a back-dated event, or an import of
--     past inspections): every month ending after it is cleared;
--   * an item leaves a final state (closed, rejected) for an open one: it now counts in every
--     month that began after it became final, which are cleared.
-- Nothing else can change them: a later event is dated after the month's end, and an item
-- never leaves a month's window once in it. A bulk import (register_bulk_load holds a row)
-- clears the months ending after its earliest event in one statement instead
-- (SQLiteRegister.import_items).
CREATE TABLE register_month_ends_built (
    month TEXT PRIMARY KEY,
    month_start TEXT NOT NULL,
    month_end TEXT NOT NULL,
    items INTEGER NOT NULL,
    built_at TEXT NOT NULL
);
CREATE TABLE register_month_ends (
    month TEXT NOT NULL,
    number TEXT NOT NULL,
    status TEXT,
    grade TEXT,
    deadline TEXT,
    supervised_by TEXT,
    territorial_unit TEXT,
    department_unit TEXT,
    reported_at TEXT,
    verified_at TEXT,
    handed_over_at TEXT,
    rectifying_at TEXT,
    rectified_at TEXT,
    closed_at TEXT,
    rejected_at TEXT,
    supervised_at TEXT,
    extensions INTEGER NOT NULL,
    reopens INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT,
    PRIMARY KEY (month, number)
) WITHOUT ROWID;

CREATE TRIGGER register_month_ends_clear AFTER DELETE ON register_month_ends_built
BEGIN DELETE FROM register_month_ends WHERE month = old.month; END;

CREATE TRIGGER register_month_ends_stale_dated AFTER INSERT ON register_events
WHEN NOT EXISTS (SELECT 1 FROM register_bulk_load)
    AND new.at < (SELECT max(month_end) FROM register_month_ends_built)
BEGIN DELETE FROM register_month_ends_built WHERE month_end > new.at; END;

CREATE TRIGGER register_month_ends_stale_reopened AFTER INSERT ON register_events
WHEN new.from_status IN ('closed', 'rejected') AND new.to_status IS NOT NULL
    AND new.to_status NOT IN ('closed', 'rejected')
    AND EXISTS (SELECT 1 FROM register_month_ends_built)
BEGIN
    -- the item became final at its last closing or rejection before this event (stored
    -- states, migration 0006); without one, every month is cleared
    DELETE FROM register_month_ends_built WHERE month_start > coalesce((
        SELECT max(coalesce(s.closed_at, ''), coalesce(s.rejected_at, '')) FROM register_states AS s
        WHERE s.number = new.number AND s.seq < new.seq ORDER BY s.seq DESC LIMIT 1
    ), '');
END;
