package dev.caravan.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;

/**
 * When a deployment's circuit breaker opens: over the last {@code window} calls (once {@code minimumCalls} were
 * made), a failure rate or a slow-call rate at or above its threshold (percent) opens it for {@code openDuration};
 * then {@code halfOpenCalls} probes decide whether it closes again.
 */
public record BreakerSettings(float failureRateThreshold, float slowCallRateThreshold, Duration slowCallDuration,
                              int window, int minimumCalls, Duration openDuration, int halfOpenCalls) {

    public static final BreakerSettings DEFAULT =
            new BreakerSettings(50, 100, Duration.ofSeconds(60), 20, 5, Duration.ofSeconds(30), 1);

    // Resilience4j keeps an array of `window` outcomes per breaker and refuses an open wait under 1 ms
    static final int MAX_CALLS = 10_000;
    static final double MIN_RATE = 0.01; // percent; Resilience4j refuses 0, which a tinier value becomes as a float
    static final Duration MIN_DURATION = Duration.ofMillis(1);
    static final Duration MAX_DURATION = Duration.ofHours(24);

    /** These settings with whatever {@code node} (at {@code path} in the file) sets. */
    BreakerSettings with(JsonNode node, String path, FieldReader read) {
        if (node == null || !node.isObject()) {
            return this;
        }
        return new BreakerSettings(
                (float) read.number(node, path, "failureRateThreshold", failureRateThreshold, MIN_RATE, 100),
                (float) read.number(node, path, "slowCallRateThreshold", slowCallRateThreshold, MIN_RATE, 100),
                read.duration(node, path, "slowCallDuration", slowCallDuration, MIN_DURATION, MAX_DURATION),
                read.integer(node, path, "window", window, 1, MAX_CALLS),
                read.integer(node, path, "minimumCalls", minimumCalls, 1, MAX_CALLS),
                read.duration(node, path, "openDuration", openDuration, MIN_DURATION, MAX_DURATION),
                read.integer(node, path, "halfOpenCalls", halfOpenCalls, 1, MAX_CALLS));
    }
}
