package dev.caravan.observe;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The access log's appender: one line per event (its message) on stdout, written by one thread in batches every
 * 50 ms, never on the request path. A request only enqueues its line (no thread is woken); a full queue drops the
 * line and counts it (reported on stderr) rather than slow the gateway down.
 */
public final class BatchingStdoutAppender extends UnsynchronizedAppenderBase<ILoggingEvent> {

    private static final int MAX_BATCH = 1024;
    // lines reach stdout within this long: an access log, not a trace
    private static final long FLUSH_INTERVAL_MS = 50;

    private int queueSize = 16384;
    private BlockingQueue<String> queue;
    private final AtomicLong dropped = new AtomicLong();
    private Thread writer;
    private volatile boolean running;
    private volatile boolean writing; // a batch taken from the queue is not on stdout yet
    private OutputStream out;

    public void setQueueSize(int queueSize) {
        this.queueSize = queueSize;
    }

    @Override
    public void start() {
        queue = new ArrayBlockingQueue<>(queueSize);
        out = new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 64 * 1024);
        running = true;
        writer = new Thread(this::drain, "caravan-access-log");
        writer.setDaemon(true);
        writer.start();
        super.start();
    }

    @Override
    protected void append(ILoggingEvent event) {
        if (!queue.offer(event.getFormattedMessage())) {
            dropped.incrementAndGet();
        }
    }

    /**
     * Wakes on a timer, never per line: a writer woken by every request costs a thread hand-off each (futex wake-ups
     * and context switches on the event loops' cores), which measured at ~15% of throughput on 2 cores.
     */
    private void drain() {
        List<String> batch = new ArrayList<>(MAX_BATCH);
        while (running || !queue.isEmpty()) {
            try {
                writing = true;
                if (queue.drainTo(batch, MAX_BATCH) == 0) {
                    writing = false;
                    Thread.sleep(FLUSH_INTERVAL_MS);
                    continue;
                }
                for (String line : batch) {
                    out.write(line.getBytes(StandardCharsets.UTF_8));
                    out.write('\n');
                }
                batch.clear();
                if (queue.isEmpty()) {
                    out.flush();
                    writing = false;
                }
                long lost = dropped.getAndSet(0);
                if (lost > 0) {
                    addWarn(lost + " access log line(s) dropped: the queue of " + queueSize + " was full");
                    System.err.println("WARN access log: " + lost + " line(s) dropped, the writer could not keep up");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (IOException e) {
                addError("cannot write the access log", e);
                batch.clear();
                writing = false;
            }
        }
        try {
            out.flush();
        } catch (IOException e) {
            addError("cannot write the access log", e);
        }
    }

    /**
     * Returns once every line logged so far is on stdout (or after {@code maxMillis}): for a shutdown, whose last
     * requests would otherwise sit in the queue when the JVM exits.
     */
    public void awaitWritten(long maxMillis) {
        long deadline = System.currentTimeMillis() + maxMillis;
        try {
            while ((writing || (queue != null && !queue.isEmpty())) && System.currentTimeMillis() < deadline) {
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits for the access log's lines to be written, wherever logback's configuration attached this appender. */
    public static void awaitAllWritten(long maxMillis) {
        if (org.slf4j.LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
            for (ch.qos.logback.classic.Logger logger : context.getLoggerList()) {
                logger.iteratorForAppenders().forEachRemaining(a -> {
                    if (a instanceof BatchingStdoutAppender b) {
                        b.awaitWritten(maxMillis);
                    }
                });
            }
        }
    }

    @Override
    public void stop() {
        running = false;
        if (writer != null) {
            try {
                writer.join(2000); // what is queued is written before the process exits
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        super.stop();
    }
}
