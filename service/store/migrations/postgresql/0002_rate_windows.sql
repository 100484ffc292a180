-- Rate limits held in the store, so that every server process counts against one budget
-- (`riskplan serve --workers N`): one row per counted event, by bucket (what is limited, e.g.
-- `anonymous_reports`) and key (e.g. the client address), at a wall-clock time in seconds.
-- A sliding window: a take counts the key's rows newer than the window and adds one, in one
-- transaction under a transaction-scoped advisory lock on (bucket, key)
-- (service.store.postgres.PostgresStore.take_window), as the SQLite store does in its table.
CREATE TABLE riskplan.rate_windows (
    bucket text NOT NULL,
    key text NOT NULL,
    at double precision NOT NULL
);
CREATE INDEX rate_windows_key ON riskplan.rate_windows (bucket, key, at);
CREATE INDEX rate_windows_at ON riskplan.rate_windows (bucket, at);
