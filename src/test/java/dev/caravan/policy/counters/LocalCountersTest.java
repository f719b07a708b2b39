package dev.caravan.policy.counters;

/**
 * The contract, in this process. A reservation's lapse is not among it here: LocalCounters lapses reservations by
 * Caffeine's wall clock (expireAfterWrite), not by the nowMillis a test passes, so that case runs against Redis
 * only ({@link RedisCountersTest#aReservationNeverSettledLapsesAfterItsTtl}).
 */
class LocalCountersTest extends CountersContract {

    private final LocalCounters counters = new LocalCounters(); // JUnit makes one instance per test: a fresh store

    @Override
    protected Counters counters() {
        return counters;
    }
}
