package dev.caravan.policy.cache;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import static dev.caravan.policy.cache.ResponseStoreContract.MINUTE;
import static dev.caravan.policy.cache.ResponseStoreContract.answer;
import static dev.caravan.policy.cache.ResponseStoreContract.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A shared store that fails: gets are misses, puts are dropped, the gauge and the counter say so, the log says so once
 * each way, and the failing store is asked at most once a second meanwhile. Against a store this test switches off and
 * on, on a clock it moves; {@link RedisResponseStoreTest} kills a real Redis.
 */
class DegradingResponseStoreTest {

    final MeterRegistry registry = new SimpleMeterRegistry();
    final AtomicLong clock = new AtomicLong(); // nanoseconds, moved by the tests
    final SwitchedStore primary = new SwitchedStore();
    final DegradingResponseStore store = new DegradingResponseStore(primary, registry, clock::get, Duration.ofSeconds(1));
    final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    final Logger logger = (Logger) LoggerFactory.getLogger(DegradingResponseStore.class);

    @BeforeEach
    void captureLogs() {
        logs.start();
        logger.addAppender(logs);
    }

    @AfterEach
    void releaseLogs() {
        logger.detachAppender(logs);
    }

    double gauge() {
        return registry.get("caravan.cache.degraded").gauge().value();
    }

    double errors(String op) {
        return registry.get("caravan.cache.errors").tag("op", op).counter().count();
    }

    @Test
    void aFailingStoreIsAMissForGetsAndDropsPutsWithoutAnException() throws Exception {
        get(store.put("k", answer("a", "m", "{}"), MINUTE));
        double healthy = gauge();
        primary.down.set(true);

        Optional<StoredAnswer> found = get(store.get("k"));
        clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
        get(store.put("k2", answer("a", "m", "{}"), MINUTE));

        assertThat(healthy).isZero();
        assertThat(found).isEmpty();
        assertThat(store.degraded()).isTrue();
        assertThat(gauge()).isEqualTo(1);
        assertThat(errors("get")).isEqualTo(1);
        assertThat(errors("put")).isEqualTo(1);
    }

    @Test
    void whileDegradedTheStoreIsAskedAtMostOncePerSecondAndEverySkipIsCounted() throws Exception {
        primary.down.set(true);
        get(store.get("k"));
        int afterFailing = primary.calls.get();

        for (int i = 0; i < 1000; i++) {
            get(store.get("k"));
        }
        int withinTheSecond = primary.calls.get();
        clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
        for (int i = 0; i < 100; i++) {
            get(store.get("k"));
        }

        assertThat(afterFailing).isEqualTo(1);
        assertThat(withinTheSecond).isEqualTo(1);
        assertThat(primary.calls.get()).as("one probe after the second").isEqualTo(2);
        assertThat(errors("get")).isEqualTo(1101);
    }

    @Test
    void whenTheStoreAnswersAgainTheFirstProbeRecoversIt() throws Exception {
        get(store.put("k", answer("a", "m", "{}"), MINUTE));
        primary.down.set(true);
        get(store.get("k"));
        primary.down.set(false);

        Optional<StoredAnswer> beforeTheProbe = get(store.get("k"));
        clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
        Optional<StoredAnswer> probe = get(store.get("k"));

        assertThat(beforeTheProbe).isEmpty();
        assertThat(probe).isPresent();
        assertThat(store.degraded()).isFalse();
        assertThat(gauge()).isZero();
    }

    @Test
    void itLogsOneWarningWhenItDegradesAndOneInfoWhenItRecoversNotOnePerRequest() throws Exception {
        primary.down.set(true);
        for (int round = 0; round < 3; round++) { // three probes fail, a second apart
            for (int i = 0; i < 50; i++) {
                get(store.get("k"));
            }
            clock.addAndGet(TimeUnit.SECONDS.toNanos(1));
        }
        primary.down.set(false);
        for (int i = 0; i < 50; i++) {
            get(store.get("k"));
        }

        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.WARN).singleElement()
                .satisfies(e -> assertThat(e.getFormattedMessage()).contains("skipping the cache"));
        assertThat(logs.list).filteredOn(e -> e.getLevel() == Level.INFO).singleElement()
                .satisfies(e -> assertThat(e.getFormattedMessage()).contains("answers again"));
    }

    @Test
    void aClearThatFailsSaysSoRatherThanCountingZero() {
        primary.down.set(true);

        assertThatThrownBy(() -> get(store.clear("a", null)))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(IllegalStateException.class);
        assertThat(errors("clear")).isEqualTo(1);
    }

    @Test
    void aSuccessorAfterCloseGetsItsOwnGaugeAndCountsOnInTheSameCounters() throws Exception {
        primary.down.set(true);
        get(store.get("k"));
        store.close();

        DegradingResponseStore successor = new DegradingResponseStore(new SwitchedStore(), registry);

        assertThat(registry.get("caravan.cache.degraded").gauge().value()).isZero();
        assertThat(errors("get")).isEqualTo(1);
        successor.close();
    }

    /** A local store that fails every call while {@link #down} is set, and counts the calls it is asked. */
    static final class SwitchedStore implements ResponseStore {
        final AtomicBoolean down = new AtomicBoolean();
        final AtomicInteger calls = new AtomicInteger();
        final LocalResponseStore inside = new LocalResponseStore(100, 1_000_000);

        private <T> CompletionStage<T> unlessDown(Supplier<CompletionStage<T>> operation) {
            calls.incrementAndGet();
            return down.get() ? CompletableFuture.failedFuture(new IllegalStateException("down")) : operation.get();
        }

        @Override
        public CompletionStage<Optional<StoredAnswer>> get(String key) {
            return unlessDown(() -> inside.get(key));
        }

        @Override
        public CompletionStage<Void> put(String key, StoredAnswer answer, Duration ttl) {
            return unlessDown(() -> inside.put(key, answer, ttl));
        }

        @Override
        public CompletionStage<Long> clear(String namespace, String model) {
            return unlessDown(() -> inside.clear(namespace, model));
        }

        @Override
        public long entries() {
            return inside.entries();
        }

        @Override
        public long bytes() {
            return inside.bytes();
        }
    }
}
