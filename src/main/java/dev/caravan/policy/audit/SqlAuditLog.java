package dev.caravan.policy.audit;

import dev.caravan.config.AuditConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The audit log in the gateway's database (H2 or PostgreSQL, table {@code audit_log}, V3__audit_log.sql): appends
 * in a caller's transaction ({@link AuditChain}), a bounded queue and one writer thread for what is recorded off a
 * transaction ({@link AuditWriter}), the JSON-lines copy ({@link AuditSink}), queries, and the chain's check
 * ({@link AuditVerifier}). The database is the caller's: this never closes it.
 */
public final class SqlAuditLog implements AuditLog {

    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

    private final DataSource dataSource;
    private final AuditSink sink;
    private final AuditWriter writer;

    /**
     * @param sink     where rows are copied to besides the table, read on every write (it follows reloads)
     * @param capacity events {@link #record} may hold before they are written; past it they are dropped and counted
     */
    public SqlAuditLog(DataSource dataSource, Supplier<AuditConfig> sink, MeterRegistry registry, int capacity) {
        this.dataSource = dataSource;
        this.sink = new AuditSink(dataSource, sink);
        Counter dropped = Counter.builder("caravan.audit.dropped")
                .description("Audit events never written: the queue was full, the database refused them, or the "
                        + "log had closed").register(registry);
        this.writer = new AuditWriter(dataSource, this.sink, capacity, dropped);
    }

    /** With the default queue bound ({@value AuditWriter#CAPACITY} events). */
    public SqlAuditLog(DataSource dataSource, Supplier<AuditConfig> sink, MeterRegistry registry) {
        this(dataSource, sink, registry, AuditWriter.CAPACITY);
    }

    @Override
    public void append(Connection tx, AuditEvent event) throws SQLException {
        if (tx.getAutoCommit()) {
            // each statement would commit on its own: the head lock would not hold until the change commits
            throw new IllegalStateException("an audit row is appended inside a transaction: auto-commit is on");
        }
        sink.appending(AuditChain.append(tx, List.of(StoredEvent.of(event))));
    }

    @Override
    public void record(AuditEvent event) {
        writer.offer(event);
    }

    /** Waits up to {@code timeout} until every event {@link #record}ed so far is committed; true when it is. */
    public boolean awaitWritten(Duration timeout) {
        return writer.awaitWritten(timeout);
    }

    @Override
    public List<AuditRow> find(AuditQuery q) {
        if (q.limit() < 1 || q.limit() > 1000) {
            throw new IllegalArgumentException("an audit query's limit is 1 to 1000, not " + q.limit());
        }
        StringBuilder sql = new StringBuilder("SELECT ").append(AuditChain.COLUMNS).append(" FROM audit_log WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        where(sql, args, "ts_millis >= ?", q.fromMillis());
        where(sql, args, "ts_millis < ?", q.toMillis());
        where(sql, args, "actor = ?", q.actor());
        where(sql, args, "action = ?", q.action());
        where(sql, args, "team = ?", q.team());
        where(sql, args, "seq > ?", q.afterSeq());
        sql.append(" ORDER BY seq LIMIT ").append(q.limit());
        try (Connection c = dataSource.getConnection(); PreparedStatement s = c.prepareStatement(sql.toString())) {
            for (int i = 0; i < args.size(); i++) {
                s.setObject(i + 1, args.get(i));
            }
            List<AuditRow> rows = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.add(AuditChain.read(r).row());
                }
            }
            return rows;
        } catch (SQLException e) {
            throw new IllegalStateException("the audit log could not be read: " + e.getMessage(), e);
        }
    }

    private static void where(StringBuilder sql, List<Object> args, String condition, Object value) {
        if (value != null) {
            sql.append(" AND ").append(condition);
            args.add(value);
        }
    }

    @Override
    public Verification verify() {
        return new AuditVerifier(dataSource).verify();
    }

    /** Writes what is queued (up to 10 s), copies what has committed to the sink, and stops both threads. */
    @Override
    public void close() {
        close(CLOSE_TIMEOUT);
    }

    /** As {@link #close()}, waiting up to {@code timeout} for the database to take what is queued. */
    public void close(Duration timeout) {
        try {
            writer.close(timeout);
        } finally {
            sink.close(2_000);
        }
    }
}
