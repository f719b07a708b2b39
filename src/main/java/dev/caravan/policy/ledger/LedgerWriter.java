package dev.caravan.policy.ledger;

import dev.caravan.policy.ledger.LedgerEntry.SpendRow;
import dev.caravan.policy.ledger.LedgerEntry.WindowStart;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Ledger entries from the request path to the database: {@link #offer} never blocks and never fails the caller;
 * one background thread writes them in JDBC batches, one transaction per batch. While the database is down entries
 * wait, up to {@code queueCapacity}, and the writer retries with backoff; past the bound new ones are dropped and
 * counted ({@code caravan.ledger.dropped}).
 */
final class LedgerWriter {

    private static final Logger LOG = LoggerFactory.getLogger(LedgerWriter.class);
    private static final long REPORT_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final DataSource dataSource;
    private final LedgerSql sql;
    private final int capacity;
    private final int batchSize;
    private final long flushNanos;
    // lock-free for the event loops that offer; the bound is kept by pending, not by the queue
    private final Queue<LedgerEntry> queue = new ConcurrentLinkedQueue<>();
    // accepted and not yet committed (queued + the batch being written): what the bound and the gauge count
    private final AtomicInteger pending = new AtomicInteger();
    private final Counter dropped;
    private final MeterRegistry registry;
    private final Gauge queued;
    private final AtomicLong droppedSinceReport = new AtomicLong();
    private final Thread thread;
    private volatile boolean closing;
    private volatile boolean abandoned;
    private long lastReport = System.nanoTime() - REPORT_EVERY_NANOS;
    private long lastFailureLog = System.nanoTime() - REPORT_EVERY_NANOS;

    LedgerWriter(DataSource dataSource, LedgerSql sql, LedgerSettings settings, MeterRegistry registry) {
        this.dataSource = dataSource;
        this.sql = sql;
        this.capacity = settings.queueCapacity();
        this.batchSize = settings.batchSize();
        this.flushNanos = settings.flushInterval().toNanos();
        this.dropped = Counter.builder("caravan.ledger.dropped")
                .description("Ledger rows never written: the queue was full, the database refused them, or the "
                        + "ledger had closed").register(registry);
        this.registry = registry;
        this.queued = Gauge.builder("caravan.ledger.queued", pending, AtomicInteger::get)
                .description("Ledger rows accepted and not yet written").register(registry);
        this.thread = new Thread(this::run, "caravan-ledger-writer");
        thread.setDaemon(true); // close() drains; a writer stuck on a dead database must not hold the JVM up
        thread.start();
    }

    /** Queues an entry; false (and counted) when the queue is full or the ledger is closing. Never blocks. */
    boolean offer(LedgerEntry entry) {
        int n;
        do {
            n = pending.get();
            if (n >= capacity || closing) {
                dropped.increment();
                droppedSinceReport.incrementAndGet();
                return false;
            }
        } while (!pending.compareAndSet(n, n + 1));
        queue.add(entry);
        if (n + 1 == batchSize) {
            LockSupport.unpark(thread); // a full batch need not wait out the flush interval
        }
        return true;
    }

    /** Entries accepted and not yet written. */
    int pending() {
        return pending.get();
    }

    /**
     * Stops taking entries and waits up to {@code timeout} for everything queued to be written. True when it was;
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
        int left = pending.get();
        if (left > 0) {
            dropped.increment(left);
            LOG.warn("Spend ledger closed with {} row(s) not written: the database did not take them within {}",
                    left, timeout);
        }
        long lost = droppedSinceReport.getAndSet(0);
        if (lost > 0) {
            LOG.warn("Spend ledger dropped {} row(s) since the last report", lost);
        }
        registry.remove(queued); // a ledger opened after this one reports its own queue
        return left == 0;
    }

    private void run() {
        List<LedgerEntry> batch = new ArrayList<>(batchSize);
        while (!abandoned) {
            awaitBatch();
            for (LedgerEntry e; batch.size() < batchSize && (e = queue.poll()) != null; ) {
                batch.add(e);
            }
            if (batch.isEmpty()) {
                if (closing) {
                    return; // drained
                }
                reportDrops();
                continue;
            }
            writeUntilDone(batch);
            batch.clear();
            reportDrops();
        }
    }

    /** Group commit: waits until a batch is full, the flush interval has passed, or the ledger is closing. */
    private void awaitBatch() {
        long deadline = System.nanoTime() + flushNanos;
        long left;
        while (!closing && pending.get() < batchSize && (left = deadline - System.nanoTime()) > 0) {
            LockSupport.parkNanos(this, left);
        }
    }

    /**
     * Writes the batch, retrying with backoff while the database is unreachable, until it is written or abandoned.
     * A batch the database refuses (its data, not the connection) is written one entry at a time, so one bad entry
     * costs itself, not the ledger: retried as it is, it would fail forever while the queue filled.
     */
    private void writeUntilDone(List<LedgerEntry> batch) {
        long backoff = FIRST_BACKOFF_NANOS;
        boolean failed = false;
        while (!abandoned) {
            try {
                write(batch);
                pending.addAndGet(-batch.size());
                if (failed) {
                    LOG.info("Spend ledger database is back; {} row(s) waiting", pending.get());
                }
                return;
            } catch (SQLException | RuntimeException e) {
                if (refused(e)) {
                    if (batch.size() == 1) {
                        logFailure("refused a row, dropped", e);
                        pending.decrementAndGet();
                        dropped.increment();
                        droppedSinceReport.incrementAndGet();
                    } else {
                        batch.forEach(entry -> writeUntilDone(List.of(entry)));
                    }
                    return;
                }
                failed = true;
                logFailure("cannot be reached (" + pending.get() + " row(s) waiting, retrying)", e);
                reportDrops();
                LockSupport.parkNanos(this, backoff); // close() unparks it: one more try at once
                backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
            }
        }
    }

    /**
     * One transaction: the batch's rows, then its window starts, one per window (PostgreSQL refuses a statement
     * that upserts one row twice, which its driver makes of a batch).
     */
    private void write(List<LedgerEntry> batch) throws SQLException {
        Map<List<String>, WindowStart> windows = new HashMap<>();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                try (PreparedStatement s = c.prepareStatement(sql.insertRow())) {
                    for (LedgerEntry entry : batch) {
                        if (entry instanceof SpendRow row) {
                            LedgerSql.addRow(s, row);
                        } else if (entry instanceof WindowStart w) {
                            windows.merge(List.of(w.scopeKind(), w.scopeId(), w.period()), w,
                                    (a, b) -> a.startedMillis() >= b.startedMillis() ? a : b);
                        }
                    }
                    s.executeBatch();
                }
                if (!windows.isEmpty()) {
                    try (PreparedStatement s = c.prepareStatement(sql.upsertWindow())) {
                        for (WindowStart w : windows.values()) {
                            LedgerSql.addWindow(s, w);
                        }
                        s.executeBatch();
                    }
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException ignored) {
                    // the connection is likely gone; the pool discards it
                }
                throw e;
            }
        }
    }

    /**
     * The database answered and said no to the data (SQLSTATE class 21 cardinality, 22 data, 23 integrity, 42
     * syntax or a missing table): retrying the same batch cannot help. Anything else (a connection lost, the pool
     * timing out or closed, no state at all) is an outage, waited out.
     */
    private static boolean refused(Exception e) {
        return SqlFailures.refused(e, state -> state.startsWith("21") || state.startsWith("22") || state.startsWith("23")
                || state.startsWith("42"));
    }

    private void logFailure(String what, Exception e) {
        long now = System.nanoTime();
        if (now - lastFailureLog >= REPORT_EVERY_NANOS) {
            lastFailureLog = now;
            LOG.warn("Spend ledger database {}: {}", what, SqlFailures.reason(e));
        }
    }

    /** At most one WARN per 10 s, from this thread: the request path never logs a drop itself. */
    private void reportDrops() {
        long now = System.nanoTime();
        if (now - lastReport >= REPORT_EVERY_NANOS && droppedSinceReport.get() > 0) {
            lastReport = now;
            LOG.warn("Spend ledger dropped {} row(s): its queue of {} was full, or the database refused them",
                    droppedSinceReport.getAndSet(0), capacity);
        }
    }
}
