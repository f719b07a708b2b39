-- The audit log (dev.caravan.policy.audit): every admin action, use of a revoked key, config reload and budget
-- refusal, append-only and hash-chained. Runs unchanged on H2 and PostgreSQL: times are epoch milliseconds, JSON is
-- kept as text (cut to its column by the writer, and then marked {"_truncated": true, ...}), strings are cut to
-- their column's width, NULs removed, before they are hashed and written.
--
-- The chain: row n's hash is the lower-case hex SHA-256 of
--     "caravan-audit-v1" || enc(prev_hash) || enc(seq) || enc(ts_millis) || enc(actor) || enc(role) || enc(action)
--     || enc(target) || enc(team) || enc(outcome) || enc(before_json) || enc(after_json) || enc(request_id)
--     || enc(source)
-- where enc(NULL) = "N" and enc(v) = "S" || <length of v's UTF-8 bytes, in decimal> || ":" || <v's UTF-8 bytes>
-- (numbers as their decimal text), so no two rows encode alike; prev_hash is the previous row's hash, 64 zeros for
-- row 1. A changed field breaks the row's own hash; a deleted, inserted or moved row breaks the next row's link; a
-- deleted last row is caught by audit_head. dev.caravan.policy.audit.AuditHash computes it.

CREATE TABLE audit_log (
    seq         BIGINT         NOT NULL PRIMARY KEY, -- 1, 2, 3, ... without gaps: given under audit_head's lock
    ts_millis   BIGINT         NOT NULL,
    actor       VARCHAR(256),                        -- a key id, master, an OIDC subject, or gateway
    role        VARCHAR(32),
    action      VARCHAR(64)    NOT NULL,             -- <noun>.<verb>: key.create, config.reload, budget.refused
    target      VARCHAR(512),                        -- key:<id>, team:<name>, config:gateway.yaml
    team        VARCHAR(128),                        -- whose row it is for a viewer or team-admin
    outcome     VARCHAR(16)    NOT NULL,             -- success or failure
    before_json VARCHAR(16384),                      -- secrets removed before it is written
    after_json  VARCHAR(16384),
    request_id  VARCHAR(64),
    source      VARCHAR(128),                        -- the caller's address
    prev_hash   CHAR(64)       NOT NULL,
    hash        CHAR(64)       NOT NULL
);

-- GET /admin/audit filters by time, actor, action and team, each paged by seq
CREATE INDEX audit_log_ts ON audit_log (ts_millis);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_team ON audit_log (team, seq);

-- The chain's head: one row, the last seq and its hash. Every append locks it (SELECT ... FOR UPDATE) until its
-- transaction ends, so appends from every replica sharing the database are serialised, commit in seq order, and a
-- rolled-back one leaves no gap; verify compares it with the last row, so deleting the newest rows is seen.
CREATE TABLE audit_head (
    id   INTEGER  NOT NULL PRIMARY KEY, -- always 1
    seq  BIGINT   NOT NULL,
    hash CHAR(64) NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
