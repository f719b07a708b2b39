package dev.caravan.admin;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.auth.KeyDirectory;
import dev.caravan.core.GatewayException;
import dev.caravan.policy.audit.AuditEvent;
import dev.caravan.policy.audit.AuditLog;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * The admin API's writes: each call is one transaction holding its change and its audit row, so nothing is half
 * written; after the commit the key directory loads the change (this replica before it answers, the others at once).
 */
final class AdminStore {

    /** Work inside one transaction; returns what the endpoint answers. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection tx) throws SQLException;
    }

    private final KeyDirectory directory;
    private final AuditLog audit;

    /** @param directory null when the gateway has no database (the ledger is off): every write answers 503 */
    AdminStore(KeyDirectory directory, AuditLog audit) {
        this.directory = directory;
        this.audit = audit;
    }

    boolean hasDatabase() {
        return directory != null;
    }

    KeyDirectory directory() {
        if (directory == null) {
            throw GatewayException.unavailable("no_database", "Keys and teams made at run time are kept in the "
                    + "gateway's database, which is off (CARAVAN_LEDGER_ENABLED=false).");
        }
        return directory;
    }

    /** Reads in one connection (no transaction needed). */
    <T> T read(Work<T> work) throws SQLException {
        try (Connection c = directory().database().getConnection()) {
            return work.run(c);
        }
    }

    /** Runs {@code work}, appends {@code event} and commits both, or neither; then the change is loaded everywhere. */
    <T> T write(Work<T> work, java.util.function.Function<T, AuditEvent> event) throws SQLException {
        T result;
        try (Connection c = directory().database().getConnection()) {
            c.setAutoCommit(false);
            try {
                result = work.run(c);
                if (audit != null) {
                    audit.append(c, event.apply(result));
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        }
        directory.changed();
        return result;
    }

    static AuditEvent event(AdminRequest request, String action, String target, String team, JsonNode before,
                            JsonNode after) {
        return new AuditEvent(System.currentTimeMillis(), request.principal().keyId(), request.principal().role(),
                action, target, team, "success", before, after, request.requestId(), request.source());
    }
}
