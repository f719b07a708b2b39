-- Stored /v1/responses answers (dev.caravan.responses): what previous_response_id continues and GET / DELETE
-- /v1/responses/{id} read, shared by every replica and kept across restarts. Written in batches off the request path,
-- read by primary key on the store's own threads. Runs unchanged on H2 and PostgreSQL: times are epoch milliseconds,
-- JSON is kept as TEXT (H2 reads TEXT as a VARCHAR of up to 10^9 characters, PostgreSQL as text).

CREATE TABLE stored_responses (
    id                VARCHAR(128)  NOT NULL PRIMARY KEY, -- resp_<32 hex>, the gateway's own
    owner             VARCHAR(1024) NOT NULL,             -- the key id (or token subject) that made it: only it reads
    created_millis    BIGINT        NOT NULL,
    expires_millis    BIGINT        NOT NULL,             -- past it the row is never returned, and purged
    response_json     TEXT          NOT NULL,             -- the response object, as GET /v1/responses/{id} answers it
    conversation_json TEXT          NOT NULL              -- the turns a follow-up continues (the answer's included)
);

-- the purge deletes expired rows in bounded batches, oldest expiry first
CREATE INDEX stored_responses_expires ON stored_responses (expires_millis);
