package dev.caravan.policy.ledger;

import dev.caravan.config.BudgetPeriod;
import dev.caravan.policy.EndFacts;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.policy.ledger.LedgerEntry.SpendRow;
import dev.caravan.policy.ledger.LedgerEntry.WindowStart;
import io.micrometer.core.instrument.MeterRegistry;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

/** The ledger in H2 or PostgreSQL: a {@link LedgerWriter} for what the requests record, SQL for the rebuild. */
final class SqlLedger implements Ledger {

    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(10);

    private final LedgerDatabase database;
    private final boolean ownsDatabase;
    private final LedgerWriter writer;
    private final Policy policy = new Policy() {
        @Override
        public void end(PolicyCall call, EndFacts facts) {
            writer.offer(SpendRow.of(call, facts, System.currentTimeMillis()));
        }
    };

    SqlLedger(LedgerDatabase database, boolean ownsDatabase, LedgerSettings settings, MeterRegistry registry) {
        this.database = database;
        this.ownsDatabase = ownsDatabase;
        this.writer = new LedgerWriter(database.dataSource(), new LedgerSql(database.postgres()), settings, registry);
    }

    @Override
    public Policy policy() {
        return policy;
    }

    @Override
    public void windowOpened(String scopeKind, String scopeId, BudgetPeriod period, long startMillis) {
        writer.offer(new WindowStart(checkKind(scopeKind), scopeId, period.text(), startMillis));
    }

    @Override
    public Optional<Window> currentWindow(String scopeKind, String scopeId, BudgetPeriod period, long nowMillis) {
        checkKind(scopeKind);
        try (Connection c = database.dataSource().getConnection()) {
            OptionalLong start = LedgerSql.windowStart(c, scopeKind, scopeId, period.text());
            if (start.isEmpty() || period.windowEnd(start.getAsLong()) <= nowMillis) {
                return Optional.empty(); // never opened, or closed: the next charge opens a new one
            }
            long since = start.getAsLong();
            return Optional.of(new Window(since, LedgerSql.spentSince(c, scopeKind, scopeId, since)));
        } catch (SQLException e) {
            throw new IllegalStateException("the ledger could not read the " + period.text() + " window of "
                    + scopeKind + " " + scopeId + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            writer.close(CLOSE_TIMEOUT);
        } finally {
            if (ownsDatabase) {
                database.close();
            }
        }
    }

    private static String checkKind(String scopeKind) {
        if (!"key".equals(scopeKind) && !"team".equals(scopeKind)) {
            throw new IllegalArgumentException("a budget scope is 'key' or 'team', not " + scopeKind);
        }
        return scopeKind;
    }
}
