package dev.caravan.config;

/**
 * The gateway-wide cost-control switches ({@code limits:} and {@code metrics:} at the top of gateway.yaml).
 *
 * @param failClosed       when the shared counters (Redis) cannot be reached: refuse (true) or go on with counters
 *                         in this process (false, the default)
 * @param defaultMaxTokens the completion tokens reserved for a request that sets no {@code max_tokens}
 * @param keyLabels        label metrics with key ids too (unbounded with many keys; off by default)
 */
public record CostSettings(boolean failClosed, long defaultMaxTokens, boolean keyLabels) {
    public static final long DEFAULT_MAX_TOKENS = 4096;
    public static final CostSettings DEFAULT = new CostSettings(false, DEFAULT_MAX_TOKENS, false);
}
