package dev.caravan.policy.cache;

import dev.caravan.policy.counters.RedisServerProcess;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The contract against the Redis at 127.0.0.1:6379, under a key prefix of this class's own, deleted after each test;
 * and what only a shared store does: two stores (two replicas) see each other's entries, prefixes keep stores apart,
 * every key expires, and a dead or slow Redis is a miss. Without a Redis at 6379, or redis-server on the PATH, this
 * class fails: nothing here skips.
 */
class RedisResponseStoreTest extends ResponseStoreContract {

    static final String URL = "redis://127.0.0.1:6379/0";
    static final String PREFIX = "caravan-test:" + UUID.randomUUID() + ":";
    static final String OTHER_PREFIX = "caravan-test:" + UUID.randomUUID() + ":";

    static RedisClient admin;
    static StatefulRedisConnection<String, String> adminConnection;
    static RedisCommands<String, String> redis;
    static RedisResponseStore store;

    @BeforeAll
    static void connect() {
        admin = RedisClient.create(URL);
        adminConnection = admin.connect(); // throws when no Redis answers: the class fails, as it should
        redis = adminConnection.sync();
        store = RedisResponseStore.connect(URL, PREFIX);
    }

    @AfterEach
    void deleteKeys() {
        for (String prefix : List.of(PREFIX, OTHER_PREFIX)) {
            List<String> keys = redis.keys(prefix + "*");
            if (!keys.isEmpty()) {
                redis.del(keys.toArray(String[]::new));
            }
        }
    }

    @AfterAll
    static void disconnect() {
        store.close();
        adminConnection.close();
        admin.shutdown();
    }

    @Override
    protected ResponseStore store() {
        return store;
    }

    @Override
    protected void refreshEstimates() {
        try {
            get(store.resample());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void twoReplicasSeeEachOthersEntriesAndClearsWhateverEitherStored() throws Exception {
        try (RedisResponseStore other = RedisResponseStore.connect(URL, PREFIX)) {
            get(store.put("mine", answer("a", "m", "{\"from\":1}"), MINUTE));
            get(other.put("theirs", answer("a", "m", "{\"from\":2}"), MINUTE));

            assertThat(get(other.get("mine"))).isPresent();
            assertThat(get(store.get("theirs"))).isPresent();
            assertThat(get(other.clear("a", null))).isEqualTo(2);
            assertThat(get(store.get("mine"))).isEmpty();
        }
    }

    @Test
    void storesUnderOtherPrefixesNeitherSeeNorClearEachOther() throws Exception {
        try (RedisResponseStore other = RedisResponseStore.connect(URL, OTHER_PREFIX)) {
            get(store.put("k", answer("a", "m", "{}"), MINUTE));
            get(other.put("k2", answer("a", "m", "{}"), MINUTE));

            assertThat(get(other.get("k"))).isEmpty();
            assertThat(get(other.clear(null, null))).isEqualTo(1);
            assertThat(get(store.get("k"))).isPresent();
        }
    }

    @Test
    void everyKeyItWritesExpires() throws Exception {
        get(store.put("k1", answer("a", "m1", "{}"), Duration.ofMinutes(5)));
        get(store.put("k2", answer("b", "m1", "{}"), Duration.ofMinutes(10)));

        List<String> keys = redis.keys(PREFIX + "*");

        assertThat(keys).containsExactlyInAnyOrder(PREFIX + "cache:e:k1", PREFIX + "cache:e:k2", PREFIX + "cache:i:all",
                PREFIX + "cache:i:ns:a", PREFIX + "cache:i:ns:b", PREFIX + "cache:i:m:m1");
        for (String key : keys) {
            assertThat(redis.pttl(key)).as(key).isPositive();
        }
        assertThat(redis.pttl(PREFIX + "cache:e:k1")).isBetween(4 * 60_000L, 5 * 60_000L);
        assertThat(redis.pttl(PREFIX + "cache:i:m:m1")).as("its longest entry's").isGreaterThan(9 * 60_000L);
    }

    @Test
    void aClearLargerThanOneBatchRemovesEverything() throws Exception {
        for (int i = 0; i < 1200; i++) {
            store.put("k" + i, answer(i % 2 == 0 ? "even" : "odd", "m" + (i % 3), "{}"), MINUTE);
        }
        get(store.put("last", answer("odd", "m0", "{}"), MINUTE)); // one connection: all before it are in

        long both = get(store.clear("odd", "m0")); // i odd and i % 3 == 0: 200, and "last"
        long namespace = get(store.clear("even", null)); // 600
        long all = get(store.clear(null, null)); // the rest: 1200 - 200 - 600 = 400

        assertThat(both).isEqualTo(201);
        assertThat(namespace).isEqualTo(600);
        assertThat(all).isEqualTo(400);
        assertThat(redis.keys(PREFIX + "cache:e:*")).isEmpty();
    }

    @Test
    void aValueItCannotReadIsAMiss() throws Exception {
        redis.set(PREFIX + "cache:e:k", "not an entry");

        assertThat(get(store.get("k"))).isEmpty();
    }

    @Test
    void bytesAreEstimatedFromWhatRedisHoldsForASampleOfEntries() throws Exception {
        for (int i = 0; i < 40; i++) {
            get(store.put("k" + i, answer("a", "m", "x".repeat(1000)), MINUTE));
        }

        refreshEstimates();

        assertThat(store.entries()).isEqualTo(40);
        assertThat(store.bytes()).isBetween(40L * 1000, 40L * 1400);
    }

    @Test
    void anUnreachableRedisFailsFastWithUnavailable() throws Exception {
        try (RedisResponseStore nowhere = RedisResponseStore.connect("redis://127.0.0.1:1", PREFIX)) {
            long started = System.nanoTime();

            assertThatThrownBy(() -> get(nowhere.get("k"))).hasCauseInstanceOf(RedisResponseStore.Unavailable.class);

            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isLessThan(1000);
        }
    }

    @Test
    void aKilledRedisIsAMissWithinASecondAndTheCacheWorksAgainOnceItIsBack() throws Exception {
        MeterRegistry registry = new SimpleMeterRegistry();
        try (RedisServerProcess server = RedisServerProcess.start();
             DegradingResponseStore shared = new DegradingResponseStore(RedisResponseStore.connect(server.url(), PREFIX), registry)) {
            get(shared.put("k", answer("a", "m", "{}"), MINUTE));
            Optional<StoredAnswer> before = get(shared.get("k"));

            server.kill();
            long started = System.nanoTime();
            Optional<StoredAnswer> whileDead = get(shared.get("k"));
            long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            double degraded = registry.get("caravan.cache.degraded").gauge().value();
            get(shared.put("k2", answer("a", "m", "{}"), MINUTE)); // dropped, and no exception

            server.restart(); // empty: it saved nothing
            get(shared.put("k", answer("a", "m", "{}"), MINUTE)); // most likely skipped: no probe due yet
            eventually(() -> {
                try {
                    get(shared.put("k", answer("a", "m", "{}"), MINUTE));
                    return get(shared.get("k")).isPresent();
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }, Duration.ofSeconds(10));

            assertThat(before).isPresent();
            assertThat(whileDead).isEmpty();
            assertThat(tookMillis).isLessThan(1000);
            assertThat(degraded).isEqualTo(1);
            assertThat(registry.get("caravan.cache.errors").tag("op", "get").counter().count()).isGreaterThanOrEqualTo(1);
            assertThat(registry.get("caravan.cache.errors").tag("op", "put").counter().count()).isGreaterThanOrEqualTo(1);
            assertThat(get(shared.get("k"))).as("stored and found again").isPresent();
            assertThat(registry.get("caravan.cache.degraded").gauge().value()).isZero();
        }
    }

    @Test
    void aRedisSlowerThanTheTimeoutIsAMissAfterHalfASecond() throws Exception {
        try (RedisServerProcess server = RedisServerProcess.start();
             DegradingResponseStore shared = new DegradingResponseStore(RedisResponseStore.connect(server.url(), PREFIX),
                     new SimpleMeterRegistry())) {
            get(shared.put("k", answer("a", "m", "{}"), MINUTE));
            RedisClient pauser = RedisClient.create(server.url());
            try (StatefulRedisConnection<String, String> c = pauser.connect()) {
                c.sync().clientPause(2000); // every client's commands wait 2 s

                long started = System.nanoTime();
                Optional<StoredAnswer> slow = get(shared.get("k"));
                long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);

                assertThat(slow).isEmpty();
                assertThat(tookMillis).isBetween(400L, 1000L);
            } finally {
                pauser.shutdown();
            }
        }
    }
}
