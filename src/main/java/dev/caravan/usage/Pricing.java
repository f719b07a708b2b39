package dev.caravan.usage;

import dev.caravan.config.DeploymentConfig;

import java.math.BigDecimal;

/**
 * What tokens cost. Money is counted in nano-dollars (1e-9 USD) as longs; a price per million tokens is a whole
 * number of pico-dollars (1e-12 USD) per token, so the arithmetic is exact in pico-dollars and rounded once.
 */
public final class Pricing {

    private static final long PICO_PER_NANO = 1000;
    // past this many USD per million tokens a token costs more pico-dollars than a long holds (9.2e18): saturate
    private static final double MAX_USD_PER_MILLION = Long.MAX_VALUE / 1e6;

    private Pricing() {
    }

    /**
     * The cost of {@code usage} at {@code price}, in nano-dollars: uncached prompt tokens at {@code input}, cached
     * ones at {@code cachedInput}, completion tokens at {@code output}; summed in pico-dollars, rounded half up to
     * nano-dollars. Never negative, never wrapped (it saturates at {@link Long#MAX_VALUE}); no price costs 0.
     */
    public static long costNanos(Usage usage, DeploymentConfig.Price price) {
        if (usage == null || price == null) {
            return 0;
        }
        // promptTokens includes cachedTokens; an upstream that says more were cached than sent is held to what it sent
        long cached = Math.min(usage.cachedTokens(), usage.promptTokens());
        long uncached = usage.promptTokens() - cached;
        long in = pico(price.input());
        long cachedIn = pico(price.cachedInput());
        long out = pico(price.output());
        // each product split at a nano-dollar: whole nanos (may saturate) and a sub-nano remainder (< 1000 a token)
        long nanos = add(add(times(uncached, in / PICO_PER_NANO), times(cached, cachedIn / PICO_PER_NANO)),
                times(usage.completionTokens(), out / PICO_PER_NANO));
        long picoRest = add(add(times(uncached, in % PICO_PER_NANO), times(cached, cachedIn % PICO_PER_NANO)),
                times(usage.completionTokens(), out % PICO_PER_NANO));
        long rounded = picoRest / PICO_PER_NANO + (picoRest % PICO_PER_NANO >= PICO_PER_NANO / 2 ? 1 : 0);
        return add(nanos, rounded);
    }

    /** Nano-dollars as decimal USD in plain notation: up to nine decimals, no trailing zeros, {@code 0} when free. */
    public static String usd(long nanos) {
        return nanos == 0 ? "0" : BigDecimal.valueOf(nanos, 9).stripTrailingZeros().toPlainString();
    }

    /**
     * Pico-dollars per token for a price per million tokens. Config bounds its prices; an operator's prices.yaml is
     * read as written, so a negative or NaN price counts as free and an absurd one saturates.
     */
    static long pico(double usdPerMillion) {
        if (!(usdPerMillion > 0)) {
            return 0;
        }
        if (usdPerMillion >= MAX_USD_PER_MILLION) {
            return Long.MAX_VALUE;
        }
        // a price with up to six decimals times 1e6 is within 1e-4 of a whole number: rounding gives it exactly, with
        // none of BigDecimal's allocation (this runs for every request a budget checks, and again for its cost)
        return Math.round(usdPerMillion * 1_000_000d);
    }

    private static long times(long a, long b) {
        if (a == 0 || b == 0) {
            return 0;
        }
        return a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b; // both non-negative here
    }

    private static long add(long a, long b) {
        long sum = a + b;
        return sum < 0 ? Long.MAX_VALUE : sum; // both non-negative: a wrap shows as a negative sum
    }
}
