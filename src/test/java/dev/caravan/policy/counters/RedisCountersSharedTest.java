package dev.caravan.policy.counters;

import dev.caravan.policy.counters.Counters.BudgetCharge;
import dev.caravan.policy.counters.Counters.BudgetResult;
import dev.caravan.policy.counters.Counters.RateCharge;
import dev.caravan.policy.counters.Counters.RateResult;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static dev.caravan.policy.counters.CountersContract.DOLLAR;
import static dev.caravan.policy.counters.CountersContract.ROLLING_HOUR;
import static dev.caravan.policy.counters.CountersContract.T0;
import static dev.caravan.policy.counters.CountersContract.budget;
import static dev.caravan.policy.counters.CountersContract.concurrently;
import static dev.caravan.policy.counters.CountersContract.get;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two replicas, each with its own Redis client and connection, count against one limit and one budget: what one
 * takes the other sees, and an alert is said by one of them only. Needs the Redis at 127.0.0.1:6379 (fails without).
 */
class RedisCountersSharedTest {

    static final String URL = "redis://127.0.0.1:6379/0";
    static final String PREFIX = "caravan-test:" + UUID.randomUUID() + ":";

    static RedisCounters replicaA;
    static RedisCounters replicaB;

    @BeforeAll
    static void connect() {
        replicaA = RedisCounters.connect(URL, PREFIX);
        replicaB = RedisCounters.connect(URL, PREFIX);
    }

    @AfterAll
    static void disconnect() {
        replicaA.close();
        replicaB.close();
        RedisClient admin = RedisClient.create(URL);
        try (StatefulRedisConnection<String, String> c = admin.connect()) {
            List<String> keys = c.sync().keys(PREFIX + "*");
            if (!keys.isEmpty()) {
                c.sync().del(keys.toArray(String[]::new));
            }
        } finally {
            admin.shutdown();
        }
    }

    static Counters replica(int i) {
        return i % 2 == 0 ? replicaA : replicaB;
    }

    @Test
    void whatOneReplicaTakesTheOtherFindsTaken() throws Exception {
        RateCharge rpm = new RateCharge("rpm:key:seen", 2, 1);
        BudgetCharge whole = budget("budget:key:seen:1h", 10 * DOLLAR, -1, 10 * DOLLAR);

        get(replicaA.take(T0, List.of(rpm)));
        RateResult second = get(replicaB.take(T0 + 1, List.of(rpm)));
        RateResult third = get(replicaA.take(T0 + 2, List.of(rpm)));
        get(replicaB.reserve(T0, "held-by-b", List.of(whole)));
        BudgetResult refusedInA = get(replicaA.reserve(T0 + 1, "a", List.of(whole)));
        get(replicaA.settle(T0 + 2, "held-by-b", List.of(whole), 3 * DOLLAR)); // B's reservation, settled by A
        BudgetResult grantedInB = get(replicaB.reserve(T0 + 3, "b", List.of(whole)));

        assertThat(second.used()).containsExactly(2);
        assertThat(third.granted()).isFalse();
        assertThat(refusedInA.granted()).isFalse();
        assertThat(grantedInB.granted()).isTrue();
        assertThat(grantedInB.spent()).containsExactly(3 * DOLLAR);
    }

    @Test
    void twoReplicasTakingAtOnceAdmitOneRpmLimitBetweenThem() throws Exception {
        RateCharge rpm = new RateCharge("rpm:key:shared", 25, 1);

        List<RateResult> results = concurrently(200, i -> get(replica(i).take(T0 + i, List.of(rpm))));

        assertThat(results).filteredOn(RateResult::granted).hasSize(25);
        assertThat(results.stream().filter(RateResult::granted).map(RateResult::used))
                .as("each count handed out once").extracting(used -> used[0]).doesNotHaveDuplicates();
    }

    @Test
    void twoReplicasReserveOneBudgetAndSayItsAlertOnce() throws Exception {
        long worstCase = 2 * DOLLAR;
        BudgetCharge charge = budget("budget:key:shared:1h", 10 * worstCase, 5 * worstCase, worstCase);

        List<BudgetResult> reserved = concurrently(200, i -> get(replica(i).reserve(T0 + 1, "r" + i, List.of(charge))));
        List<Integer> granted = new ArrayList<>();
        for (int i = 0; i < reserved.size(); i++) {
            if (reserved.get(i).granted()) {
                granted.add(i);
            }
        }
        List<boolean[]> alerts = concurrently(granted.size(),
                i -> get(replica(i).settle(T0 + 2, "r" + granted.get(i), List.of(charge), worstCase)));

        assertThat(granted).hasSize(10);
        assertThat(alerts).filteredOn(a -> a[0]).hasSize(1);
        assertThat(get(replicaA.spent(T0 + 3, "budget:key:shared:1h", ROLLING_HOUR))).isEqualTo(10 * worstCase);
        assertThat(get(replicaB.spent(T0 + 3, "budget:key:shared:1h", ROLLING_HOUR))).isEqualTo(10 * worstCase);
    }
}
