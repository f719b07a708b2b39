package dev.caravan.policy.ledger;

import dev.caravan.config.BudgetPeriod;
import dev.caravan.policy.Policy;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Optional;

/**
 * The spend ledger: one row per request in the gateway's database, written off the request path, and the budget
 * windows' starts, so that on start the budgets' hot counters are rebuilt from it and a restart loses no spend.
 * Nothing here is read on the request path. The composition root opens one, registers {@link #policy()} as
 * {@code ledger}, and closes it on shutdown after the last request has ended.
 */
public interface Ledger extends AutoCloseable {

    /** Nothing recorded, nothing found: the ledger when {@code CARAVAN_LEDGER_ENABLED=false}. */
    Ledger OFF = new Ledger() {
        private final Policy nothing = new Policy() {
        };

        @Override
        public Policy policy() {
            return nothing;
        }

        @Override
        public void windowOpened(String scopeKind, String scopeId, BudgetPeriod period, long startMillis) {
        }

        @Override
        public Optional<Window> currentWindow(String scopeKind, String scopeId, BudgetPeriod period, long nowMillis) {
            return Optional.empty();
        }

        @Override
        public void close() {
        }
    };

    /**
     * A budget window still open at start, as the ledger knows it.
     *
     * @param startMillis when the window began
     * @param spentNanos  what the scope's requests cost since, in nano-dollars
     */
    record Window(long startMillis, long spentNanos) {
    }

    /** Opens the database (migrating it) and starts the writer; throws when the database cannot be reached. */
    static Ledger open(LedgerSettings settings, MeterRegistry registry) {
        if (!settings.enabled()) {
            return OFF;
        }
        return new SqlLedger(LedgerDatabase.open(settings), true, settings, registry);
    }

    /**
     * The ledger in a database the caller opened and shares (with the run-time keys and the audit log) and closes
     * itself, after this ledger.
     */
    static Ledger open(LedgerDatabase database, LedgerSettings settings, MeterRegistry registry) {
        return new SqlLedger(database, false, settings, registry);
    }

    /** The {@code ledger} policy: its end-hook queues the request's row (it has no other hook). */
    Policy policy();

    /**
     * Records that a budget window began (queued like rows; a later start replaces an earlier one).
     *
     * @param scopeKind {@code key} or {@code team}
     */
    void windowOpened(String scopeKind, String scopeId, BudgetPeriod period, long startMillis);

    /**
     * For the rebuild on start: the latest window recorded for this scope and period, if it has not closed by
     * {@code nowMillis}, with the spend of the scope's rows since it began. Queries the database: never call it on
     * the request path. Rows still queued in this process are not counted (at start there are none).
     *
     * @param scopeKind {@code key} (rows by key id) or {@code team} (rows by team)
     */
    Optional<Window> currentWindow(String scopeKind, String scopeId, BudgetPeriod period, long nowMillis);

    /** Writes what is queued (waiting up to 10 s for the database) and closes the pool. */
    @Override
    void close();
}
