package dev.caravan.config;

/**
 * One place a model can be served: a provider and the model name it knows.
 *
 * @param id          stable id, defaults to {@code <provider>-<model>}; names the deployment in headers, logs, metrics
 *                    and its route ({@code deployment-<id>}); models listing the same id share its route and breaker
 * @param provider    the provider that serves it
 * @param model       the model name sent upstream
 * @param weight      share of traffic under the weighted strategy
 * @param maxInFlight most concurrent calls; at the cap the deployment counts as busy (0: no cap)
 * @param price       USD per million tokens, or null when unknown
 * @param breaker     when its circuit breaker opens
 * @param region      where it serves ({@code region: eu}, any label), or null; a principal bound to regions is routed
 *                    only to deployments in one of them
 */
public record DeploymentConfig(String id, ProviderConfig provider, String model, int weight, int maxInFlight,
                               Price price, BreakerSettings breaker, String region) {

    public DeploymentConfig(String id, ProviderConfig provider, String model, int weight, int maxInFlight,
                            Price price, BreakerSettings breaker) {
        this(id, provider, model, weight, maxInFlight, price, breaker, null);
    }

    /**
     * USD per million tokens: input, output, and input served from the provider's prompt cache.
     *
     * @param source where it comes from: {@code config} (the deployment's own {@code price}) or {@code prices.yaml}
     */
    public record Price(double input, double output, double cachedInput, String source) {

        public Price(double input, double output) {
            this(input, output, input, "config");
        }

        public double blended() {
            return input + output;
        }
    }

    /** Same upstream, same settings: two models may list it and share it. */
    boolean sameAs(DeploymentConfig other) {
        return provider.name().equals(other.provider.name()) && model.equals(other.model)
                && java.util.Objects.equals(region, other.region);
    }
}
