package dev.caravan.config;

import java.time.Instant;
import java.util.Map;
import java.util.Set;

/**
 * A virtual key, from config/gateway.yaml or made through the admin API: only its hash is kept.
 *
 * @param id        the name that stands for the key in logs and metrics
 * @param sha256    SHA-256 hex of the key
 * @param role      {@code user}, {@code viewer}, {@code team-admin} or {@code admin} ({@code dev.caravan.auth.Role})
 * @param team      the team it belongs to, or null
 * @param models    the models it may call; null (no {@code models} in config) means every model, empty means none
 * @param limits    requests and tokens per minute for this key alone
 * @param budget    USD per period for this key alone, or null
 * @param expiresAt when the key stops working (the end of its {@code expires} day, UTC), or null
 * @param regions   the deployment regions its requests may be served in (narrowing its team's), or null for any
 * @param metadata  free-form labels an operator attached (strings), never secret; empty when none
 * @param source    {@link #CONFIG} or {@link #API}
 * @param createdAt when it was made through the admin API, or null for a key from config
 */
public record KeyConfig(String id, String sha256, String role, String team, Set<String> models, Limits limits,
                        Budget budget, Instant expiresAt, Set<String> regions, Map<String, String> metadata,
                        String source, Instant createdAt) {

    /** Defined in config/gateway.yaml: the admin API shows it and cannot change it. */
    public static final String CONFIG = "config";
    /** Made through the admin API and kept in the gateway's database. */
    public static final String API = "api";

    public KeyConfig {
        models = models == null ? null : Set.copyOf(models);
        regions = regions == null ? null : Set.copyOf(regions);
        limits = limits == null ? Limits.NONE : limits;
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        source = source == null ? CONFIG : source;
    }

    public KeyConfig(String id, String sha256, String role, String team, Set<String> models, Limits limits,
                     Budget budget, Instant expiresAt) {
        this(id, sha256, role, team, models, limits, budget, expiresAt, null, Map.of(), CONFIG, null);
    }

    public KeyConfig(String id, String sha256, String role, String team, Set<String> models) {
        this(id, sha256, role, team, models, Limits.NONE, null, null);
    }

    /** The same key under another secret (a rotation's old one, valid until {@code until}). */
    public KeyConfig withSecret(String otherSha256, Instant until) {
        Instant end = expiresAt == null || (until != null && until.isBefore(expiresAt)) ? until : expiresAt;
        return new KeyConfig(id, otherSha256, role, team, models, limits, budget, end, regions, metadata, source,
                createdAt);
    }
}
