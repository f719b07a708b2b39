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
        return decide(exact.enabled(), Switch::exact, model, team, key);
    }

    /** Whether the semantic cache serves a request, decided as {@link #exactFor}. */
    public boolean semanticFor(String model, String team, String key) {
        return decide(semantic.enabled(), Switch::semantic, model, team, key);
    }

    /** The exact entries' TTL for a request, decided as {@link #exactFor}. */
    public Duration exactTtlFor(String model, String team, String key) {
        return decide(exact.ttl(), Switch::exactTtl, model, team, key);
    }

    /** Whether any request may use the semantic cache: the top-level switch or any model's, team's or key's. */
    public boolean semanticAnywhere() {
        return semantic.enabled() || java.util.stream.Stream.of(byModel, byTeam, byKey)
                .flatMap(m -> m.values().stream()).anyMatch(s -> Boolean.TRUE.equals(s.semantic()));
    }

    /** The top-level value, then each level that says something: model, team, key (the most specific wins). */
    private <T> T decide(T global, java.util.function.Function<Switch, T> field, String model, String team, String key) {
        T value = global;
        for (Switch s : new Switch[] {byModel.get(model), team == null ? null : byTeam.get(team),
                key == null ? null : byKey.get(key)}) {
            T said = s == null ? null : field.apply(s);
            if (said != null) {
                value = said;
            }
        }
        return value;
    }
}
