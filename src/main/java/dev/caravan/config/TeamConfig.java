package dev.caravan.config;

import java.util.Set;

/**
 * A team as configured ({@code teams: { <name>: {...} }}): what all its keys share.
 *
 * @param name   the team's name, as keys name it
 * @param limits requests and tokens per minute across all its keys
 * @param budget USD per period across all its keys, or null
 * @param models the models its keys may call; null means every model (a key's own list narrows it further)
 */
public record TeamConfig(String name, Limits limits, Budget budget, Set<String> models) {
    public TeamConfig {
        models = models == null ? null : Set.copyOf(models);
    }
}
