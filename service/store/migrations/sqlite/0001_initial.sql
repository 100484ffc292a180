-- riskplan's SQLite schema as of the first release with migrations: scenarios, results and jobs;
-- the hidden-danger register (items, append-only events, counters, attachments, accounts, the
-- list's indexes and its R*Tree); the risk grades. Written with IF NOT EXISTS throughout, so that
-- it also brings a database made before migrations existed (no `schema_version` table) up to
-- version 1 in place: such a database holds this schema, or an older subset of it.

-- scenarios, results and jobs (service.store.sqlite)
CREATE TABLE IF NOT EXISTS scenarios (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    synthetic INTEGER NOT NULL,
    crs TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    layers TEXT NOT NULL,
    bounds TEXT
);
CREATE TABLE IF NOT EXISTS results (
    scenario_id TEXT NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scenario_id, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    scenario_id TEXT NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    has_result INTEGER NOT NULL DEFAULT 0,
    result_layers TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_scenario ON jobs (scenario_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);

-- the hidden-danger register (service.store.register_sqlite)
CREATE TABLE IF NOT EXISTS register_items (
    row INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    status TEXT,
    category TEXT,
    x REAL NOT NULL,
    y REAL NOT NULL,
    description TEXT,
    source TEXT,
    reporter TEXT,
    hazard_id TEXT,
    enterprise_id TEXT,
    community_id TEXT,
    reported_at TEXT,
    updated_at TEXT,
    version INTEGER NOT NULL,
    grade TEXT,
    criteria TEXT,
    public_summary TEXT,
    territorial_unit TEXT,
    department_unit TEXT,
    plan TEXT,
    measures TEXT,
    funds_yuan REAL,
    deadline TEXT,
    supervised_by TEXT,
    reject_reason TEXT,
    duplicate_of TEXT,
    extensions INTEGER NOT NULL,
    reopens INTEGER NOT NULL,
    verified_at TEXT,
    handed_over_at TEXT,
    rectifying_at TEXT,
    rectified_at TEXT,
    closed_at TEXT,
    rejected_at TEXT,
    supervised_at TEXT,
    district TEXT,
    street TEXT,
    reported_by TEXT,
    follow_digest BLOB
);
CREATE TABLE IF NOT EXISTS register_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL REFERENCES register_items(number),
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    unit TEXT,
    from_status TEXT,
    to_status TEXT,
    note TEXT NOT NULL DEFAULT '',
    attachments TEXT NOT NULL DEFAULT '[]',
    grade TEXT,
    deadline TEXT,
    authority TEXT,
    territorial_unit TEXT,
    department_unit TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    UNIQUE (number, seq)
);
CREATE TABLE IF NOT EXISTS register_counters (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS register_attachments (
    ref TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS register_accounts (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    unit TEXT,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    salt BLOB NOT NULL,
    digest BLOB NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER IF NOT EXISTS register_events_no_update BEFORE UPDATE ON register_events
BEGIN SELECT RAISE(ABORT, 'register_events is append-only: events are never updated'); END;
CREATE TRIGGER IF NOT EXISTS register_events_no_delete BEFORE DELETE ON register_events
BEGIN SELECT RAISE(ABORT, 'register_events is append-only: events are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS register_items_no_delete BEFORE DELETE ON register_items
BEGIN SELECT RAISE(ABORT, 'register items are never deleted, only closed or rejected'); END;
CREATE TRIGGER IF NOT EXISTS register_attachments_no_update BEFORE UPDATE ON register_attachments
BEGIN SELECT RAISE(ABORT, 'register attachments are never changed'); END;
CREATE TRIGGER IF NOT EXISTS register_attachments_no_delete BEFORE DELETE ON register_attachments
BEGIN SELECT RAISE(ABORT, 'register attachments are never deleted'); END;
CREATE INDEX IF NOT EXISTS register_items_status ON register_items (status, row);
CREATE INDEX IF NOT EXISTS register_items_department ON register_items (department_unit, row);
CREATE INDEX IF NOT EXISTS register_items_territorial ON register_items (territorial_unit, row);
CREATE INDEX IF NOT EXISTS register_items_enterprise ON register_items (enterprise_id, row);
CREATE INDEX IF NOT EXISTS register_items_district ON register_items (district, row);
CREATE INDEX IF NOT EXISTS register_items_category ON register_items (category, row);
CREATE INDEX IF NOT EXISTS register_items_reported ON register_items (reported_at);
CREATE INDEX IF NOT EXISTS register_items_deadline ON register_items (deadline);
DROP INDEX IF EXISTS register_items_closed;
CREATE INDEX IF NOT EXISTS register_items_closed_window ON register_items (closed_at, reported_at, row);
CREATE INDEX IF NOT EXISTS register_items_rejected_window ON register_items (rejected_at, reported_at, row);
DROP INDEX IF EXISTS register_items_xy;  -- boxes: register_items_rtree
CREATE INDEX IF NOT EXISTS register_items_open ON register_items (row) WHERE status IN ('verified', 'handed_over', 'rectifying', 'rectified', 'reopened');
CREATE INDEX IF NOT EXISTS register_items_department_status ON register_items (department_unit, status, row);
CREATE INDEX IF NOT EXISTS register_items_category_grade ON register_items (category, grade, row);
CREATE INDEX IF NOT EXISTS register_items_grade ON register_items (grade, row);
CREATE INDEX IF NOT EXISTS register_items_month ON register_items (substr(reported_at, 1, 7), row);
CREATE INDEX IF NOT EXISTS register_items_department_month
    ON register_items (department_unit, substr(reported_at, 1, 7), row);
CREATE INDEX IF NOT EXISTS register_items_territorial_month
    ON register_items (territorial_unit, substr(reported_at, 1, 7), row);
CREATE INDEX IF NOT EXISTS register_items_overdue
    ON register_items (row, status, deadline, department_unit, territorial_unit, district) WHERE status IN ('verified', 'handed_over', 'rectifying', 'rectified', 'reopened');
CREATE INDEX IF NOT EXISTS register_items_overdue_department
    ON register_items (department_unit, row, status, deadline) WHERE status IN ('verified', 'handed_over', 'rectifying', 'rectified', 'reopened');
CREATE INDEX IF NOT EXISTS register_items_overdue_territorial
    ON register_items (territorial_unit, row, status, deadline) WHERE status IN ('verified', 'handed_over', 'rectifying', 'rectified', 'reopened');
CREATE VIRTUAL TABLE IF NOT EXISTS register_items_rtree USING rtree(id, west, east, south, north);
CREATE TRIGGER IF NOT EXISTS register_items_rtree_insert AFTER INSERT ON register_items
BEGIN INSERT OR REPLACE INTO register_items_rtree VALUES (new.row, new.x, new.x, new.y, new.y); END;
CREATE TRIGGER IF NOT EXISTS register_items_rtree_update AFTER UPDATE OF x, y ON register_items
WHEN old.x IS NOT new.x OR old.y IS NOT new.y
BEGIN INSERT OR REPLACE INTO register_items_rtree VALUES (new.row, new.x, new.x, new.y, new.y); END;

-- risk grades of hazard sources, append-only with their history
CREATE TABLE IF NOT EXISTS register_risk_grades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hazard_id TEXT NOT NULL,
    part TEXT NOT NULL DEFAULT '',
    method TEXT NOT NULL,
    factors TEXT NOT NULL,
    score REAL NOT NULL,
    basis TEXT NOT NULL,
    grade TEXT NOT NULL,
    colour TEXT NOT NULL,
    control_level TEXT NOT NULL,
    control_measures TEXT NOT NULL,
    lon REAL,
    lat REAL,
    graded_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS register_risk_grades_source ON register_risk_grades (hazard_id, part, id);
CREATE TRIGGER IF NOT EXISTS register_risk_grades_no_update BEFORE UPDATE ON register_risk_grades
BEGIN SELECT RAISE(ABORT, 'register_risk_grades keeps its history: a re-grade appends a row'); END;
CREATE TRIGGER IF NOT EXISTS register_risk_grades_no_delete BEFORE DELETE ON register_risk_grades
BEGIN SELECT RAISE(ABORT, 'register_risk_grades keeps its history: grades are never deleted'); END;
