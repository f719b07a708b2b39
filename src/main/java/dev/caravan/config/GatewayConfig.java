package dev.caravan.config;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One immutable snapshot of config/gateway.yaml, swapped whole on reload.
 *
 * @param providers     providers by name
 * @param models        models by the name clients send, in file order
 * @param keysBySha256  virtual keys by the SHA-256 hex of the key
 */
public record GatewayConfig(Map<String, ProviderConfig> providers,
                            Map<String, ModelConfig> models,
                            Map<String, KeyConfig> keysBySha256) {

    public GatewayConfig {
        providers = Map.copyOf(providers);
        models = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(models));
        keysBySha256 = Map.copyOf(keysBySha256);
    }

    public Optional<ModelConfig> model(String name) {
        return Optional.ofNullable(models.get(name));
    }

    public List<DeploymentConfig> allDeployments() {
        return models.values().stream().flatMap(m -> m.deployments().stream()).distinct().toList();
    }
}
