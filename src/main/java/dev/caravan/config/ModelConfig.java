package dev.caravan.config;

import java.time.Duration;
import java.util.List;

/**
 * A model name clients send, and how it is served.
 *
 * @param name                   the name in the request's {@code model} field
 * @param deployments            where it is served
 * @param timeout                per attempt, until the upstream's first response byte
 * @param streamIdleTimeout      longest silence allowed between two stream chunks; a long stream is not a slow one
 * @param routing                strategy, retries, deadline, backoff (global defaults with this model's overrides)
 * @param fallbacks              other models to try, in order, when every deployment of this one failed
 * @param contextWindowFallbacks models to try when the request is too long for this one
 * @param limits                 requests and tokens per minute across every caller of this model
 */
public record ModelConfig(String name, List<DeploymentConfig> deployments, Duration timeout, Duration streamIdleTimeout,
                          RoutingSettings routing, List<String> fallbacks, List<String> contextWindowFallbacks,
                          Limits limits) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_STREAM_IDLE_TIMEOUT = Duration.ofSeconds(60);

    public ModelConfig {
        deployments = List.copyOf(deployments);
        fallbacks = List.copyOf(fallbacks);
        contextWindowFallbacks = List.copyOf(contextWindowFallbacks);
        limits = limits == null ? Limits.NONE : limits;
    }

    public ModelConfig(String name, List<DeploymentConfig> deployments, Duration timeout, Duration streamIdleTimeout,
                       RoutingSettings routing, List<String> fallbacks, List<String> contextWindowFallbacks) {
        this(name, deployments, timeout, streamIdleTimeout, routing, fallbacks, contextWindowFallbacks, Limits.NONE);
    }
}
