-- A version of the register committed in order, for the caches of the list and the disclosures
-- (service.api.register_pages). Event ids come from an identity and may commit out of order
-- under concurrent writers (a transaction holding id 101 may commit after the one holding 102),
-- so `max(id)` can stay the same while an earlier event becomes visible. Every statement that
-- inserts events bumps this one row instead; its row lock is held to the end of the writing
-- transaction, so writers of events commit one after the other in version order, and a reader
-- that sees version v sees every event of the versions up to v.
CREATE TABLE riskplan.register_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    v bigint NOT NULL
);
INSERT INTO riskplan.register_version (v) SELECT coalesce(max(id), 0) FROM riskplan.register_events;

CREATE FUNCTION riskplan.register_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE riskplan.register_version SET v = v + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER register_events_bump_version AFTER INSERT ON riskplan.register_events
    FOR EACH STATEMENT EXECUTE FUNCTION riskplan.register_bump_version();
