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

    /** These settings with whatever {@code node} sets. */
    BreakerSettings with(JsonNode node) {
        if (node == null || !node.isObject()) {
            return this;
        }
        return new BreakerSettings(
                (float) node.path("failureRateThreshold").asDouble(failureRateThreshold),
                (float) node.path("slowCallRateThreshold").asDouble(slowCallRateThreshold),
                ConfigLoader.duration(node, "slowCallDuration", slowCallDuration),
                node.path("window").asInt(window),
                node.path("minimumCalls").asInt(minimumCalls),
                ConfigLoader.duration(node, "openDuration", openDuration),
                node.path("halfOpenCalls").asInt(halfOpenCalls));
    }
}
