package dev.caravan.policy.audit;

import dev.caravan.policy.audit.AuditLog.AuditRow;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends to the chain inside a transaction the caller owns: locks the head row ({@code SELECT ... FOR UPDATE},
 * which H2 and PostgreSQL both honour), numbers and hashes the rows after it, inserts them and moves the head. The
 * lock is held until the caller's transaction ends, so a second appender (another thread, another replica) waits and
 * then reads the head this one left; a rollback undoes the rows and the head together: no gap.
 */
final class AuditChain {

    static final String COLUMNS = "seq, ts_millis, actor, role, action, target, team, outcome, before_json, "
            + "after_json, request_id, source, prev_hash, hash";

    private AuditChain() {
    }

    /** Appends {@code events} in order; the rows as they will be once {@code tx} commits. */
    static List<AuditRow> append(Connection tx, List<StoredEvent> events) throws SQLException {
        long seq;
        String prev;
        try (PreparedStatement s = tx.prepareStatement("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE");
             ResultSet r = s.executeQuery()) {
            if (!r.next()) {
                throw new SQLException("the audit log's head row is missing (audit_head): the chain cannot go on",
                        "42000");
            }
            seq = r.getLong(1);
            prev = r.getString(2).trim();
        }
        List<AuditRow> rows = new ArrayList<>(events.size());
        try (PreparedStatement s = tx.prepareStatement("INSERT INTO audit_log (" + COLUMNS
                + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (StoredEvent e : events) {
                seq++;
                String hash = AuditHash.of(prev, seq, e);
                bind(s, seq, e, prev, hash);
                s.addBatch();
                rows.add(new AuditRow(seq, e.event(), prev, hash));
                prev = hash;
            }
            s.executeBatch();
        }
        try (PreparedStatement s = tx.prepareStatement("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1")) {
            s.setLong(1, seq);
            s.setString(2, prev);
            s.executeUpdate();
        }
        return rows;
    }

    private static void bind(PreparedStatement s, long seq, StoredEvent e, String prev, String hash)
            throws SQLException {
        s.setLong(1, seq);
        s.setLong(2, e.tsMillis());
        s.setString(3, e.actor());
        s.setString(4, e.role());
        s.setString(5, e.action());
        s.setString(6, e.target());
        s.setString(7, e.team());
        s.setString(8, e.outcome());
        s.setString(9, e.beforeJson());
        s.setString(10, e.afterJson());
        s.setString(11, e.requestId());
        s.setString(12, e.source());
        s.setString(13, prev);
        s.setString(14, hash);
    }

    /** A stored row as read by {@code SELECT COLUMNS}: its fields as stored, its link and its hash. */
    record Read(long seq, StoredEvent stored, String prevHash, String hash) {

        AuditRow row() {
            return new AuditRow(seq, stored.event(), prevHash, hash);
        }
    }

    static Read read(ResultSet r) throws SQLException {
        StoredEvent stored = new StoredEvent(r.getLong(2), r.getString(3), r.getString(4), r.getString(5),
                r.getString(6), r.getString(7), r.getString(8), r.getString(9), r.getString(10), r.getString(11),
                r.getString(12));
        return new Read(r.getLong(1), stored, trim(r.getString(13)), trim(r.getString(14)));
    }

    /** CHAR(64) comes back padded when someone stored less: the hash compares as written. */
    private static String trim(String s) {
        return s == null ? null : s.trim();
    }
}
