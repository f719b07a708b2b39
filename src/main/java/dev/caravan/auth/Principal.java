package dev.caravan.auth;

import java.util.Set;

/**
 * Who is calling: set by the authenticate step as exchange property {@code caravan.principal}.
 *
 * @param keyId  the key's id from config (never the key itself)
 * @param team   the key's team, or null
 * @param role   {@code user} or {@code admin}
 * @param models models this key may call; empty means all
 */
public record Principal(String keyId, String team, String role, Set<String> models) {

    public boolean mayUse(String model) {
        return models.isEmpty() || models.contains(model);
    }
}
