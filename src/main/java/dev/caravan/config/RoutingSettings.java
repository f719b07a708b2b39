package dev.caravan.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;

/**
 * How a model's deployments are ranked and retried: the global {@code routing:} block, which each model may override.
 *
 * @param strategy       weighted | least-busy | latency | cost | ordered
 * @param retries        extra attempts in all, each to the next healthy deployment
 * @param deadline       bounds all attempts of a non-streamed request
 * @param backoffInitial first wait before trying a deployment again; doubles each time, with jitter
 * @param backoffMax     longest such wait
 * @param explore        share of requests the latency strategy sends to a random deployment, so a recovered one is seen
 * @param maxRetryAfter  longest an upstream's Retry-After may cool a deployment down (and what the client is told)
 */
public record RoutingSettings(String strategy, int retries, Duration deadline, Duration backoffInitial,
                              Duration backoffMax, double explore, BreakerSettings breaker, Duration maxRetryAfter) {

    // 60 s: longer than any provider's documented per-minute window, short enough that a bogus value heals itself
    public static final RoutingSettings DEFAULT = new RoutingSettings("ordered", 2, Duration.ofSeconds(90),
            Duration.ofMillis(100), Duration.ofSeconds(2), 0.1, BreakerSettings.DEFAULT, Duration.ofSeconds(60));

    static final int MAX_RETRIES = 20;
    static final Duration MAX_DEADLINE = Duration.ofHours(24);
    static final Duration MAX_BACKOFF = Duration.ofHours(1);

    /** These settings with whatever {@code node} (at {@code path} in the file) sets. */
    RoutingSettings with(JsonNode node, String path, FieldReader read) {
        if (node == null || !node.isObject()) {
            return this;
        }
        JsonNode backoff = node.get("backoff");
        String backoffPath = FieldReader.at(path, "backoff");
        return new RoutingSettings(
                node.path("strategy").asText(strategy),
                read.integer(node, path, "retries", retries, 0, MAX_RETRIES),
                read.duration(node, path, "deadline", deadline, Duration.ofMillis(1), MAX_DEADLINE),
                read.duration(backoff, backoffPath, "initial", backoffInitial, Duration.ZERO, MAX_BACKOFF),
                read.duration(backoff, backoffPath, "max", backoffMax, Duration.ZERO, MAX_BACKOFF),
                read.number(node, path, "explore", explore, 0, 1),
                breaker.with(node.get("breaker"), FieldReader.at(path, "breaker"), read),
                read.duration(node, path, "maxRetryAfter", maxRetryAfter, Duration.ZERO, MAX_DEADLINE));
    }
}
