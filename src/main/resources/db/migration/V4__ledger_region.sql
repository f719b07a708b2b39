-- Data residency: the region of the deployment that served each request (its `region:` label in config), so an
-- audit can show where a team's requests were processed. NULL: the deployment names no region, or none was called.
-- Plain ALTER TABLE ... ADD COLUMN: the same statement runs on H2 and PostgreSQL, and old rows read NULL.

ALTER TABLE spend_ledger ADD COLUMN region VARCHAR(64);
