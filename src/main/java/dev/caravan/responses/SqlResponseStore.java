package dev.caravan.responses;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.dialect.openai.ResponseStore;
import dev.caravan.responses.ResponseWriter.Pending;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Responses kept in the gateway's database (table {@code stored_responses}), so every replica sharing it finds them
 * and a restart loses none. {@link #keep} hands the response to {@link ResponseWriter} (bounded, batched, one
 * thread); until its row commits it is found in the writer's pending map, so a follow-up on this replica never misses
 * it, and other replicas see it once committed (milliseconds). A read is one primary-key lookup on this store's own
 * threads, never on the caller's: when too many wait, the caller gets 503 at once rather than queue forever.
 */
public final class SqlResponseStore implements ResponseStore {

    private static final Logger LOG = LoggerFactory.getLogger(SqlResponseStore.class);
    private static final long REPORT_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    /**
     * @param maxPending    responses kept and not yet written, at most ({@code caravan.responses.maxStored})
     * @param ttl           how long a response is kept ({@code caravan.responses.ttl})
     * @param readThreads   threads that read and delete (each holds one pooled connection at most)
     * @param readQueue     reads waiting for a thread, at most; past it 503
     * @param batchSize     responses per write transaction
     * @param purgeInterval how often expired rows are purged
     * @param purgeBatch    rows per purge statement
     */
    public record Settings(int maxPending, Duration ttl, int readThreads, int readQueue, int batchSize,
                           Duration purgeInterval, int purgeBatch) {

        /** OpenAI keeps a stored response 30 days; so does the database, unless {@code caravan.responses.ttl} is set. */
        public static final Duration DEFAULT_TTL = Duration.ofDays(30);

        public Settings {
            if (maxPending < 1 || readThreads < 1 || readQueue < 1 || batchSize < 1 || purgeBatch < 1
                    || ttl.isNegative() || ttl.isZero() || purgeInterval.isNegative() || purgeInterval.isZero()) {
                throw new IllegalArgumentException("the stored responses' bounds, batches and durations must be positive");
            }
        }

        /**
         * Two read threads and 256 waiting: a primary-key read takes well under a millisecond, so a full queue is
         * a database that has stopped answering, and waiting longer would only hold the callers. 100 responses a
         * batch (a few KB each, a few hundred KB a transaction); the purge every minute, 1,000 rows a statement.
         */
        public static Settings of(int maxPending, Duration ttl) {
            return new Settings(maxPending, ttl, 2, 256, 100, Duration.ofMinutes(1), 1_000);
        }
    }

    private final ResponseSql sql;
    private final ResponseWriter writer;
    private final ThreadPoolExecutor reads;
    private final LongSupplier clock;
    private final long ttlMillis;
    private long lastFailureLog = System.nanoTime() - REPORT_EVERY_NANOS;

    public SqlResponseStore(DataSource dataSource, boolean postgres, Settings settings, MeterRegistry registry) {
        this(dataSource, postgres, settings, registry, System::currentTimeMillis);
    }

    SqlResponseStore(DataSource dataSource, boolean postgres, Settings settings, MeterRegistry registry,
                     LongSupplier clock) {
        this.sql = new ResponseSql(dataSource, postgres);
        this.clock = clock;
        this.ttlMillis = settings.ttl().toMillis();
        this.reads = new ThreadPoolExecutor(settings.readThreads(), settings.readThreads(), 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(settings.readQueue()), task -> {
            Thread t = new Thread(task, "caravan-responses-read");
            t.setDaemon(true);
            return t;
        });
        reads.allowCoreThreadTimeOut(true);
        this.writer = new ResponseWriter(sql, settings, clock, registry);
    }

    @Override
    public void keep(String owner, ObjectNode response, ArrayNode requestTurns) {
        long now = clock.getAsLong();
        writer.offer(new Pending(response.path("id").asText(), ResponseStore.stored(owner, response, requestTurns),
                now, now + ttlMillis));
    }

    @Override
    public CompletionStage<Optional<Stored>> find(String id, String owner) {
        Pending p = writer.pending(id);
        if (p != null) { // not committed yet: its row is not there to read, and it is at hand
            return CompletableFuture.completedFuture(p.visibleTo(owner, clock.getAsLong())
                    ? Optional.of(p.stored()) : Optional.empty());
        }
        return read(() -> sql.find(id, owner, clock.getAsLong()));
    }

    @Override
    public CompletionStage<Boolean> delete(String id, String owner) {
        Pending p = writer.pending(id);
        if (p != null) {
            if (!p.visibleTo(owner, clock.getAsLong())) {
                return CompletableFuture.completedFuture(false); // its row, if it lands, is the same owner's
            }
            if (writer.forget(p)) {
                return CompletableFuture.completedFuture(true); // never written, or its row deleted once it lands
            }
            // committed meanwhile: its row is deleted below
        }
        return read(() -> sql.delete(id, owner, clock.getAsLong()));
    }

    /** Writes what is pending (up to 5 s), then stops the read threads. */
    @Override
    public void close() {
        writer.close(Duration.ofSeconds(5));
        reads.shutdown();
        try {
            reads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Responses kept and not yet committed. */
    int pending() {
        return writer.waiting();
    }

    private <T> CompletableFuture<T> read(Callable<T> work) {
        CompletableFuture<T> answer = new CompletableFuture<>();
        try {
            reads.execute(() -> {
                try {
                    answer.complete(work.call());
                } catch (Exception e) {
                    logFailure(e);
                    answer.completeExceptionally(GatewayException.unavailable("responses_unavailable",
                            "Stored responses cannot be read right now; retry shortly."));
                }
            });
        } catch (RejectedExecutionException e) {
            answer.completeExceptionally(new GatewayException(503, "api_error", "responses_busy", null,
                    "Too many stored-response reads are waiting; retry shortly.", Map.of("Retry-After", "1")));
        }
        return answer;
    }

    /** One WARN per 10 s at most, from a read thread; the database's words, never a response's text. */
    private synchronized void logFailure(Exception e) {
        long now = System.nanoTime();
        if (now - lastFailureLog >= REPORT_EVERY_NANOS) {
            lastFailureLog = now;
            // a JSON parser's message quotes the text it read: only the database's own words are logged
            LOG.warn("Stored responses cannot be read: {}", e instanceof java.sql.SQLException
                    ? ResponseWriter.reason(e) : e.getClass().getName());
        }
    }
}
