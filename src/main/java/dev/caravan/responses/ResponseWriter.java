package dev.caravan.responses;

import dev.caravan.dialect.openai.ResponseStore.Stored;
import dev.caravan.policy.ledger.SqlFailures;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Responses on their way to the database: {@link #offer} never blocks; one thread writes them in batches, one
 * transaction each, and between batches purges expired rows. A response stays in the pending map until its row has
 * committed, so a reader that misses it there finds the row. While the database is down responses wait, up to
 * {@code maxPending}, and the writer retries with backoff; past the bound new ones are dropped and counted
 * ({@code caravan.responses.dropped}).
 */
final class ResponseWriter {

    /** A response not yet committed; compared by identity, so a response deleted and its slot taken is told apart. */
    record Pending(String id, Stored stored, long createdMillis, long expiresMillis) {

        boolean visibleTo(String owner, long nowMillis) {
            return stored.owner().equals(owner) && expiresMillis > nowMillis;
        }

        @Override
        public boolean equals(Object other) {
            return this == other;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(this);
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(ResponseWriter.class);
    private static final long REPORT_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final ResponseSql sql;
    private final SqlResponseStore.Settings settings;
    private final LongSupplier clock;
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicInteger count = new AtomicInteger(); // pending's size, kept exactly for the bound
    // lock-free for the event loops that offer; the bound is kept by count
    private final Queue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final Counter dropped;
    private final MeterRegistry registry;
    private final Gauge gauge;
    private final AtomicLong droppedSinceReport = new AtomicLong();
    private final Thread thread;
    private volatile boolean idle;
    private volatile boolean closing;
    private volatile boolean abandoned;
    private long nextPurge = System.nanoTime();
    private long lastReport = System.nanoTime() - REPORT_EVERY_NANOS;
    private long lastFailureLog = System.nanoTime() - REPORT_EVERY_NANOS;

    ResponseWriter(ResponseSql sql, SqlResponseStore.Settings settings, LongSupplier clock, MeterRegistry registry) {
        this.sql = sql;
        this.settings = settings;
        this.clock = clock;
        this.registry = registry;
        this.dropped = Counter.builder("caravan.responses.dropped")
                .description("Stored responses never written: too many waiting to be written, refused by the "
                        + "database, or the store had closed").register(registry);
        this.gauge = Gauge.builder("caravan.responses.pending", count, AtomicInteger::get)
                .description("Stored responses kept and not yet written to the database").register(registry);
        this.thread = new Thread(this::run, "caravan-responses-writer");
        thread.setDaemon(true); // close() drains; a writer stuck on a dead database must not hold the JVM up
        thread.start();
    }

    /** Takes {@code p} to be written; false (and counted) when too many wait or the store is closing. Never blocks. */
    boolean offer(Pending p) {
        int n;
        do {
            n = count.get();
            if (n >= settings.maxPending() || closing) {
                dropped.increment();
                droppedSinceReport.incrementAndGet();
                return false;
            }
        } while (!count.compareAndSet(n, n + 1));
        if (pending.put(p.id(), p) != null) {
            count.decrementAndGet(); // the same id again (ids are random: never in practice): one slot
        }
        queue.add(p);
        if (idle) {
            LockSupport.unpark(thread);
        }
        return true;
    }

    /** The response {@code id} if it has not committed yet, else null. */
    Pending pending(String id) {
        return pending.get(id);
    }

    /**
     * Deletes {@code p} before its row commits: true if it was still pending (it will not be written, or its row is
     * deleted once it lands); false if it has committed meanwhile, and the row must be deleted in the database.
     */
    boolean forget(Pending p) {
        if (pending.remove(p.id(), p)) {
            count.decrementAndGet();
            return true;
        }
        return false;
    }

    /** Responses kept and not yet committed. */
    int waiting() {
        return count.get();
    }

    /**
     * Stops taking responses and waits up to {@code timeout} for everything pending to be written. True when it was;
     * otherwise what is left is counted as dropped and the writer gives up after its current attempt.
     */
    boolean close(Duration timeout) {
        closing = true;
        LockSupport.unpark(thread);
        try {
            thread.join(Math.max(1, timeout.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        abandoned = true; // never interrupt the writer: an interrupt during file I/O closes an H2 database
        int left = count.get();
        if (left > 0) {
            dropped.increment(left);
            LOG.warn("Stored responses closed with {} response(s) not written: the database did not take them within {}",
                    left, timeout);
        }
        long lost = droppedSinceReport.getAndSet(0);
        if (lost > 0) {
            LOG.warn("Stored responses dropped {} response(s) since the last report", lost);
        }
        registry.remove(gauge); // a store opened after this one reports its own
        return left == 0;
    }

    private void run() {
        List<Pending> batch = new ArrayList<>(settings.batchSize());
        while (!abandoned) {
            awaitWork();
            long now = clock.getAsLong();
            for (Pending p; batch.size() < settings.batchSize() && (p = queue.poll()) != null; ) {
                if (pending.get(p.id()) != p) {
                    continue; // deleted before it was written
                }
                if (p.expiresMillis() <= now) {
                    forget(p); // expired while the database was away: nothing to write
                    continue;
                }
                batch.add(p);
            }
            if (!batch.isEmpty()) {
                writeUntilDone(batch);
                batch.clear();
            } else if (closing && queue.isEmpty()) {
                return; // drained
            }
            purgeIfDue();
            reportDrops();
        }
    }

    /**
     * Until there is something to write, the purge is due, or the store closes. No group-commit delay: another
     * replica should see a response within milliseconds, and under load the next batch fills while one commits.
     */
    private void awaitWork() {
        idle = true;
        try {
            long left;
            while (!closing && queue.isEmpty() && (left = nextPurge - System.nanoTime()) > 0) {
                LockSupport.parkNanos(this, left);
            }
        } finally {
            idle = false;
        }
    }

    /**
     * Writes the batch, retrying with backoff while the database is unreachable, until it is written or abandoned;
     * then takes its responses out of the pending map, and deletes the rows of those deleted meanwhile. A batch the
     * database refuses (its data, not the connection) is written one response at a time, so one bad response costs
     * itself only.
     */
    private void writeUntilDone(List<Pending> batch) {
        long backoff = FIRST_BACKOFF_NANOS;
        boolean failed = false;
        while (!abandoned) {
            try {
                sql.insert(batch);
                settle(batch);
                if (failed) {
                    LOG.info("Stored responses: the database is back; {} response(s) waiting", count.get());
                }
                return;
            } catch (SQLException | RuntimeException e) {
                if (refused(e)) {
                    if (batch.size() == 1) {
                        logFailure("refused a response, dropped", e);
                        forget(batch.get(0));
                        dropped.increment();
                        droppedSinceReport.incrementAndGet();
                    } else {
                        batch.forEach(p -> writeUntilDone(List.of(p)));
                    }
                    return;
                }
                failed = true;
                logFailure("cannot be reached (" + count.get() + " response(s) waiting, retrying)", e);
                reportDrops();
                LockSupport.parkNanos(this, backoff); // close() unparks it: one more try at once
                backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
            }
        }
    }

    /** The batch has committed: out of the pending map; a response deleted while it was written loses its row. */
    private void settle(List<Pending> batch) {
        List<String> deleted = new ArrayList<>();
        for (Pending p : batch) {
            if (!forget(p)) {
                deleted.add(p.id());
            }
        }
        long backoff = FIRST_BACKOFF_NANOS;
        while (!deleted.isEmpty()) {
            try {
                sql.forget(deleted);
                return;
            } catch (SQLException | RuntimeException e) {
                if (abandoned || refused(e)) {
                    LOG.warn("Stored responses: {} deleted response(s) still have a row: {}", deleted.size(), reason(e));
                    return;
                }
                logFailure("cannot be reached (deleting " + deleted.size() + " response(s), retrying)", e);
                LockSupport.parkNanos(this, backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
            }
        }
    }

    /** Expired rows, at most a batch of them; another at once while a batch comes back full, else in a while. */
    private void purgeIfDue() {
        if (closing || System.nanoTime() - nextPurge < 0) {
            return;
        }
        try {
            int purged = sql.purge(clock.getAsLong(), settings.purgeBatch());
            nextPurge = System.nanoTime() + (purged >= settings.purgeBatch() ? 0 : settings.purgeInterval().toNanos());
        } catch (SQLException | RuntimeException e) {
            nextPurge = System.nanoTime() + settings.purgeInterval().toNanos();
            logFailure("could not purge expired responses (trying again in " + settings.purgeInterval() + ")", e);
        }
    }

    /**
     * The database answered and said no to the data (SQLSTATE class 21 cardinality, 22 data, 23 integrity, 42
     * syntax or a missing table): retrying the same batch cannot help. Anything else is an outage, waited out.
     */
    private static boolean refused(Exception e) {
        return SqlFailures.refused(e, state -> state.startsWith("21") || state.startsWith("22") || state.startsWith("23")
                || state.startsWith("42"));
    }

    /**
     * The database's words without the batch: PostgreSQL's batch error quotes its rows, and they hold the prompts;
     * its next exception (the statement's own error) does not.
     */
    static String reason(Exception e) {
        if (e instanceof BatchUpdateException b && b.getNextException() == null) {
            return "a batch failed (SQLSTATE " + b.getSQLState() + ")";
        }
        return SqlFailures.reason(e);
    }

    private void logFailure(String what, Exception e) {
        long now = System.nanoTime();
        if (now - lastFailureLog >= REPORT_EVERY_NANOS) {
            lastFailureLog = now;
            LOG.warn("Stored responses: the database {}: {}", what, reason(e));
        }
    }

    /** At most one WARN per 10 s, from this thread: the request path never logs a drop itself. */
    private void reportDrops() {
        long now = System.nanoTime();
        if (now - lastReport >= REPORT_EVERY_NANOS && droppedSinceReport.get() > 0) {
            lastReport = now;
            LOG.warn("Stored responses dropped {} response(s): {} were waiting to be written "
                    + "(caravan.responses.maxStored), or the database refused them", droppedSinceReport.getAndSet(0),
                    settings.maxPending());
        }
    }
}
