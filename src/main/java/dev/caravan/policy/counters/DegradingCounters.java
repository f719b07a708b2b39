package dev.caravan.policy.counters;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.caravan.config.BudgetPeriod;
import dev.caravan.redis.Outage;
import dev.caravan.redis.RedisLink;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Shared counters (Redis) that fall back to this process's when the shared store fails: a call the primary cannot
 * answer is answered by the fallback (fail open), or completes with {@link Unavailable} when {@code failClosed} says
 * so (the caller answers 503). While degraded, the primary is tried again at most once per probe interval (1 s), by
 * one call; the others go straight to the fallback, so a dead Redis does not add its timeout to every request. The
 * gauge {@code caravan.limits.degraded} reads 1 while degraded; one WARN says it degraded and one INFO that it
 * recovered.
 *
 * <p>While degraded each replica counts alone: a limit or budget is enforced per replica, from what this replica
 * counted since (budgets from the ledger's seed), so N replicas may admit up to N times a limit meanwhile.
 *
 * <p>Reservations follow the store that holds them. One taken in the fallback (while degraded) is released there
 * at settle, and its cost goes where spend is counted at settle time (the primary again, once it answers). One
 * taken in the primary and settled while degraded stays held in Redis until it lapses
 * ({@link #RESERVATION_TTL_MILLIS}: the shared budget looks fuller by that much meanwhile, erring towards refusing)
 * and its cost is counted in this process only (Redis never hears of it; the ledger has it). Likewise, a rate
 * window taken in one store is adjusted in the store answering at adjust time (the other's minute is left alone).
 */
public final class DegradingCounters implements Counters {

    private static final Logger LOG = LoggerFactory.getLogger(DegradingCounters.class);
    static final Duration PROBE_INTERVAL = Duration.ofSeconds(1);

    private final Counters primary;
    private final LocalCounters fallback;
    private final MeterRegistry registry;
    private final Gauge gauge;
    private final BooleanSupplier failClosed;
    private final Outage outage;
    // reservations the fallback holds, one per request reserved while degraded and not yet settled: 100,000 is far
    // beyond one replica's requests in flight; one evicted settles in the primary and lapses in the fallback
    private final Cache<String, Boolean> heldInFallback = Caffeine.newBuilder()
            .maximumSize(100_000).expireAfterWrite(Duration.ofMillis(RESERVATION_TTL_MILLIS)).build();

    /**
     * @param primary    the shared store (Redis)
     * @param fallback   counts in this process while the primary fails
     * @param registry   where the gauge {@code caravan.limits.degraded} is registered (removed again at close)
     * @param failClosed read at every call the primary cannot answer: true refuses it with {@link Unavailable}
     */
    public DegradingCounters(Counters primary, LocalCounters fallback, MeterRegistry registry, BooleanSupplier failClosed) {
        this(primary, fallback, registry, failClosed, System::nanoTime, PROBE_INTERVAL);
    }

    DegradingCounters(Counters primary, LocalCounters fallback, MeterRegistry registry, BooleanSupplier failClosed,
                      LongSupplier nanoTime, Duration probeInterval) {
        this.primary = primary;
        this.fallback = fallback;
        this.registry = registry;
        this.failClosed = failClosed;
        this.outage = new Outage("Limits store", LOG, nanoTime, probeInterval);
        this.gauge = Gauge.builder("caravan.limits.degraded", outage, o -> o.degraded() ? 1 : 0)
                .description("1 while the shared limits store fails and limits are counted in this process"
                        + " (or refused, when failing closed)")
                .strongReference(true)
                .register(registry);
    }

    /** True while the primary fails and calls are answered by the fallback (or refused). */
    public boolean degraded() {
        return outage.degraded();
    }

    @Override
    public CompletionStage<RateResult> take(long nowMillis, List<RateCharge> charges) {
        return call(store -> store.take(nowMillis, charges));
    }

    @Override
    public CompletionStage<Void> adjust(long windowStart, List<String> scopes, long delta) {
        return call(store -> store.adjust(windowStart, scopes, delta));
    }

    @Override
    public CompletionStage<BudgetResult> reserve(long nowMillis, String reservation, List<BudgetCharge> charges) {
        return call(store -> store.reserve(nowMillis, reservation, charges).thenApply(result -> {
            if (store == fallback && result.granted()) {
                heldInFallback.put(reservation, Boolean.TRUE);
            }
            return result;
        }));
    }

    @Override
    public CompletionStage<boolean[]> settle(long nowMillis, String reservation, List<BudgetCharge> charges, long cost) {
        if (heldInFallback.asMap().remove(reservation) != null) {
            // released where it is held (a cost of 0 charges nothing); the cost goes where spend is counted now
            fallback.settle(nowMillis, reservation, charges, 0);
        }
        return call(store -> store.settle(nowMillis, reservation, charges, cost));
    }

    @Override
    public CompletionStage<Long> spent(long nowMillis, String scope, BudgetPeriod period) {
        return call(store -> store.spent(nowMillis, scope, period));
    }

    /**
     * Seeds both: the primary (kept only where it holds no window) and the fallback, so a replica that degrades
     * later counts a budget from what the ledger had rather than from zero.
     */
    @Override
    public CompletionStage<Void> seed(String scope, BudgetPeriod period, long windowStart, long spent) {
        fallback.seed(scope, period, windowStart, spent);
        return call(store -> store.seed(scope, period, windowStart, spent));
    }

    @Override
    public void close() {
        registry.remove(gauge); // a successor registers its own; Micrometer would hand it back this one
        try {
            primary.close();
        } finally {
            fallback.close();
        }
    }

    /** Asks the primary unless degraded and no probe is due; answers from the fallback when the primary fails. */
    private <T> CompletionStage<T> call(Function<Counters, CompletionStage<T>> operation) {
        if (!outage.shouldAsk()) {
            return inFallback(operation);
        }
        CompletableFuture<T> answer = new CompletableFuture<>();
        CompletionStage<T> asked;
        try {
            asked = operation.apply(primary);
        } catch (RuntimeException e) {
            asked = CompletableFuture.failedFuture(e);
        }
        asked.whenComplete((value, failure) -> {
            if (failure == null) {
                outage.answered("limits and budgets are counted in it");
                answer.complete(value);
                return;
            }
            outage.failed(failure, failClosed.getAsBoolean() ? "refusing requests (fail closed)"
                    : "counting limits and budgets in this process");
            inFallback(operation).whenComplete((local, localFailure) -> {
                if (localFailure == null) {
                    answer.complete(local);
                } else {
                    answer.completeExceptionally(RedisLink.cause(localFailure));
                }
            });
        });
        return answer;
    }

    private <T> CompletionStage<T> inFallback(Function<Counters, CompletionStage<T>> operation) {
        if (failClosed.getAsBoolean()) {
            return CompletableFuture.failedFuture(new Unavailable("the limits store is unreachable and limits fail closed", null));
        }
        return operation.apply(fallback);
    }
}
