-- Keys and teams made through the admin API (dev.caravan.auth.KeyStore), beside those in config/gateway.yaml.
-- Every replica loads them into memory and hears of each change (Redis pub/sub); the request path never reads
-- these tables. A key's secret is never stored: only its SHA-256 hex. Runs unchanged on H2 and PostgreSQL; times
-- are epoch milliseconds; the settings of each are one JSON object (limits, budget, models, regions, metadata).

CREATE TABLE api_teams (
    name           VARCHAR(128)   NOT NULL PRIMARY KEY,
    spec           VARCHAR(16384) NOT NULL,
    created_millis BIGINT         NOT NULL,
    updated_millis BIGINT         NOT NULL
);

CREATE TABLE api_keys (
    id                    VARCHAR(128)   NOT NULL PRIMARY KEY,
    sha256                CHAR(64)       NOT NULL UNIQUE,
    team                  VARCHAR(128),
    role                  VARCHAR(16)    NOT NULL,
    spec                  VARCHAR(16384) NOT NULL,
    expires_millis        BIGINT,                 -- null: never
    created_millis        BIGINT         NOT NULL,
    updated_millis        BIGINT         NOT NULL,
    last_used_millis      BIGINT,                 -- written in batches, a few seconds late
    previous_sha256       CHAR(64),               -- after a rotation with a grace period: the old secret ...
    previous_until_millis BIGINT,                 -- ... valid until then
    revoked_millis        BIGINT                  -- revoked keys stay, so a later use of one is audited
);

CREATE INDEX api_keys_team ON api_keys (team);

-- GET /admin/requests pages the whole ledger newest first, and /admin/spend windows it by time
CREATE INDEX spend_ledger_ts ON spend_ledger (ts_millis, request_id);
