package dev.caravan.config;

import java.util.Set;

/**
 * A virtual key as configured: only its hash is kept.
 *
 * @param id     the name that stands for the key in logs and metrics
 * @param sha256 SHA-256 hex of the key
 * @param role   {@code user} or {@code admin}
 * @param team   the team it belongs to, or null
 * @param models the models it may call; null (no {@code models} in config) means every model, empty means none
 */
public record KeyConfig(String id, String sha256, String role, String team, Set<String> models) {
    public KeyConfig {
        models = models == null ? null : Set.copyOf(models);
    }
}
