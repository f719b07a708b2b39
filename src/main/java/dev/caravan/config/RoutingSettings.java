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

    /** These settings with whatever {@code node} sets. */
    RoutingSettings with(JsonNode node) {
        if (node == null || !node.isObject()) {
            return this;
        }
        JsonNode backoff = node.path("backoff");
        return new RoutingSettings(
                node.path("strategy").asText(strategy),
                node.path("retries").asInt(retries),
                ConfigLoader.duration(node, "deadline", deadline),
                ConfigLoader.duration(backoff, "initial", backoffInitial),
                ConfigLoader.duration(backoff, "max", backoffMax),
                node.path("explore").asDouble(explore),
                breaker.with(node.get("breaker")),
                ConfigLoader.duration(node, "maxRetryAfter", maxRetryAfter));
    }
}
