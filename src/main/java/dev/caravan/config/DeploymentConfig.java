package dev.caravan.config;

/**
 * One place a model can be served: a provider and the model name it knows.
 *
 * @param id       stable id, defaults to {@code <provider>-<model>}; names the deployment in headers, logs and metrics
 * @param provider the provider that serves it
 * @param model    the model name sent upstream
 */
public record DeploymentConfig(String id, ProviderConfig provider, String model) {
}
