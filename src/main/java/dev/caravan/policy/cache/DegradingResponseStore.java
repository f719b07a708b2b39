package dev.caravan.policy.cache;

import dev.caravan.redis.Outage;
import dev.caravan.redis.RedisLink;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * A shared store (Redis) whose failures are cache misses: a get it cannot answer completes empty, a put it cannot
 * answer is dropped, so requests go on without the cache. While it fails, it is asked again at most once per probe
 * interval (1 s), by one call; the others are answered as misses at once, so a Redis that hangs does not add its
 * timeout to every request. It is used again as soon as a probe succeeds (Lettuce reconnects by itself).
 *
 * <p>Counted: {@code caravan.cache.errors{op}} (Prometheus {@code caravan_cache_errors_total}), every get or put
 * answered without the store, failed or not asked, and every clear that failed; {@code caravan.cache.degraded} reads
 * 1 while the store fails. One WARN says it degraded and one INFO that it recovered, never one per request.
 *
 * <p>A clear is always asked of the store and, when it fails, completes exceptionally: an operator asking to clear
 * must hear that nothing was cleared, not a count of 0.
 */
public final class DegradingResponseStore implements ResponseStore {

    private static final Logger LOG = LoggerFactory.getLogger(DegradingResponseStore.class);
    static final Duration PROBE_INTERVAL = Duration.ofSeconds(1);

    private final ResponseStore primary;
    private final MeterRegistry registry;
    private final Outage outage;
    private final Counter getErrors;
    private final Counter putErrors;
    private final Counter clearErrors;
    private final Gauge gauge;

    /**
     * @param primary  the shared store; its failures become misses
     * @param registry where {@code caravan.cache.errors} and {@code caravan.cache.degraded} are registered (the
     *                 gauge is removed again at close)
     */
    public DegradingResponseStore(ResponseStore primary, MeterRegistry registry) {
        this(primary, registry, System::nanoTime, PROBE_INTERVAL);
    }

    DegradingResponseStore(ResponseStore primary, MeterRegistry registry, LongSupplier nanoTime, Duration probeInterval) {
        this.primary = primary;
        this.registry = registry;
        this.outage = new Outage("Cache store", LOG, nanoTime, probeInterval);
        this.getErrors = errors(registry, "get");
        this.putErrors = errors(registry, "put");
        this.clearErrors = errors(registry, "clear");
        this.gauge = Gauge.builder("caravan.cache.degraded", outage, o -> o.degraded() ? 1 : 0)
                .description("1 while the shared cache store fails and the cache is skipped")
                .strongReference(true)
                .register(registry);
    }

    private static Counter errors(MeterRegistry registry, String op) {
        return Counter.builder("caravan.cache.errors")
                .description("Cache operations answered without the shared store: it failed, or was failing and not asked")
                .tag("op", op)
                .register(registry);
    }

    /** True while the store fails and gets and puts are answered as misses. */
    public boolean degraded() {
        return outage.degraded();
    }

    @Override
    public CompletionStage<Optional<StoredAnswer>> get(String key) {
        return call(() -> primary.get(key), Optional.empty(), getErrors);
    }

    @Override
    public CompletionStage<Void> put(String key, StoredAnswer answer, Duration ttl) {
        return call(() -> primary.put(key, answer, ttl), null, putErrors);
    }

    @Override
    public CompletionStage<Long> clear(String namespace, String model) {
        CompletableFuture<Long> answer = new CompletableFuture<>();
        asked(() -> primary.clear(namespace, model)).whenComplete((removed, failure) -> {
            if (failure == null) {
                outage.answered("the cache is used");
                answer.complete(removed);
            } else {
                clearErrors.increment();
                outage.failed(failure, "skipping the cache");
                answer.completeExceptionally(RedisLink.cause(failure));
            }
        });
        return answer;
    }

    @Override
    public long entries() {
        return primary.entries();
    }

    @Override
    public long bytes() {
        return primary.bytes();
    }

    @Override
    public void close() {
        // the gauge reads this store's state: a successor registers its own (Micrometer would hand it back this
        // one); the counters are handed back to a successor and count on
        registry.remove(gauge);
        primary.close();
    }

    /** Asks the primary unless degraded and no probe is due; a failure is answered with {@code miss}. */
    private <T> CompletionStage<T> call(Supplier<CompletionStage<T>> operation, T miss, Counter errors) {
        if (!outage.shouldAsk()) {
            errors.increment();
            return CompletableFuture.completedFuture(miss);
        }
        CompletableFuture<T> answer = new CompletableFuture<>();
        asked(operation).whenComplete((value, failure) -> {
            if (failure == null) {
                outage.answered("the cache is used");
                answer.complete(value);
            } else {
                errors.increment();
                outage.failed(failure, "skipping the cache");
                answer.complete(miss);
            }
        });
        return answer;
    }

    private static <T> CompletionStage<T> asked(Supplier<CompletionStage<T>> operation) {
        try {
            return operation.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }
}
