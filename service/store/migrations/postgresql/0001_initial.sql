-- riskplan PostgreSQL store, schema version 1: scenarios, results and jobs.
--
-- Metadata lives in the schema `riskplan`; the layers of a scenario (and of its results and
-- job results) are PostGIS tables in a schema of their own, `scenario_<id>` (see
-- service/store/postgres.py), dropped with the scenario.
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS riskplan;

CREATE TABLE riskplan.scenarios (
    id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    label text NOT NULL,
    synthetic boolean NOT NULL,
    crs text NOT NULL,
    origin text NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    layers json NOT NULL,           -- {layer: feature count}, in the scenario's order
    bounds json,                    -- [west, south, east, north] in degrees
    layer_schema text NOT NULL,     -- the schema holding the layer tables
    metadata json NOT NULL,         -- the scenario's key/value metadata
    notes json NOT NULL             -- the notes every output repeats
);
CREATE INDEX scenarios_created ON riskplan.scenarios (created_at DESC, id);

CREATE TABLE riskplan.results (
    scenario_id text NOT NULL REFERENCES riskplan.scenarios (id) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('bytes', 'layers')),
    media_type text NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    data bytea,                     -- a bytes result
    layers json,                    -- a layer result: {layer: table in the scenario's schema}
    PRIMARY KEY (scenario_id, name)
);

CREATE TABLE riskplan.jobs (
    id text COLLATE "C" PRIMARY KEY,
    scenario_id text NOT NULL REFERENCES riskplan.scenarios (id) ON DELETE CASCADE,
    kind text NOT NULL,
    params json NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    progress double precision NOT NULL DEFAULT 0,
    message text NOT NULL DEFAULT '',
    created_at text COLLATE "C" NOT NULL,
    started_at text,
    finished_at text,
    cancel_requested boolean NOT NULL DEFAULT false,
    has_result boolean NOT NULL DEFAULT false,
    result json,                    -- the JSON result (json, not jsonb: keys keep their order)
    result_layers json NOT NULL DEFAULT '{}'  -- {layer: table in the scenario's schema}
);
CREATE INDEX jobs_scenario ON riskplan.jobs (scenario_id, created_at);
CREATE INDEX jobs_status ON riskplan.jobs (status);
CREATE INDEX jobs_created ON riskplan.jobs (created_at DESC, id);
