package dev.caravan.config;

/**
 * A spending cap in USD for one key or team ({@code budget: { usd, period, alertAt }}). Money is counted in
 * nano-dollars (1e-9 USD) as whole numbers everywhere: sums are exact and fit a Redis integer.
 *
 * @param limitNanos   the cap
 * @param period       how long a window lasts
 * @param alertAtNanos a soft limit that is logged once per window and counted, or -1 for none
 */
public record Budget(long limitNanos, BudgetPeriod period, long alertAtNanos) {

    public static final long NANOS_PER_USD = 1_000_000_000L;

    public boolean alerts() {
        return alertAtNanos >= 0;
    }

    public static double usd(long nanos) {
        return nanos / (double) NANOS_PER_USD;
    }
}
