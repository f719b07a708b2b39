package dev.caravan.policy.counters;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The contract, in this process; and a reservation nobody settles lapses here too, by the time callers pass. */
class LocalCountersTest extends CountersContract {

    private final LocalCounters counters = new LocalCounters(); // JUnit makes one instance per test: a fresh store

    @Override
    protected Counters counters() {
        return counters;
    }

    @Test
    void aReservationNeverSettledLapsesAfterItsTtl() throws Exception {
        long t0 = 1_800_000_000_000L;
        Counters.BudgetCharge whole = new Counters.BudgetCharge("budget:key:lapse:1h", 10, dev.caravan.config.BudgetPeriod.parse("1h"), -1, 10);
        assertThat(counters.reserve(t0, "crashed", java.util.List.of(whole)).toCompletableFuture().get().granted()).isTrue();
        boolean justBefore = counters.reserve(t0 + Counters.RESERVATION_TTL_MILLIS - 1, "r2", java.util.List.of(whole))
                .toCompletableFuture().get().granted();
        boolean atTheTtl = counters.reserve(t0 + Counters.RESERVATION_TTL_MILLIS, "r3", java.util.List.of(whole))
                .toCompletableFuture().get().granted();
        assertThat(justBefore).isFalse();
        assertThat(atTheTtl).as("the unsettled reservation stopped counting").isTrue();
    }
}
