package dev.caravan.policy.audit;

import dev.caravan.policy.ledger.SqlFailures;
import dev.caravan.policy.audit.AuditLog.AuditRow;
import io.micrometer.core.instrument.Counter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Events recorded off a transaction (budget refusals on the request path, reloads on the reload thread) to the
 * chain: {@link #offer} never blocks; one thread appends what is queued in order, up to {@link #BATCH} events per
 * transaction (one head lock per batch). While the database is down events wait, up to the queue's bound, and the
 * writer retries with backoff; past the bound new ones are dropped and counted ({@code caravan_audit_dropped_total}).
 */
final class AuditWriter {

    private static final Logger LOG = LoggerFactory.getLogger(AuditWriter.class);
    // an event is a few hundred bytes (a refusal) to a few KB (an admin change's before and after): a few MB at most
    static final int CAPACITY = 10_000;
    static final int BATCH = 100;
    private static final long REPORT_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final DataSource dataSource;
    private final AuditSink sink;
    private final BlockingQueue<AuditEvent> queue;
    private final AtomicInteger pending = new AtomicInteger(); // queued plus the batch being written
    private final Counter dropped;
    private final AtomicLong droppedSinceReport = new AtomicLong();
    private final Thread thread;
    private volatile boolean closing;
    private volatile boolean abandoned;
    private long lastReport = System.nanoTime() - REPORT_EVERY_NANOS;
    private long lastFailureLog = System.nanoTime() - REPORT_EVERY_NANOS;

    AuditWriter(DataSource dataSource, AuditSink sink, int capacity, Counter dropped) {
        this.dataSource = dataSource;
        this.sink = sink;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.dropped = dropped;
        this.thread = new Thread(this::run, "caravan-audit-writer");
        thread.setDaemon(true); // close() drains; a writer stuck on a dead database must not hold the JVM up
        thread.start();
    }

    boolean offer(AuditEvent event) {
        pending.incrementAndGet();
        if (closing || !queue.offer(event)) {
            pending.decrementAndGet();
            drop(1);
            return false;
        }
        return true;
    }

    /** Waits up to {@code timeout} until everything offered so far is committed (or dropped); true when it is. */
    boolean awaitWritten(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (pending.get() > 0) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
        return true;
    }

    /** Stops taking events and waits up to {@code timeout} for the queue to be written; what is left is dropped. */
    boolean close(Duration timeout) {
        closing = true;
        try {
            thread.join(Math.max(1, timeout.toMillis()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        abandoned = true; // never interrupt the writer: an interrupt during file I/O closes an H2 database
        int left = pending.get();
        if (left > 0) {
            dropped.increment(left);
            LOG.warn("Audit log closed with {} event(s) not written: the database did not take them within {}",
                    left, timeout);
        }
        reportDrops(true);
        return left == 0;
    }

    private void run() {
        List<AuditEvent> batch = new ArrayList<>(BATCH);
        while (!abandoned) {
            AuditEvent first;
            try {
                first = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (first == null) {
                if (closing) {
                    return; // drained
                }
                reportDrops(false);
                continue;
            }
            batch.add(first);
            queue.drainTo(batch, BATCH - 1);
            writeUntilDone(batch);
            batch.clear();
            reportDrops(false);
        }
    }

    /**
     * Appends the batch, retrying with backoff while the database is unreachable. A batch the database refuses (its
     * data, not the connection) is appended one event at a time, so one bad event costs itself, not the log.
     */
    private void writeUntilDone(List<AuditEvent> batch) {
        long backoff = FIRST_BACKOFF_NANOS;
        boolean failed = false;
        while (!abandoned) {
            try {
                write(batch);
                pending.addAndGet(-batch.size());
                if (failed) {
                    LOG.info("Audit log database is back; {} event(s) waiting", pending.get());
                }
                return;
            } catch (SQLException | RuntimeException e) {
                if (refused(e)) {
                    if (batch.size() == 1) {
                        logFailure("refused an event, dropped", e);
                        pending.decrementAndGet();
                        drop(1);
                    } else {
                        batch.forEach(event -> writeUntilDone(List.of(event)));
                    }
                    return;
                }
                failed = true;
                logFailure("cannot be reached (" + pending.get() + " event(s) waiting, retrying)", e);
                LockSupport.parkNanos(this, backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF_NANOS);
            }
        }
    }

    private void write(List<AuditEvent> batch) throws SQLException {
        List<StoredEvent> stored = new ArrayList<>(batch.size());
        batch.forEach(e -> stored.add(StoredEvent.of(e)));
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                List<AuditRow> rows = AuditChain.append(c, stored);
                sink.appending(rows); // before the commit: the sink copies each row once it sees it committed
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

    /** The database said no to the data (SQLSTATE class 22 data, 23 integrity): the same batch cannot succeed. */
    private static boolean refused(Exception e) {
        return SqlFailures.refused(e, state -> state.startsWith("22") || state.startsWith("23"));
    }

    private void drop(int n) {
        dropped.increment(n);
        droppedSinceReport.addAndGet(n);
    }

    private void logFailure(String what, Exception e) {
        long now = System.nanoTime();
        if (now - lastFailureLog >= REPORT_EVERY_NANOS) {
            lastFailureLog = now;
            LOG.warn("Audit log database {}: {}", what, SqlFailures.reason(e));
        }
    }

    /** One WARN per 10 s at most, from this thread: the request path never logs a drop itself. */
    private void reportDrops(boolean now) {
        long t = System.nanoTime();
        if ((now || t - lastReport >= REPORT_EVERY_NANOS) && droppedSinceReport.get() > 0) {
            lastReport = t;
            LOG.warn("Audit log dropped {} event(s): its queue of {} was full, the database refused them, or the "
                    + "log had closed", droppedSinceReport.getAndSet(0), queue.remainingCapacity() + queue.size());
        }
    }
}
