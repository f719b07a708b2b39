package dev.caravan.policy.counters;

import dev.caravan.config.BudgetPeriod;

import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * The hot counters cost control reads on every request: rate windows (requests and tokens per minute) and budget
 * windows (nano-dollars per period, with reservations). Two implementations with one contract: in this process
 * ({@link LocalCounters}), or in Redis so every replica counts against the same numbers. Every operation on several
 * scopes is atomic across them: all are charged or none is. Nothing here blocks: a stage completes when the store
 * has answered (at once, in process).
 *
 * <p>Scopes are names such as {@code rpm:key:search-prod}, {@code tpm:team:search}, {@code budget:key:x:30d}: the
 * caller makes them, the store only counts.
 */
public interface Counters extends AutoCloseable {

    /** Rate windows are fixed, one minute long, aligned to the epoch minute. */
    long WINDOW_MILLIS = 60_000;

    /** Whole seconds from {@code nowMillis} until {@code atMillis}, rounded up, at least 1: what Retry-After says. */
    static long secondsUntil(long atMillis, long nowMillis) {
        return Math.max(1, (atMillis - nowMillis + 999) / 1000);
    }

    /**
     * One window to take from.
     *
     * @param scope  the counter's name
     * @param limit  the window's limit (requests or tokens per minute)
     * @param amount what this request takes: 1 request, or its estimated tokens
     */
    record RateCharge(String scope, long limit, long amount) {
    }

    /**
     * What {@link #take} did.
     *
     * @param granted      true when every window had room and each was charged; false when none was charged
     * @param refused      the index of the first charge whose window was full, or -1
     * @param used         per charge, the window's count after this request (granted) or as found (refused)
     * @param windowStart  the start of the minute the charges went to (what {@link #adjust} must name)
     */
    record RateResult(boolean granted, int refused, long[] used, long windowStart) {

        /** When the window resets: the end of its minute. */
        public long resetAt() {
            return windowStart + WINDOW_MILLIS;
        }
    }

    /**
     * Takes each charge's amount from its window in the minute of {@code nowMillis}, or none of them: granted when
     * every window still has room (its count so far is below its limit). A request is admitted while room is left,
     * so a token estimate larger than what remains does not refuse it; its real usage settles later.
     */
    CompletionStage<RateResult> take(long nowMillis, List<RateCharge> charges);

    /**
     * Adds {@code delta} (negative to give back) to each scope's window that started at {@code windowStart}: an
     * estimate settled to the real usage. Never refuses; a window already gone is left alone; a count never goes
     * below zero.
     */
    CompletionStage<Void> adjust(long windowStart, List<String> scopes, long delta);

    /**
     * One budget window to reserve in.
     *
     * @param scope   the counter's name (it includes the period: a changed period starts a new counter)
     * @param limit   the budget, nano-dollars
     * @param period  how its window rolls
     * @param alertAt the soft limit, nano-dollars, or -1
     * @param amount  what this request may cost at worst, nano-dollars
     */
    record BudgetCharge(String scope, long limit, BudgetPeriod period, long alertAt, long amount) {
    }

    /**
     * What {@link #reserve} did.
     *
     * @param granted     true when every budget had room and the amount is reserved in each
     * @param refused     the index of the first budget that was spent, or -1
     * @param spent       per charge: spent in its window (reservations not included)
     * @param windowStart per charge: when its window started (a window opened by this call starts now)
     * @param windowEnd   per charge: when its window closes
     * @param opened      per charge: this call opened a new window (the ledger records where each window began)
     */
    record BudgetResult(boolean granted, int refused, long[] spent, long[] windowStart, long[] windowEnd,
                        boolean[] opened) {
    }

    /**
     * Reserves each charge's amount in its budget's current window, or in none: granted when every budget still has
     * room (spent plus reserved is below the limit), so concurrency can overshoot a budget by at most one request's
     * worst case. A window whose period is over is closed first, and a new one opens. {@code reservation} names
     * the reservation for {@link #settle}; one a replica never settles (it died) lapses after
     * {@link #RESERVATION_TTL_MILLIS}.
     */
    CompletionStage<BudgetResult> reserve(long nowMillis, String reservation, List<BudgetCharge> charges);

    /** A reservation nobody settles stops counting after this long (a crashed replica's). */
    long RESERVATION_TTL_MILLIS = 2 * 60 * 60 * 1000L;

    /**
     * Ends a reservation: its amounts stop counting and {@code cost} is added to each scope's spend in its current
     * window (opening one if the old one closed meanwhile). Completes with, per charge, whether this charge took the
     * window's spend to or past its {@code alertAt} for the first time in that window (so the alert is said once,
     * across replicas too).
     */
    CompletionStage<boolean[]> settle(long nowMillis, String reservation, List<BudgetCharge> charges, long cost);

    /** Spent in a scope's current window (0 when none is open), for metrics and messages. */
    CompletionStage<Long> spent(long nowMillis, String scope, BudgetPeriod period);

    /**
     * At start: a window rebuilt from the ledger, used only when the store holds none for the scope (a shared store
     * that kept its state wins over a replica's ledger reading).
     */
    CompletionStage<Void> seed(String scope, BudgetPeriod period, long windowStart, long spent);

    /** The store could not be reached: callers count in process, or refuse when told to fail closed. */
    final class Unavailable extends RuntimeException {
        public Unavailable(String message, Throwable cause) {
            super(message, cause, false, false);
        }
    }

    @Override
    default void close() {
    }
}
