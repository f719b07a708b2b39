package dev.caravan.policy.ledger;

import java.sql.SQLException;
import java.util.function.Predicate;

/**
 * What a failed JDBC write says, for the batch writers (the ledger's, the audit log's): whether the database refused
 * the data itself (by SQLSTATE) rather than being unreachable, and its words for a log line.
 */
public final class SqlFailures {

    private SqlFailures() {
    }

    /**
     * Whether {@code e}, or a cause of it, carries a SQLSTATE {@code refusal} accepts: a batch's own state, or
     * (PostgreSQL) that of the statement in it that failed. No state at all (a connection lost, a pool timing out or
     * closed) never is.
     */
    public static boolean refused(Exception e, Predicate<String> refusal) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException sql && (is(sql, refusal) || is(sql.getNextException(), refusal))) {
                return true;
            }
        }
        return false;
    }

    private static boolean is(SQLException e, Predicate<String> refusal) {
        String state = e == null ? null : e.getSQLState();
        return state != null && refusal.test(state);
    }

    /** The database's own words, without the batch's SQL (PostgreSQL's batch error quotes every row of it). */
    public static String reason(Exception e) {
        Throwable last = e;
        if (e instanceof SQLException sql && sql.getNextException() != null) {
            last = sql.getNextException();
        }
        String message = String.valueOf(last.getMessage());
        int end = message.indexOf('\n'); // H2 appends the statement on the next lines
        message = end < 0 ? message : message.substring(0, end);
        return message.length() <= 300 ? message : message.substring(0, 300) + "...";
    }
}
