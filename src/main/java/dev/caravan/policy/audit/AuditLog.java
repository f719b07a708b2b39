package dev.caravan.policy.audit;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * The audit log: an append-only, hash-chained table in the gateway's database (each row's hash covers the previous
 * row's hash and the row's own fields), so an edited, deleted or reordered row is found by {@link #verify}.
 */
public interface AuditLog extends AutoCloseable {

    /** No database (the ledger is off): nothing is kept, nothing can be read; the admin endpoints answer 503. */
    AuditLog OFF = new AuditLog() {
        @Override
        public boolean enabled() {
            return false;
        }

        @Override
        public void append(Connection tx, AuditEvent event) {
        }

        @Override
        public void record(AuditEvent event) {
        }

        @Override
        public List<AuditRow> find(AuditQuery query) {
            throw new IllegalStateException("the audit log is off: the gateway has no database");
        }

        @Override
        public Verification verify() {
            throw new IllegalStateException("the audit log is off: the gateway has no database");
        }

        @Override
        public void close() {
        }
    };

    /** False for {@link #OFF}: there is no table to read. */
    default boolean enabled() {
        return true;
    }

    /**
     * Appends {@code event} inside the caller's open transaction {@code tx} (auto-commit off): it commits or rolls
     * back with the admin change it records. Takes the chain's head lock until that transaction ends, so make it the
     * transaction's last statement before the commit: every other append waits for it (H2 gives up after 2 s).
     */
    void append(Connection tx, AuditEvent event) throws SQLException;

    /**
     * Queues {@code event} for a background writer (the request path: revoked-key uses, budget refusals; the reload
     * thread). Never blocks; a full queue drops the event and counts it ({@code caravan_audit_dropped_total}).
     */
    void record(AuditEvent event);

    /** Rows in time order (oldest first), filtered; each bound may be null. Blocking: never on an event loop. */
    List<AuditRow> find(AuditQuery query);

    /** Walks the whole chain; blocking. */
    Verification verify();

    /** Writes what is queued (bounded wait) and stops the writer. */
    @Override
    void close();

    /**
     * @param fromMillis inclusive, or null
     * @param toMillis   exclusive, or null
     * @param actor      exact, or null
     * @param action     exact, or null
     * @param team       rows of this team only (a viewer's or team-admin's scope), or null
     * @param limit      at most this many rows (1..1000)
     * @param afterSeq   rows after this sequence number (paging), or null
     */
    record AuditQuery(Long fromMillis, Long toMillis, String actor, String action, String team, int limit,
                      Long afterSeq) {
    }

    /** A stored row: its event, its place in the chain and its hash (hex). */
    record AuditRow(long seq, AuditEvent event, String prevHash, String hash) {
    }

    /**
     * @param ok        the chain is intact
     * @param rows      rows checked
     * @param firstBad  the sequence number of the first row that does not verify, or null
     * @param reason    why it does not ({@code edited}, {@code deleted}, {@code reordered}, ...), or null
     */
    record Verification(boolean ok, long rows, Long firstBad, String reason) {
    }
}
