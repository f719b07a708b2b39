package dev.caravan.auth;

import java.util.Set;

/**
 * Who is calling: set by the authenticate step as exchange property {@code caravan.principal}.
 *
 * @param keyId   the key's id (never the key itself), {@code master}, or an OIDC token's subject
 * @param team    the key's team, or null
 * @param role    {@code user}, {@code viewer}, {@code team-admin} or {@code admin} ({@link Role})
 * @param models  models this key may call; null means all, empty means none (fail closed)
 * @param regions deployment regions its requests may be served in; null means any, empty means none
 */
public record Principal(String keyId, String team, String role, Set<String> models, Set<String> regions) {

    public Principal(String keyId, String team, String role, Set<String> models) {
        this(keyId, team, role, models, null);
    }

    public boolean mayUse(String model) {
        return models == null || models.contains(model);
    }

    /** May read what operators read: metrics and each deployment's health. */
    public boolean mayObserve() {
        return "admin".equals(role) || "viewer".equals(role);
    }

    /** May be served by a deployment in {@code region} (null: a deployment that names no region). */
    public boolean mayBeServedIn(String region) {
        return regions == null || (region != null && regions.contains(region));
    }

    public Role roleKind() {
        return Role.parse(role);
    }
}
