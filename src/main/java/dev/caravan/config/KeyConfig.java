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
 * @param limits requests and tokens per minute for this key alone
 * @param budget USD per period for this key alone, or null
 * @param expiresAt when the key stops working (the end of its {@code expires} day, UTC), or null
 */
public record KeyConfig(String id, String sha256, String role, String team, Set<String> models, Limits limits,
                        Budget budget, java.time.Instant expiresAt) {
    public KeyConfig {
        models = models == null ? null : Set.copyOf(models);
        limits = limits == null ? Limits.NONE : limits;
    }

    public KeyConfig(String id, String sha256, String role, String team, Set<String> models) {
        this(id, sha256, role, team, models, Limits.NONE, null, null);
    }
}
