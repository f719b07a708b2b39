package dev.caravan.auth;

import java.util.Set;

/**
 * Who is calling: set by the authenticate step as exchange property {@code caravan.principal}.
 *
 * @param keyId  the key's id from config (never the key itself)
 * @param team   the key's team, or null
 * @param role   {@code user}, {@code viewer} (may also read /metrics and /health/deployments) or {@code admin}
 * @param models models this key may call; null means all, empty means none (fail closed)
 */
public record Principal(String keyId, String team, String role, Set<String> models) {

    public boolean mayUse(String model) {
        return models == null || models.contains(model);
    }

    /** May read what operators read: metrics and each deployment's health. */
    public boolean mayObserve() {
        return "admin".equals(role) || "viewer".equals(role);
    }
}
