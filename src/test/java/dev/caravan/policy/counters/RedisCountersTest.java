package dev.caravan.policy.counters;

import dev.caravan.policy.counters.Counters.BudgetCharge;
import dev.caravan.policy.counters.Counters.RateCharge;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The contract against the Redis CI runs (127.0.0.1:6379), under a key prefix of this class's own, deleted after
 * each test; and what only Redis does: reservations lapse by the caller's clock, every key expires, an unreachable
 * or restarted server. Without a Redis at 6379 this class fails: nothing here skips.
 */
class RedisCountersTest extends CountersContract {

    static final String URL = "redis://127.0.0.1:6379/0";
    static final String PREFIX = "caravan-test:" + UUID.randomUUID() + ":";

    static RedisClient admin;
    static StatefulRedisConnection<String, String> adminConnection;
    static RedisCommands<String, String> redis;
    static RedisCounters counters;

    @BeforeAll
    static void connect() {
        admin = RedisClient.create(URL);
        adminConnection = admin.connect(); // throws when no Redis answers: the class fails, as it should
        redis = adminConnection.sync();
        counters = RedisCounters.connect(URL, PREFIX);
    }

    @AfterEach
    void deleteKeys() {
        List<String> keys = redis.keys(PREFIX + "*");
        if (!keys.isEmpty()) {
            redis.del(keys.toArray(String[]::new));
        }
    }

    @AfterAll
    static void disconnect() {
        counters.close();
        adminConnection.close();
        admin.shutdown();
    }

    @Override
    protected Counters counters() {
        return counters;
    }

    // LocalCounters cannot run this one: its reservations lapse by Caffeine's wall clock, not the nowMillis passed
    @Test
    void aReservationNeverSettledLapsesAfterItsTtl() throws Exception {
        BudgetCharge whole = budget("budget:key:lapse:1h", 10 * DOLLAR, -1, 10 * DOLLAR);
        reserve(T0, "crashed-replica", whole);

        boolean justBefore = reserve(T0 + Counters.RESERVATION_TTL_MILLIS - 1, "r2", whole).granted();
        boolean atTheTtl = reserve(T0 + Counters.RESERVATION_TTL_MILLIS, "r3", whole).granted();

        assertThat(justBefore).isFalse();
        assertThat(atTheTtl).as("the unsettled reservation stopped counting").isTrue();
        assertThat(redis.hget(PREFIX + "held:budget:key:lapse:1h", "r:crashed-replica")).isNull();
        assertThat(redis.zscore(PREFIX + "lapse:budget:key:lapse:1h", "crashed-replica")).isNull();
    }

    @Test
    void everyKeyItWritesExpires() throws Exception {
        long now = System.currentTimeMillis();
        take(now, new RateCharge("rpm:key:ttl", 10, 1));
        BudgetCharge charge = budget("budget:key:ttl:1h", 10 * DOLLAR, DOLLAR, DOLLAR);
        reserve(now, "held", charge);
        reserve(now, "settled", charge);
        get(counters.settle(now, "settled", List.of(charge), 2 * DOLLAR));
        get(counters.seed("budget:key:seeded:1h", ROLLING_HOUR, now, DOLLAR));

        List<String> keys = redis.keys(PREFIX + "*");

        assertThat(keys).hasSize(5); // rate, budget x2, held, lapse
        for (String key : keys) {
            assertThat(redis.pttl(key)).as(key).isPositive();
        }
        assertThat(redis.pttl(PREFIX + "rate:rpm:key:ttl:" + (now - now % 60_000))).isLessThanOrEqualTo(120_000);
        assertThat(redis.pttl(PREFIX + "budget:budget:key:ttl:1h")).isBetween(HOUR, 2 * HOUR + 1);
        assertThat(redis.pttl(PREFIX + "held:budget:key:ttl:1h"))
                .isGreaterThan(Counters.RESERVATION_TTL_MILLIS - 10_000)
                .isLessThanOrEqualTo(Counters.RESERVATION_TTL_MILLIS + 60_000);
    }

    @Test
    void anUnreachableRedisFailsFastWithUnavailable() throws Exception {
        try (RedisCounters nowhere = RedisCounters.connect("redis://127.0.0.1:" + RedisServerProcess.freePort(), PREFIX)) {
            long started = System.nanoTime();

            assertThatThrownBy(() -> get(nowhere.take(T0, List.of(new RateCharge("rpm:key:x", 10, 1)))))
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(Counters.Unavailable.class);
            assertThatThrownBy(() -> get(nowhere.spent(T0, "budget:key:x:1h", ROLLING_HOUR)))
                    .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(Counters.Unavailable.class);

            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isLessThan(2 * 500 + 500);
        }
    }

    @Test
    void aRedisThatStartsLaterIsUsedOnceItAnswers() throws Exception {
        int port = RedisServerProcess.freePort();
        try (RedisCounters later = RedisCounters.connect("redis://127.0.0.1:" + port, PREFIX)) {
            RateCharge rpm = new RateCharge("rpm:key:later", 10, 1);
            assertThatThrownBy(() -> get(later.take(T0, List.of(rpm)))).hasCauseInstanceOf(Counters.Unavailable.class);

            try (RedisServerProcess server = RedisServerProcess.startOn(port)) {
                assertThat(get(later.take(T0, List.of(rpm))).used()).containsExactly(1);
            }
        }
    }

    @Test
    void aServerThatForgotTheScriptsIsSentThemAgain() throws Exception {
        try (RedisServerProcess server = RedisServerProcess.start();
             RedisCounters fresh = RedisCounters.connect(server.url(), PREFIX)) {
            RateCharge rpm = new RateCharge("rpm:key:scripts", 10, 1);
            get(fresh.take(T0, List.of(rpm)));
            RedisClient client = RedisClient.create(server.url());
            try (StatefulRedisConnection<String, String> c = client.connect()) {
                c.sync().scriptFlush();
            } finally {
                client.shutdown();
            }

            assertThat(get(fresh.take(T0 + 1, List.of(rpm))).used()).containsExactly(2);
        }
    }
}
