-- The spend ledger (dev.caravan.policy.ledger): one row per request that reached the policies, written in batches
-- off the request path, and where each budget window began, so a restart rebuilds the spend of the open windows.
-- Runs unchanged on H2 and PostgreSQL: times are epoch milliseconds (BIGINT, exact, no time-zone rules), money is
-- nano-dollars (1e-9 USD) in BIGINT, strings are cut to their column's width before they are written.

CREATE TABLE spend_ledger (
    request_id        VARCHAR(64)  NOT NULL PRIMARY KEY, -- the gateway's own id: a batch retried after a lost commit
                                                         -- cannot count a request twice
    ts_millis         BIGINT       NOT NULL,             -- when the request ended; it began at ts_millis - latency_ms
    key_id            VARCHAR(128),
    team              VARCHAR(128),
    model             VARCHAR(256),
    deployment        VARCHAR(256),
    operation         VARCHAR(32),
    status            INTEGER      NOT NULL,
    outcome           VARCHAR(32),
    error_code        VARCHAR(128),
    prompt_tokens     BIGINT       NOT NULL,
    completion_tokens BIGINT       NOT NULL,
    cached_tokens     BIGINT       NOT NULL,
    cost_nanos        BIGINT       NOT NULL,
    latency_ms        BIGINT       NOT NULL,
    usage_estimated   BOOLEAN      NOT NULL,
    stream            BOOLEAN      NOT NULL
);

-- the rebuild on start sums a key's or a team's spend since its window began
CREATE INDEX spend_ledger_key_ts ON spend_ledger (key_id, ts_millis);
CREATE INDEX spend_ledger_team_ts ON spend_ledger (team, ts_millis);

CREATE TABLE budget_windows (
    scope_kind     VARCHAR(8)   NOT NULL, -- 'key' or 'team'
    scope_id       VARCHAR(128) NOT NULL,
    period         VARCHAR(16)  NOT NULL, -- as written in config: 1h, 1d, 7d, 30d, month
    started_millis BIGINT       NOT NULL, -- the latest window's start; an earlier one is replaced
    PRIMARY KEY (scope_kind, scope_id, period)
);
