package dev.caravan.config;

import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * The response cache as configured ({@code cache:} at the top of gateway.yaml, and {@code cache:} on a model, team
 * or key). The built-in {@code cache} policy reads it; docs: README "Caching".
 *
 * @param exact          the exact cache: same request, same answer
 * @param semantic       the semantic cache: the same question asked in other words (off by default)
 * @param cacheToolCalls store answers that call tools (off: a tool call usually depends on state the prompt hides)
 * @param coalesce       concurrent identical requests share one upstream call
 * @param byModel        switches per model name
 * @param byTeam         switches per team name
 * @param byKey          switches per key id
 * @param sharedTeams    teams whose entries are shared with every other team that says {@code cache.shared: true}
 */
public record CacheConfig(Exact exact, Semantic semantic, boolean cacheToolCalls, Coalesce coalesce,
                          Map<String, Switch> byModel, Map<String, Switch> byTeam, Map<String, Switch> byKey,
                          Set<String> sharedTeams) {

    /** @param maxBytes the bodies' bytes held at most, plus a fixed overhead per entry */
    public record Exact(boolean enabled, Duration ttl, long maxEntries, long maxBytes) {
        public static final Exact DEFAULT = new Exact(true, Duration.ofMinutes(10), 100_000, 256L << 20);
    }

    /**
     * @param threshold      cosine similarity a neighbour must reach before the verification step looks at it
     * @param maxMessages    only conversations of at most this many messages (system included) are looked up
     * @param maxTemperature a request sampling hotter than this never gets or leaves a semantic entry
     */
    public record Semantic(boolean enabled, double threshold, Duration ttl, int maxEntries, int maxMessages,
                           double maxTemperature) {
        public static final double DEFAULT_THRESHOLD = 0.90;
        public static final Semantic DEFAULT = new Semantic(false, DEFAULT_THRESHOLD, Duration.ofHours(1), 50_000, 4, 1.0);
    }

    /**
     * @param timeout      a follower waits at most this long for its leader, then calls upstream itself
     * @param maxFollowers followers per key; past it a request calls on its own
     * @param maxKeys      keys in flight at once; past it a request calls on its own
     */
    public record Coalesce(boolean enabled, Duration timeout, int maxFollowers, int maxKeys) {
        public static final Coalesce DEFAULT = new Coalesce(true, Duration.ofSeconds(30), 1_000, 10_000);
    }

    /**
     * A model's, team's or key's {@code cache:}: each field null where it says nothing (the level above decides).
     *
     * @param exactTtl the exact entries' TTL for requests at this level, or null
     */
    public record Switch(Boolean exact, Boolean semantic, Duration exactTtl) {
        public static final Switch NONE = new Switch(null, null, null);
    }

    /**
     * No {@code cache:} block: nothing is cached unless a model, team or key switches it on (an operator who never
     * asked for a cache never gets an answer twice). With the block, the exact cache is on unless it says otherwise.
     */
    public static final CacheConfig DEFAULT = new CacheConfig(
            new Exact(false, Exact.DEFAULT.ttl(), Exact.DEFAULT.maxEntries(), Exact.DEFAULT.maxBytes()),
            Semantic.DEFAULT, false, Coalesce.DEFAULT, Map.of(), Map.of(), Map.of(), Set.of());

    public CacheConfig {
        byModel = Map.copyOf(byModel);
        byTeam = Map.copyOf(byTeam);
        byKey = Map.copyOf(byKey);
        sharedTeams = Set.copyOf(sharedTeams);
    }

    /** Whether the exact cache serves a request: global, then the model's, the team's, the key's switch (last wins). */
    public boolean exactFor(String model, String team, String key) {
        boolean on = exact.enabled();
        on = pick(byModel.get(model), Switch::exact, on);
        on = pick(team == null ? null : byTeam.get(team), Switch::exact, on);
        return pick(key == null ? null : byKey.get(key), Switch::exact, on);
    }

    /** Whether the semantic cache serves a request, decided as {@link #exactFor}. */
    public boolean semanticFor(String model, String team, String key) {
        boolean on = semantic.enabled();
        on = pick(byModel.get(model), Switch::semantic, on);
        on = pick(team == null ? null : byTeam.get(team), Switch::semantic, on);
        return pick(key == null ? null : byKey.get(key), Switch::semantic, on);
    }

    /** The exact entries' TTL for a request, decided as {@link #exactFor}. */
    public Duration exactTtlFor(String model, String team, String key) {
        Duration ttl = exact.ttl();
        for (Switch s : new Switch[] {byModel.get(model), team == null ? null : byTeam.get(team),
                key == null ? null : byKey.get(key)}) {
            if (s != null && s.exactTtl() != null) {
                ttl = s.exactTtl();
            }
        }
        return ttl;
    }

    private static boolean pick(Switch s, java.util.function.Function<Switch, Boolean> field, boolean fallback) {
        Boolean value = s == null ? null : field.apply(s);
        return value == null ? fallback : value;
    }
}
