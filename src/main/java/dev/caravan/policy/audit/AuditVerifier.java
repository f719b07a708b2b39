package dev.caravan.policy.audit;

import dev.caravan.policy.audit.AuditLog.Verification;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Walks the chain in seq order, a page at a time (memory stays one page whatever the table holds), and names the
 * first row that does not verify:
 * <ul>
 *   <li>{@code deleted}: its seq is not the one after the previous row's, or its link ({@code prev_hash}) names a
 *       row that is nowhere in the table (and not because the link alone was edited): rows before it were
 *       removed;</li>
 *   <li>{@code reordered}: its link names a row that exists, elsewhere: rows were moved;</li>
 *   <li>{@code edited}: its hash does not match its own fields (a field, or its link, was changed);</li>
 *   <li>{@code head}: every row verifies, but the head ({@code audit_head}) names a later row (the newest rows were
 *       removed; the first missing one is named) or another hash (the last row was rewritten with a fresh hash), or
 *       rows stand past it.</li>
 * </ul>
 * Appends that commit during the walk are read too: the walk goes on until it meets the head.
 */
final class AuditVerifier {

    static final int PAGE = 1_000;
    /** Walks on after the head moved at most this often: a log busier than that is checked up to where it was. */
    private static final int MAX_CATCH_UPS = 20;

    private final DataSource dataSource;

    AuditVerifier(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    Verification verify() {
        try (Connection c = dataSource.getConnection()) {
            return walk(c);
        } catch (SQLException e) {
            throw new IllegalStateException("the audit log could not be read: " + e.getMessage(), e);
        }
    }

    private Verification walk(Connection c) throws SQLException {
        long rows = 0;
        long lastSeq = 0;
        String lastHash = AuditHash.GENESIS;
        long headSeq = -1;
        String headHash = null;
        for (int round = 0; round <= MAX_CATCH_UPS; round++) {
            boolean more = true;
            while (more) {
                more = false;
                try (PreparedStatement s = c.prepareStatement("SELECT " + AuditChain.COLUMNS
                        + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT " + PAGE)) {
                    s.setLong(1, lastSeq);
                    try (ResultSet r = s.executeQuery()) {
                        while (r.next()) {
                            more = true;
                            AuditChain.Read row = AuditChain.read(r);
                            String bad = check(c, row, lastSeq, lastHash);
                            if (bad != null) {
                                return new Verification(false, rows, row.seq(), bad);
                            }
                            rows++;
                            lastSeq = row.seq();
                            lastHash = row.hash();
                        }
                    }
                }
            }
            try (PreparedStatement s = c.prepareStatement("SELECT seq, hash FROM audit_head WHERE id = 1");
                 ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    return new Verification(false, rows, lastSeq + 1, "head");
                }
                headSeq = r.getLong(1);
                headHash = r.getString(2).trim();
            }
            if (headSeq <= lastSeq) {
                break; // met the head, or walked past it
            }
            // the head is further: rows committed during the walk, or the newest rows are gone; one more look
            if (round == MAX_CATCH_UPS || !anyAfter(c, lastSeq)) {
                return new Verification(false, rows, lastSeq + 1, "head");
            }
        }
        if (headSeq < lastSeq) {
            return new Verification(false, rows, headSeq + 1, "head"); // rows past the head: not appended by a writer
        }
        if (!headHash.equals(lastHash)) {
            return new Verification(false, rows, lastSeq, "head");
        }
        return new Verification(true, rows, null, null);
    }

    private static String check(Connection c, AuditChain.Read row, long lastSeq, String lastHash)
            throws SQLException {
        if (row.seq() != lastSeq + 1) {
            return "deleted";
        }
        if (!lastHash.equals(row.prevHash())) {
            if (AuditHash.GENESIS.equals(row.prevHash()) || exists(c, row.prevHash())) {
                return "reordered";
            }
            // only its link was changed (the row hashes right with the link it should have), or rows went missing
            return AuditHash.of(lastHash, row.seq(), row.stored()).equals(row.hash()) ? "edited" : "deleted";
        }
        return AuditHash.of(row.prevHash(), row.seq(), row.stored()).equals(row.hash()) ? null : "edited";
    }

    /** Whether some row has this hash: only asked about the first bad row, so a scan is affordable. */
    private static boolean exists(Connection c, String hash) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM audit_log WHERE hash = ?")) {
            s.setString(1, hash);
            try (ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }

    private static boolean anyAfter(Connection c, long seq) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM audit_log WHERE seq > ?")) {
            s.setLong(1, seq);
            try (ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }
}
