-- Each item's state after each of its events (issue 15: a month's disclosure in <= 2 s), so
-- that the state of an item at a time is one short range of its own rows: the row of its last
-- event before that time (service.store._register_frames.snapshot_sql). Before this table the
-- month-end states were aggregated over every earlier event of each item updated since the
-- month's end, about 300,000 scattered event rows for a month of a 1M-item register (1-3 s).
--
-- The columns are risk_models.register.SNAPSHOT_COLUMNS, as the domain's snapshot folds them
-- over an item's events in seq order: the last non-missing state, grade, deadline, authority
-- and units; the first event's time; the first (verify, hand over, supervise) or last (plan,
-- claim, accept, reject) time of each milestone; the counts of extensions and reopens; the
-- number of events and the last one's time. A trigger adds the row of every new event,
-- folded from the row of the item's previous event; a bulk import (register_bulk_load holds a
-- row, migration 0003) folds its new items' events in one INSERT ... SELECT instead
-- (service.store._register_sql.STATES_BULK_LOAD). The events are append-only, and so are
-- these rows (triggers refuse UPDATE and DELETE).
CREATE TABLE register_states (
    number TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
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
    updated_at TEXT NOT NULL,
    PRIMARY KEY (number, seq)
) WITHOUT ROWID;

-- the states of the events stored before this table, by the same fold as window aggregates
-- in seq order ("last non-missing" as the value of the greatest seq, as snapshot_sql did)
INSERT INTO register_states
SELECT number, seq, at,
    substr(max(CASE WHEN to_status IS NOT NULL THEN (seq + 1000000000) || to_status END) OVER w, 11),
    substr(max(CASE WHEN grade IS NOT NULL THEN (seq + 1000000000) || grade END) OVER w, 11),
    substr(max(CASE WHEN deadline IS NOT NULL THEN (seq + 1000000000) || deadline END) OVER w, 11),
    substr(max(CASE WHEN authority IS NOT NULL THEN (seq + 1000000000) || authority END) OVER w, 11),
    substr(max(CASE WHEN territorial_unit IS NOT NULL THEN (seq + 1000000000) || territorial_unit END) OVER w, 11),
    substr(max(CASE WHEN department_unit IS NOT NULL THEN (seq + 1000000000) || department_unit END) OVER w, 11),
    min(at) OVER w,
    min(CASE WHEN action = 'verify' THEN at END) OVER w,
    min(CASE WHEN action = 'hand_over' THEN at END) OVER w,
    max(CASE WHEN action = 'plan' THEN at END) OVER w,
    max(CASE WHEN action = 'claim' THEN at END) OVER w,
    max(CASE WHEN action = 'accept' THEN at END) OVER w,
    max(CASE WHEN action = 'reject' THEN at END) OVER w,
    min(CASE WHEN action = 'supervise' THEN at END) OVER w,
    sum(action = 'extend') OVER w,
    sum(action = 'reopen') OVER w,
    count(*) OVER w,
    max(at) OVER w
FROM register_events
WINDOW w AS (PARTITION BY number ORDER BY seq ROWS UNBOUNDED PRECEDING);

CREATE TRIGGER register_states_insert AFTER INSERT ON register_events
WHEN NOT EXISTS (SELECT 1 FROM register_bulk_load)
BEGIN
    INSERT INTO register_states
    SELECT new.number, new.seq, new.at,
        coalesce(new.to_status, p.status),
        coalesce(new.grade, p.grade),
        coalesce(new.deadline, p.deadline),
        coalesce(new.authority, p.supervised_by),
        coalesce(new.territorial_unit, p.territorial_unit),
        coalesce(new.department_unit, p.department_unit),
        coalesce(min(p.reported_at, new.at), new.at),
        CASE WHEN new.action = 'verify' THEN coalesce(min(p.verified_at, new.at), new.at) ELSE p.verified_at END,
        CASE WHEN new.action = 'hand_over' THEN coalesce(min(p.handed_over_at, new.at), new.at) ELSE p.handed_over_at END,
        CASE WHEN new.action = 'plan' THEN coalesce(max(p.rectifying_at, new.at), new.at) ELSE p.rectifying_at END,
        CASE WHEN new.action = 'claim' THEN coalesce(max(p.rectified_at, new.at), new.at) ELSE p.rectified_at END,
        CASE WHEN new.action = 'accept' THEN coalesce(max(p.closed_at, new.at), new.at) ELSE p.closed_at END,
        CASE WHEN new.action = 'reject' THEN coalesce(max(p.rejected_at, new.at), new.at) ELSE p.rejected_at END,
        CASE WHEN new.action = 'supervise' THEN coalesce(min(p.supervised_at, new.at), new.at) ELSE p.supervised_at END,
        coalesce(p.extensions, 0) + (new.action = 'extend'),
        coalesce(p.reopens, 0) + (new.action = 'reopen'),
        coalesce(p.version, 0) + 1,
        coalesce(max(p.updated_at, new.at), new.at)
    FROM (SELECT 1) LEFT JOIN (
        SELECT * FROM register_states WHERE number = new.number AND seq < new.seq ORDER BY seq DESC LIMIT 1
    ) AS p;
END;
CREATE TRIGGER register_states_no_update BEFORE UPDATE ON register_states
BEGIN SELECT RAISE(ABORT, 'register_states is append-only: an event''s state never changes'); END;
CREATE TRIGGER register_states_no_delete BEFORE DELETE ON register_states
BEGIN SELECT RAISE(ABORT, 'register_states is append-only: an event''s state is never deleted'); END;
