package dev.caravan.config;

import java.util.Set;

/**
 * A team ({@code teams: { <name>: {...} }} in config, or one made through the admin API): what all its keys share.
 *
 * @param name    the team's name, as keys name it
 * @param limits  requests and tokens per minute across all its keys
 * @param budget  USD per period across all its keys, or null
 * @param models  the models its keys may call; null means every model (a key's own list narrows it further)
 * @param regions the deployment regions its keys' requests may be served in; null means any (a key's own list
 *                narrows it further)
 * @param source  {@link KeyConfig#CONFIG} (config/gateway.yaml, read-only to the admin API) or {@link KeyConfig#API}
 */
public record TeamConfig(String name, Limits limits, Budget budget, Set<String> models, Set<String> regions,
                         String source) {
    public TeamConfig {
        models = models == null ? null : Set.copyOf(models);
        regions = regions == null ? null : Set.copyOf(regions);
        limits = limits == null ? Limits.NONE : limits;
        source = source == null ? KeyConfig.CONFIG : source;
    }

    public TeamConfig(String name, Limits limits, Budget budget, Set<String> models) {
        this(name, limits, budget, models, null, KeyConfig.CONFIG);
    }
}
