-- Rate limits held in the store, so that every server process counts against one budget
-- (`riskplan serve --workers N`): one row per counted event, by bucket (what is limited, e.g.
-- `anonymous_reports`) and key (e.g. the client address), at a wall-clock time in seconds.
-- A sliding window: a take counts the key's rows newer than the window and adds one, in one
-- write transaction (service.store.sqlite.SQLiteStore.take_window).
CREATE TABLE rate_windows (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX rate_windows_key ON rate_windows (bucket, key, at);
CREATE INDEX rate_windows_at ON rate_windows (bucket, at);
