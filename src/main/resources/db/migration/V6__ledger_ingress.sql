-- How each request came in: http, or the message bus it arrived on (jms, amqp, kafka), so spend and audits can be
-- read per transport (GET /admin/spend?group_by=ingress). Rows written before this column existed all came over HTTP.
-- ADD COLUMN ... DEFAULT: the same statement runs on H2 and PostgreSQL, and fills the old rows.

ALTER TABLE spend_ledger ADD COLUMN ingress VARCHAR(16) DEFAULT 'http' NOT NULL;
