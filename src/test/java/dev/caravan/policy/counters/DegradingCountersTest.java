package dev.caravan.policy.counters;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.caravan.config.BudgetPeriod;
import dev.caravan.policy.counters.Counters.BudgetCharge;
import dev.caravan.policy.counters.Counters.RateCharge;
import dev.caravan.policy.counters.Counters.RateResult;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import static dev.caravan.policy.counters.CountersContract.DOLLAR;
import static dev.caravan.policy.counters.CountersContract.ROLLING_HOUR;
import static dev.caravan.policy.counters.CountersContract.T0;
import static dev.caravan.policy.counters.CountersContract.budget;
import static dev.caravan.policy.counters.CountersContract.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Shared counters that fail: answered from this process (or refused when failing closed), the gauge says so, the
 * log says so once each way, and the failing store is not asked on every request. First against a primary this test
 * switches off and on, on a clock it moves; then against a real redis-server it kills and restarts (which must be
 * on the PATH: without it these tests fail).
 */
class DegradingCountersTest {

    static final RateCharge RPM = new RateCharge("rpm:key:deg", 1_000_000, 1);

    final MeterRegistry registry = new SimpleMeterRegistry();
    final AtomicLong clock = new AtomicLong(); // nanoseconds, moved by the tests
    final SwitchedCounters primary = new SwitchedCounters();
    final LocalCounters fallback = new LocalCounters();
    final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    final Logger logger = (Logger) LoggerFactory.getLogger(DegradingCounters.class);

    @BeforeEach
    void captureLogs() {
        logs.start();
        logger.addAppender(logs);
    }

    @AfterEach
    void releaseLogs() {
        logger.detachAppender(logs);
    }

    DegradingCounters degrading(BooleanSupplier failClosed) {
        return new DegradingCounters(primary, fallback, registry, failClosed, clock::get, Duration.ofSeconds(1));
    }

    double gauge() {
        return registry.get("caravan.limits.degraded").gauge().value();
    }

    @Test
    void aFailingPrimaryIsAnsweredByTheLocalCountersAndTheGaugeReadsOne() throws Exception {
        DegradingCounters counters = degrading(() -> false);
        get(counters.take(T0, List.of(RPM)));
        double healthy = gauge();
        primary.down.set(true);

        RateResult answered = get(counters.take(T0 + 1, List.of(RPM)));

        assertThat(healthy).isZero();
        assertThat(answered.granted()).isTrue();
        assertThat(answered.used()).as("counted afresh in this process").containsExactly(1);
        assertThat(counters.degraded()).isTrue();
        assertThat(gauge()).isEqualTo(1);
    }

    @Test
    void whileDegradedThePrimaryIsTriedAtMostOncePerSecond() throws Exception {
        DegradingCounters counters = degrading(() -> false);
        primary.down.set(true);
        get(counters.take(T0, List.of(RPM)));
        int afterFailing = primary.calls.get();

        for (int i = 0; i < 1000; i++) {
            get(counters.take(T0 + i, List.of(RPM)));
        }
        int withinTheSecond = primary.calls.get();
        clock.addAndGet(TimeUnit.MILLISECONDS.toNanos(999));
        get(counters.take(T0, List.of(RPM)));
        int justBeforeTheSecond = primary.calls.get();
        clock.addAndGet(TimeUnit.MILLISECONDS.toNanos(1));
        for (int i = 0; i < 100; i++) {
            get(counters.take(T0 + i, List.of(RPM)));
        }

        assertThat(afterFailing).isEqualTo(1);
        assertThat(withinTheSecond).isEqualTo(1);
        assertThat(justBeforeTheSecond).isEqualTo(1);
        assertThat(primary.calls.get()).as("one probe after the second").isEqualTo(2);
    }

    @Test
    void whenThePrimaryAnswersAgainCallsGoBackToItAndTheGaugeReadsZero() throws Exception {
        DegradingCounters counters = degrading(() -> false);
        primary.down.set(true);
        get(counters.take(T0, List.of(RPM)));
        primary.down.set(false);

        get(counters.take(T0, List.of(RPM)));
        boolean stillDegradedBeforeTheProbe = counters.degraded();
        clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
        RateResult probe = get(counters.take(T0, List.of(RPM)));
        RateResult next = get(counters.take(T0, List.of(RPM)));

        assertThat(stillDegradedBeforeTheProbe).isTrue();
        assertThat(probe.used()).as("counted in the primary").containsExactly(1);
        assertThat(next.used()).containsExactly(2);
        assertThat(counters.degraded()).isFalse();
        assertThat(gauge()).isZero();
    }

    @Test
    void itLogsOneWarningWhenItDegradesAndOneInfoWhenItRecoversNotOnePerRequest() throws Exception {
        DegradingCounters counters = degrading(() -> false);
        primary.down.set(true);
        for (int round = 0; round < 3; round++) { // three probes fail, each a second apart
            for (int i = 0; i < 50; i++) {
                get(counters.take(T0, List.of(RPM)));
            }
            clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
        }
        primary.down.set(false);
        for (int i = 0; i < 50; i++) {
            get(counters.take(T0, List.of(RPM)));
        }

        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
                .satisfies(e -> assertThat(e.getFormattedMessage()).contains("counting limits and budgets in this process"));
        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.INFO).singleElement()
                .satisfies(e -> assertThat(e.getFormattedMessage()).contains("answers again"));
    }

    @Test
    void failingClosedRefusesWithUnavailableWhileThePrimaryFails() throws Exception {
        AtomicBoolean failClosed = new AtomicBoolean(true);
        DegradingCounters counters = degrading(failClosed::get);
        primary.down.set(true);

        assertThatThrownBy(() -> get(counters.take(T0, List.of(RPM))))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(Counters.Unavailable.class);
        assertThatThrownBy(() -> get(counters.reserve(T0, "r", List.of(budget("budget:key:x:1h", DOLLAR, -1, 1)))))
                .hasCauseInstanceOf(Counters.Unavailable.class);
        assertThat(gauge()).isEqualTo(1);
        failClosed.set(false); // a reload switched to fail open: the next call is counted locally
        assertThat(get(counters.take(T0, List.of(RPM))).granted()).isTrue();
    }

    @Test
    void aReservationTakenWhileDegradedIsReleasedLocallyAndItsCostGoesToThePrimaryOnceItIsBack() throws Exception {
        DegradingCounters counters = degrading(() -> false);
        BudgetCharge whole = budget("budget:key:moved:1h", 100 * DOLLAR, -1, 100 * DOLLAR);
        primary.down.set(true);
        assertThat(get(counters.reserve(T0, "taken-locally", List.of(whole))).granted()).isTrue();
        primary.down.set(false);
        clock.addAndGet(TimeUnit.SECONDS.toNanos(1));

        get(counters.settle(T0 + 1, "taken-locally", List.of(whole), 30 * DOLLAR));

        assertThat(counters.degraded()).isFalse();
        assertThat(get(primary.store.spent(T0 + 2, "budget:key:moved:1h", ROLLING_HOUR))).isEqualTo(30 * DOLLAR);
        assertThat(get(fallback.spent(T0 + 2, "budget:key:moved:1h", ROLLING_HOUR))).isZero();
        assertThat(get(fallback.reserve(T0 + 2, "probe", List.of(whole))).granted())
                .as("the local reservation was released").isTrue();
    }

    @Test
    void seedReachesBothStoresSoALaterDegradationCountsFromTheLedger() throws Exception {
        DegradingCounters counters = degrading(() -> false);
        get(counters.seed("budget:key:seed:1h", ROLLING_HOUR, T0, 70 * DOLLAR));
        primary.down.set(true);

        long spent = get(counters.spent(T0 + 1, "budget:key:seed:1h", ROLLING_HOUR));

        assertThat(counters.degraded()).isTrue();
        assertThat(spent).isEqualTo(70 * DOLLAR);
        assertThat(get(primary.store.spent(T0 + 1, "budget:key:seed:1h", ROLLING_HOUR))).isEqualTo(70 * DOLLAR);
    }

    @Test
    void closeRemovesTheGaugeSoASuccessorRegistersItsOwn() {
        DegradingCounters first = degrading(() -> false);
        first.close();
        primary.down.set(true);
        DegradingCounters second = degrading(() -> false);

        second.take(T0, List.of(RPM));

        assertThat(gauge()).isEqualTo(1);
    }

    // ---- against a real redis-server, killed and restarted

    @Test
    void killingRedisMidRunKeepsCallsSucceedingAndRestartingItEndsTheDegradation() throws Exception {
        String prefix = "caravan-test:" + UUID.randomUUID() + ":";
        try (RedisServerProcess redis = RedisServerProcess.start();
             DegradingCounters counters = new DegradingCounters(RedisCounters.connect(redis.url(), prefix),
                     new LocalCounters(), registry, () -> false);
             RedisCounters observer = RedisCounters.connect(redis.url(), prefix)) {
            Traffic traffic = new Traffic(counters);
            try {
                traffic.awaitMore(50);
                double beforeKill = gauge();

                redis.kill();
                awaitGauge(1);
                traffic.awaitMore(200);
                redis.restart();
                awaitGauge(0);
                traffic.awaitMore(50);

                assertThat(beforeKill).isZero();
            } finally {
                traffic.stop();
            }
            assertThat(traffic.failures.get()).as("calls that failed, of " + traffic.calls.get()).isZero();
            assertThat(traffic.firstFailure.get()).isNull();
            long now = System.currentTimeMillis();
            RateCharge seen = new RateCharge("rpm:key:after-restart", 100, 1);
            get(counters.take(now, List.of(seen)));
            assertThat(get(observer.take(now, List.of(seen))).used()).as("counted in Redis again").containsExactly(2);
        }
    }

    @Test
    void killingRedisWhenFailingClosedFailsCallsWithUnavailable() throws Exception {
        String prefix = "caravan-test:" + UUID.randomUUID() + ":";
        try (RedisServerProcess redis = RedisServerProcess.start();
             DegradingCounters counters = new DegradingCounters(RedisCounters.connect(redis.url(), prefix),
                     new LocalCounters(), registry, () -> true)) {
            assertThat(get(counters.take(T0, List.of(RPM))).granted()).isTrue();

            redis.kill();

            assertThatThrownBy(() -> get(counters.take(T0, List.of(RPM))))
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(Counters.Unavailable.class);
            assertThatThrownBy(() -> get(counters.reserve(T0, "r", List.of(budget("budget:key:y:1h", DOLLAR, -1, 1)))))
                    .hasCauseInstanceOf(Counters.Unavailable.class);
            assertThat(gauge()).isEqualTo(1);
        }
    }

    void awaitGauge(double value) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (gauge() != value) {
            assertThat(System.nanoTime()).as("the gauge reads " + value + " within 15 s").isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    /** Requests from one thread, one after another, each against the wall clock, until stopped. */
    static final class Traffic {
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger failures = new AtomicInteger();
        final AtomicReference<Throwable> firstFailure = new AtomicReference<>();
        final AtomicBoolean running = new AtomicBoolean(true);
        final ExecutorService thread = Executors.newSingleThreadExecutor();

        Traffic(Counters counters) {
            thread.submit(() -> {
                while (running.get()) {
                    try {
                        RateResult r = get(counters.take(System.currentTimeMillis(), List.of(RPM)));
                        if (!r.granted()) {
                            throw new AssertionError("refused: " + r);
                        }
                    } catch (Throwable t) {
                        failures.incrementAndGet();
                        firstFailure.compareAndSet(null, t);
                    }
                    calls.incrementAndGet();
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        void awaitMore(int n) throws InterruptedException {
            int target = calls.get() + n;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (calls.get() < target) {
                assertThat(System.nanoTime()).as(n + " more calls within 15 s").isLessThan(deadline);
                Thread.sleep(5);
            }
        }

        void stop() throws InterruptedException {
            running.set(false);
            thread.shutdown();
            thread.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** A primary this test switches off (every call fails, as an unreachable Redis would) and on; counts its calls. */
    static final class SwitchedCounters implements Counters {
        final LocalCounters store = new LocalCounters();
        final AtomicBoolean down = new AtomicBoolean();
        final AtomicInteger calls = new AtomicInteger();

        private <T> CompletionStage<T> answer(Supplier<CompletionStage<T>> up) {
            calls.incrementAndGet();
            return down.get() ? CompletableFuture.failedFuture(new Unavailable("switched off", null)) : up.get();
        }

        @Override
        public CompletionStage<RateResult> take(long nowMillis, List<RateCharge> charges) {
            return answer(() -> store.take(nowMillis, charges));
        }

        @Override
        public CompletionStage<Void> adjust(long windowStart, List<String> scopes, long delta) {
            return answer(() -> store.adjust(windowStart, scopes, delta));
        }

        @Override
        public CompletionStage<BudgetResult> reserve(long nowMillis, String reservation, List<BudgetCharge> charges) {
            return answer(() -> store.reserve(nowMillis, reservation, charges));
        }

        @Override
        public CompletionStage<boolean[]> settle(long nowMillis, String reservation, List<BudgetCharge> charges, long cost) {
            return answer(() -> store.settle(nowMillis, reservation, charges, cost));
        }

        @Override
        public CompletionStage<Long> spent(long nowMillis, String scope, BudgetPeriod period) {
            return answer(() -> store.spent(nowMillis, scope, period));
        }

        @Override
        public CompletionStage<Void> seed(String scope, BudgetPeriod period, long windowStart, long spent) {
            return answer(() -> store.seed(scope, period, windowStart, spent));
        }
    }
}
