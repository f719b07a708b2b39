package dev.caravan.policy.counters;

import dev.caravan.config.BudgetPeriod;
import dev.caravan.policy.counters.Counters.BudgetCharge;
import dev.caravan.policy.counters.Counters.BudgetResult;
import dev.caravan.policy.counters.Counters.RateCharge;
import dev.caravan.policy.counters.Counters.RateResult;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What every {@link Counters} does, whether it counts in this process or in Redis: one set of tests, run by
 * {@link LocalCountersTest} and {@link RedisCountersTest}. Times are explicit, so windows open and close on cue.
 */
abstract class CountersContract {

    /** An epoch minute (2027-01-15T08:00Z): windows start on it. */
    static final long T0 = 1_800_000_000_000L;
    static final long DOLLAR = 1_000_000_000L; // nano-dollars
    static final long HOUR = 60 * 60 * 1000L;
    static final BudgetPeriod ROLLING_HOUR = BudgetPeriod.parse("1h");

    /** The store under test, empty when a test starts. */
    protected abstract Counters counters();

    // ---- rate windows

    @Test
    void takeGrantsWhileRoomIsLeftThenRefusesNamingTheFullWindow() throws Exception {
        RateCharge rpm = new RateCharge("rpm:key:a", 2, 1);
        RateCharge tpm = new RateCharge("tpm:key:a", 1000, 100);

        RateResult first = take(T0 + 5, rpm, tpm);
        RateResult second = take(T0 + 6, rpm, tpm);
        RateResult third = take(T0 + 7, rpm, tpm);

        assertThat(first.granted()).isTrue();
        assertThat(first.refused()).isEqualTo(-1);
        assertThat(first.used()).containsExactly(1, 100);
        assertThat(first.windowStart()).isEqualTo(T0);
        assertThat(first.resetAt()).isEqualTo(T0 + 60_000);
        assertThat(second.used()).containsExactly(2, 200);
        assertThat(third.granted()).isFalse();
        assertThat(third.refused()).isEqualTo(0);
        assertThat(third.used()).as("as found: nothing charged").containsExactly(2, 200);
    }

    @Test
    void aTokenEstimateLargerThanWhatRemainsIsAdmittedAndTheNextRequestIsRefusedOnTokens() throws Exception {
        RateCharge rpm = new RateCharge("rpm:key:b", 100, 1);
        RateCharge tpm = new RateCharge("tpm:key:b", 100, 150);

        RateResult first = take(T0, rpm, tpm);
        RateResult second = take(T0 + 1, rpm, tpm);

        assertThat(first.granted()).isTrue();
        assertThat(first.used()).containsExactly(1, 150);
        assertThat(second.granted()).isFalse();
        assertThat(second.refused()).isEqualTo(1);
        assertThat(second.used()).containsExactly(1, 150);
    }

    @Test
    void aRefusedTakeChargesNoneOfItsWindows() throws Exception {
        RateCharge key = new RateCharge("rpm:key:c", 10, 1);
        RateCharge team = new RateCharge("rpm:team:c", 1, 1);
        take(T0, team);

        RateResult refused = take(T0 + 1, key, team);
        RateResult keyAlone = take(T0 + 2, key);

        assertThat(refused.refused()).isEqualTo(1);
        assertThat(refused.used()).containsExactly(0, 1);
        assertThat(keyAlone.used()).as("the refused call took nothing from the key's window").containsExactly(1);
    }

    @Test
    void aNewMinuteStartsEveryWindowFromZero() throws Exception {
        RateCharge rpm = new RateCharge("rpm:key:d", 1, 1);
        take(T0 + 10, rpm);

        RateResult lastMillisecond = take(T0 + 59_999, rpm);
        RateResult nextMinute = take(T0 + 60_000, rpm);

        assertThat(lastMillisecond.granted()).isFalse();
        assertThat(nextMinute.granted()).isTrue();
        assertThat(nextMinute.used()).containsExactly(1);
        assertThat(nextMinute.windowStart()).isEqualTo(T0 + 60_000);
    }

    @Test
    void adjustGivesBackAndAddsButNeverGoesBelowZero() throws Exception {
        String scope = "tpm:key:e";
        take(T0, new RateCharge(scope, 1000, 500));

        get(counters().adjust(T0, List.of(scope), -200));
        long afterGivingBack = peek(T0 + 1, scope);
        get(counters().adjust(T0, List.of(scope), 100));
        long afterAdding = peek(T0 + 2, scope);
        get(counters().adjust(T0, List.of(scope), -10_000));
        long afterGivingBackTooMuch = peek(T0 + 3, scope);

        assertThat(afterGivingBack).isEqualTo(300);
        assertThat(afterAdding).isEqualTo(400);
        assertThat(afterGivingBackTooMuch).isZero();
    }

    @Test
    void adjustLeavesAWindowThatIsGoneAloneAndCreatesNone() throws Exception {
        String old = "tpm:key:f";
        take(T0, new RateCharge(old, 1000, 10));
        take(T0 + 60_000, new RateCharge(old, 1000, 5));
        String never = "tpm:key:never";

        get(counters().adjust(T0, List.of(old, never), -3));

        assertThat(peek(T0 + 60_001, old)).as("this minute's window is untouched").isEqualTo(5);
        assertThat(peek(T0 + 60_001, never)).as("no window was made for the adjustment").isZero();
    }

    @Test
    void twoHundredConcurrentTakesAgainstALimitOfTenGrantExactlyTen() throws Exception {
        RateCharge rpm = new RateCharge("rpm:key:g", 10, 1);

        List<RateResult> results = concurrently(200, i -> get(counters().take(T0 + i, List.of(rpm))));

        assertThat(results).filteredOn(RateResult::granted).hasSize(10);
        assertThat(peek(T0 + 500, "rpm:key:g")).isEqualTo(10);
    }

    // ---- budget windows

    @Test
    void reserveIsRefusedOnceSpentPlusReservedReachesTheLimit() throws Exception {
        BudgetCharge forty = budget("budget:key:a:1h", 100 * DOLLAR, -1, 40 * DOLLAR);
        BudgetCharge sixty = budget("budget:key:a:1h", 100 * DOLLAR, -1, 60 * DOLLAR);
        BudgetCharge one = budget("budget:key:a:1h", 100 * DOLLAR, -1, DOLLAR);

        BudgetResult first = reserve(T0 + 7, "r1", forty);
        BudgetResult second = reserve(T0 + 8, "r2", sixty);
        BudgetResult third = reserve(T0 + 9, "r3", one);

        assertThat(first.granted()).isTrue();
        assertThat(first.opened()).containsExactly(true);
        assertThat(first.windowStart()).containsExactly(T0 + 7);
        assertThat(first.windowEnd()).containsExactly(T0 + 7 + HOUR);
        assertThat(second.granted()).as("40 reserved is below 100").isTrue();
        assertThat(second.opened()).containsExactly(false);
        assertThat(second.windowStart()).containsExactly(T0 + 7);
        assertThat(third.granted()).as("40 + 60 reserved reaches 100").isFalse();
        assertThat(third.refused()).isEqualTo(0);
        assertThat(third.spent()).containsExactly(0);
    }

    @Test
    void settleChargesTheCostAndReleasesTheReservation() throws Exception {
        BudgetCharge whole = budget("budget:key:b:1h", 100 * DOLLAR, -1, 100 * DOLLAR);
        BudgetCharge one = budget("budget:key:b:1h", 100 * DOLLAR, -1, DOLLAR);
        reserve(T0, "r1", whole);
        BudgetResult whileHeld = reserve(T0 + 1, "r2", one);

        get(counters().settle(T0 + 2, "r1", List.of(whole), 25 * DOLLAR));
        BudgetResult afterSettle = reserve(T0 + 3, "r3", one);

        assertThat(whileHeld.granted()).isFalse();
        assertThat(afterSettle.granted()).isTrue();
        assertThat(afterSettle.spent()).containsExactly(25 * DOLLAR);
        assertThat(get(counters().spent(T0 + 4, "budget:key:b:1h", ROLLING_HOUR))).isEqualTo(25 * DOLLAR);
    }

    @Test
    void reserveIsAllOrNothingAcrossBudgets() throws Exception {
        BudgetCharge key = budget("budget:key:c:1h", 50 * DOLLAR, -1, 50 * DOLLAR);
        BudgetCharge team = budget("budget:team:c:1h", 10 * DOLLAR, -1, 10 * DOLLAR);
        reserve(T0, "fills-team", team);

        BudgetResult refused = reserve(T0 + 1, "both", key, team);
        BudgetResult keyAlone = reserve(T0 + 2, "key-alone", key);

        assertThat(refused.granted()).isFalse();
        assertThat(refused.refused()).isEqualTo(1);
        assertThat(keyAlone.granted()).as("the refused call reserved nothing in the key's budget").isTrue();
        assertThat(reserve(T0 + 3, "one-more", key).granted()).isFalse();
    }

    @Test
    void twoHundredConcurrentReservesAgainstTenWorstCasesGrantExactlyTen() throws Exception {
        long worstCase = 3 * DOLLAR;
        BudgetCharge charge = budget("budget:key:d:1h", 10 * worstCase, -1, worstCase);

        List<BudgetResult> reserved = concurrently(200, i -> reserve(T0 + 1, "r" + i, charge));
        List<Integer> granted = new ArrayList<>();
        for (int i = 0; i < reserved.size(); i++) {
            if (reserved.get(i).granted()) {
                granted.add(i);
            }
        }
        concurrently(granted.size(), i -> get(counters().settle(T0 + 300, "r" + granted.get(i), List.of(charge), worstCase)));

        assertThat(granted).hasSize(10);
        assertThat(get(counters().spent(T0 + 301, "budget:key:d:1h", ROLLING_HOUR))).isEqualTo(10 * worstCase);
        assertThat(reserve(T0 + 302, "after", charge).granted()).isFalse();
    }

    @Test
    void aRollingWindowClosesAfterItsPeriodAndTheNextChargeOpensANewOne() throws Exception {
        String scope = "budget:key:e:1h";
        BudgetCharge charge = budget(scope, 100 * DOLLAR, -1, DOLLAR);
        reserve(T0 + 7, "r1", charge);
        get(counters().settle(T0 + 8, "r1", List.of(charge), 10 * DOLLAR));

        BudgetResult within = reserve(T0 + 7 + HOUR / 2, "r2", charge);
        long spentLastMillisecond = get(counters().spent(T0 + 7 + HOUR - 1, scope, ROLLING_HOUR));
        long spentAtTheEnd = get(counters().spent(T0 + 7 + HOUR, scope, ROLLING_HOUR));
        BudgetResult next = reserve(T0 + 7 + HOUR + 500, "r3", charge);

        assertThat(within.opened()).containsExactly(false);
        assertThat(within.windowStart()).containsExactly(T0 + 7);
        assertThat(within.spent()).containsExactly(10 * DOLLAR);
        assertThat(spentLastMillisecond).isEqualTo(10 * DOLLAR);
        assertThat(spentAtTheEnd).isZero();
        assertThat(next.opened()).containsExactly(true);
        assertThat(next.windowStart()).containsExactly(T0 + 7 + HOUR + 500);
        assertThat(next.windowEnd()).containsExactly(T0 + 7 + 2 * HOUR + 500);
        assertThat(next.spent()).containsExactly(0);
    }

    @Test
    void aCalendarMonthWindowRunsFromTheFirstOfTheMonthUtcToTheFirstOfTheNext() throws Exception {
        String scope = "budget:team:f:month";
        BudgetCharge charge = new BudgetCharge(scope, 100 * DOLLAR, BudgetPeriod.MONTH, -1, DOLLAR);
        long midJanuary = millis("2030-01-15T12:00:00Z");
        long february = millis("2030-02-01T00:00:00Z");

        BudgetResult january = reserve(midJanuary, "r1", charge);
        get(counters().settle(midJanuary + 1, "r1", List.of(charge), 10 * DOLLAR));
        long spentLastMillisecond = get(counters().spent(february - 1, scope, BudgetPeriod.MONTH));
        long spentInFebruary = get(counters().spent(february, scope, BudgetPeriod.MONTH));
        BudgetResult next = reserve(february + 1, "r2", charge);

        assertThat(january.windowStart()).containsExactly(millis("2030-01-01T00:00:00Z"));
        assertThat(january.windowEnd()).containsExactly(february);
        assertThat(spentLastMillisecond).isEqualTo(10 * DOLLAR);
        assertThat(spentInFebruary).isZero();
        assertThat(next.opened()).containsExactly(true);
        assertThat(next.windowStart()).containsExactly(february);
        assertThat(next.windowEnd()).containsExactly(millis("2030-03-01T00:00:00Z"));
    }

    @Test
    void theAlertFiresOncePerWindowAndOnlyWhereOneIsSet() throws Exception {
        BudgetCharge key = budget("budget:key:g:1h", 100 * DOLLAR, 5 * DOLLAR, DOLLAR);
        BudgetCharge team = budget("budget:team:g:1h", 100 * DOLLAR, -1, DOLLAR);
        List<boolean[]> alerts = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            reserve(T0 + i, "r" + i, key, team);
            alerts.add(get(counters().settle(T0 + i, "r" + i, List.of(key, team), 2 * DOLLAR)));
        }
        reserve(T0 + HOUR + 1, "next", key, team);
        boolean[] nextWindow = get(counters().settle(T0 + HOUR + 2, "next", List.of(key, team), 6 * DOLLAR));
        boolean[] nextWindowAgain = get(counters().settle(T0 + HOUR + 3, "none", List.of(key, team), DOLLAR));

        assertThat(alerts).satisfiesExactly(
                a -> assertThat(a).containsExactly(false, false),  // 2
                a -> assertThat(a).containsExactly(false, false),  // 4
                a -> assertThat(a).containsExactly(true, false),   // 6: crossed 5
                a -> assertThat(a).containsExactly(false, false)); // 8: said already
        assertThat(nextWindow).containsExactly(true, false);
        assertThat(nextWindowAgain).containsExactly(false, false);
    }

    @Test
    void settleAfterTheWindowClosedChargesANewWindowThatOpensThen() throws Exception {
        String scope = "budget:key:h:1h";
        BudgetCharge charge = budget(scope, 100 * DOLLAR, -1, DOLLAR);
        reserve(T0, "r1", charge);

        get(counters().settle(T0 + HOUR + 1, "r1", List.of(charge), 5 * DOLLAR));
        BudgetResult next = reserve(T0 + HOUR + 3, "r2", charge);

        assertThat(get(counters().spent(T0 + HOUR + 2, scope, ROLLING_HOUR))).isEqualTo(5 * DOLLAR);
        assertThat(next.opened()).containsExactly(false);
        assertThat(next.windowStart()).containsExactly(T0 + HOUR + 1);
        assertThat(next.spent()).containsExactly(5 * DOLLAR);
    }

    @Test
    void settlingNothingOpensNoWindow() throws Exception {
        String scope = "budget:key:i:1h";
        BudgetCharge charge = budget(scope, 100 * DOLLAR, -1, DOLLAR);

        get(counters().settle(T0, "unknown", List.of(charge), 0));
        BudgetResult first = reserve(T0 + 10, "r1", charge);

        assertThat(first.opened()).containsExactly(true);
        assertThat(first.windowStart()).containsExactly(T0 + 10);
    }

    @Test
    void spentIsZeroWhereNoWindowWasEverOpened() throws Exception {
        assertThat(get(counters().spent(T0, "budget:key:nothing:1h", ROLLING_HOUR))).isZero();
    }

    @Test
    void seedAppliesOnlyWhenTheStoreHoldsNoWindow() throws Exception {
        String seeded = "budget:key:j:1h";
        get(counters().seed(seeded, ROLLING_HOUR, T0, 70 * DOLLAR));
        get(counters().seed(seeded, ROLLING_HOUR, T0 + 5, 0));
        String opened = "budget:key:k:1h";
        reserve(T0, "r1", budget(opened, 100 * DOLLAR, -1, DOLLAR));
        get(counters().seed(opened, ROLLING_HOUR, T0 - 10, 99 * DOLLAR));

        BudgetResult inSeeded = reserve(T0 + 10, "r2", budget(seeded, 100 * DOLLAR, -1, 30 * DOLLAR));
        BudgetResult full = reserve(T0 + 11, "r3", budget(seeded, 100 * DOLLAR, -1, DOLLAR));

        assertThat(get(counters().spent(T0 + 10, seeded, ROLLING_HOUR))).isEqualTo(70 * DOLLAR);
        assertThat(inSeeded.granted()).isTrue();
        assertThat(inSeeded.opened()).containsExactly(false);
        assertThat(inSeeded.windowStart()).containsExactly(T0);
        assertThat(inSeeded.windowEnd()).containsExactly(T0 + HOUR);
        assertThat(full.granted()).as("70 spent + 30 reserved reaches 100").isFalse();
        assertThat(get(counters().spent(T0 + 10, opened, ROLLING_HOUR))).as("the open window wins").isZero();
    }

    // ---- helpers

    RateResult take(long now, RateCharge... charges) throws Exception {
        return get(counters().take(now, List.of(charges)));
    }

    /** A window's count, read by taking nothing from it. */
    long peek(long now, String scope) throws Exception {
        return take(now, new RateCharge(scope, Long.MAX_VALUE, 0)).used()[0];
    }

    BudgetResult reserve(long now, String reservation, BudgetCharge... charges) throws Exception {
        return get(counters().reserve(now, reservation, List.of(charges)));
    }

    static BudgetCharge budget(String scope, long limit, long alertAt, long amount) {
        return new BudgetCharge(scope, limit, ROLLING_HOUR, alertAt, amount);
    }

    static long millis(String instant) {
        return Instant.parse(instant).toEpochMilli();
    }

    static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    interface Call<T> {
        T call(int i) throws Exception;
    }

    /** Runs n calls from 32 threads, all released at once; their results in call order. */
    static <T> List<T> concurrently(int n, Call<T> call) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(32);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<T>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int index = i;
                Callable<T> task = () -> {
                    start.await();
                    return call.call(index);
                };
                futures.add(threads.submit(task));
            }
            start.countDown();
            List<T> results = new ArrayList<>();
            for (Future<T> f : futures) {
                results.add(f.get(10, TimeUnit.SECONDS));
            }
            return results;
        } finally {
            threads.shutdownNow();
        }
    }
}
