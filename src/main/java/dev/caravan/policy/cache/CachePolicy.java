package dev.caravan.policy.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.CacheConfig;
import dev.caravan.core.Json;
import dev.caravan.policy.Decision;
import dev.caravan.policy.EndFacts;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.provider.ChatResult;
import dev.caravan.stream.StreamHook;
import dev.caravan.usage.Usage;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The built-in {@code cache} policy, last of the before-hooks (after limits and budgets, so a hit still counts as a
 * request and costs nothing). Before the call: the exact store, then the semantic index when it is on, then the
 * requests in flight (a follower waits for its leader's answer). A hit answers with the stored answer under a fresh
 * id and {@code x-caravan-cache: HIT} (or {@code SEMANTIC}), and charges nothing. After it: a whole answer, or a
 * stream that ended cleanly, is stored, never an error, a cut stream or a filtered answer. README "Caching".
 */
public final class CachePolicy implements Policy {

    static final String HEADER = "x-caravan-cache";
    static final String SIMILARITY_HEADER = "x-caravan-cache-similarity";
    private static final String ATTRIBUTE = "cache";
    /** Requests up to this size are hashed on the event loop (~0.1 ms); bigger ones on the CPU pool. */
    static final int HASH_ON_LOOP_BYTES = 64 << 10;

    private final CacheConfig config;
    private final ResponseCache cache;

    public CachePolicy(CacheConfig config, ResponseCache cache) {
        this.config = config;
        this.cache = cache;
    }

    /** What this request's hooks share: its keys, its controls, what it leads or follows, what it assembled. */
    private static final class State {
        final String exactKey;
        final CacheControls controls;
        final Duration ttl;
        boolean answered;           // the cache answered: nothing to store
        Flights.Flight leads;       // this request leads a flight; others wait for its answer
        byte[] body;                // a whole answer, kept from after() until end() knows its cost
        StreamAssembly assembly;    // a stream's answer, assembled as it passes
        String partition;           // semantic: where its prompt is remembered
        String prompt;
        float[] vector;

        State(String exactKey, CacheControls controls, Duration ttl) {
            this.exactKey = exactKey;
            this.controls = controls;
            this.ttl = ttl;
        }
    }

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        String operation = call.operation();
        boolean chat = "chat".equals(operation);
        if (!chat && !"embeddings".equals(operation)) {
            return CONTINUE; // count_tokens: nothing worth keeping
        }
        String model = call.model();
        boolean exact = config.exactFor(model, call.team(), call.keyId());
        boolean semantic = chat && config.semanticFor(model, call.team(), call.keyId());
        if (!exact && !semantic) {
            return CONTINUE;
        }
        CacheControls controls = CacheControls.parse(call.control("cache")); // a bad control is the client's 400
        if (call.passesThrough()) {
            // the upstream's own answer (hosted tools' items, text choices) is not the canonical one the cache keeps
            call.responseHeader(HEADER, "BYPASS");
            cache.meters().count("bypass");
            return CONTINUE;
        }
        String scope = scope(call);
        ObjectNode request = call.request();
        Duration ttl = controls.ttl() != null ? controls.ttl() : config.exactTtlFor(model, call.team(), call.keyId());
        java.util.function.Supplier<State> keys = () -> {
            State state = new State(CacheKeys.exact(scope, controls.namespace(), operation, request), controls, ttl);
            if (semantic) {
                SemanticPrompt.of(request, config.semantic()).ifPresent(p -> {
                    state.prompt = p.text();
                    state.partition = CacheKeys.partition(scope, controls.namespace(), request, p.index());
                });
            }
            return state;
        };
        if (call.requestBytes() > HASH_ON_LOOP_BYTES && cache.cpu() != null) {
            // hashing 32 MiB of images takes ~50 ms: on the CPU pool, not the loop; with the pool full, no cache
            return cache.cpu().submit(keys::get).handle((state, busy) -> state)
                    .thenCompose(state -> state == null ? CONTINUE : lookup(call, state, exact));
        }
        return lookup(call, keys.get(), exact);
    }

    /** The lookups, in order, for a request whose keys are made. */
    private CompletionStage<Decision> lookup(PolicyCall call, State state, boolean exact) {
        call.attribute(ATTRIBUTE, state);
        CacheControls controls = state.controls;
        if (controls.noCache()) {
            call.responseHeader(HEADER, "BYPASS");
            cache.meters().count("bypass");
            return CONTINUE;
        }
        CompletionStage<Optional<StoredAnswer>> found = exact ? get(state.exactKey) : ResponseCache.done(Optional.empty());
        return found.thenCompose(answer -> {
            if (answer.isPresent()) {
                return ResponseCache.done(hit(call, answer.get(), "HIT", "hit", -1));
            }
            SemanticSide side = state.partition == null ? null : cache.semantic();
            if (side == null) {
                return coalesce(call, state);
            }
            return side.find(state.partition, state.prompt, config.semantic().threshold())
                    .exceptionally(e -> null) // the embedder busy or broken: an ordinary miss
                    .thenCompose(f -> {
                        if (f == null) {
                            return coalesce(call, state);
                        }
                        state.vector = f.vector();
                        if (f.storeKey() == null) {
                            return coalesce(call, state);
                        }
                        return get(f.storeKey()).thenCompose(neighbour -> neighbour.isPresent()
                                ? ResponseCache.done(hit(call, neighbour.get(), "SEMANTIC", "semantic", f.similarity()))
                                : coalesce(call, state));
                    });
        });
    }

    /** A miss: lead the identical requests that come while this one is out, or follow the one already out. */
    private CompletionStage<Decision> coalesce(PolicyCall call, State state) {
        CacheConfig.Coalesce settings = config.coalesce();
        if (settings.enabled()) {
            Flights.Seat seat = cache.flights().join(state.exactKey, settings.maxKeys());
            if (seat != null && seat.leads()) {
                state.leads = seat.flight();
            } else if (seat != null) {
                CompletableFuture<StoredAnswer> answer = Flights.follow(seat.flight(), settings.maxFollowers(), settings.timeout());
                if (answer != null) {
                    return answer.thenApply(a -> a != null ? hit(call, a, "HIT", "coalesced", -1) : miss(call));
                }
            }
        }
        return ResponseCache.done(miss(call));
    }

    private Decision miss(PolicyCall call) {
        call.responseHeader(HEADER, "MISS");
        cache.meters().count("miss");
        return Decision.CONTINUE;
    }

    /** The stored answer as this request's own: a fresh id and time; its usage shown, not charged. */
    private Decision hit(PolicyCall call, StoredAnswer stored, String header, String result, double similarity) {
        ObjectNode body = Json.parseObjectOrNull(stored.body());
        if (body == null) {
            return miss(call); // cannot happen for what this class stored; never answer garbage
        }
        ((State) call.attribute(ATTRIBUTE)).answered = true;
        if (body.has("id")) {
            body.put("id", "chatcmpl-" + call.requestId());
        }
        if (body.has("created")) {
            body.put("created", System.currentTimeMillis() / 1000);
        }
        call.responseHeader(HEADER, header);
        if (similarity >= 0) {
            call.responseHeader(SIMILARITY_HEADER, String.format(java.util.Locale.ROOT, "%.4f", similarity));
        }
        cache.meters().count(result);
        if (!"coalesced".equals(result)) {
            cache.meters().saved(stored.costNanos()); // a follower's saving is counted when its leader's cost is known
        }
        JsonNode usage = body.get("usage");
        return Decision.answer(new ChatResult(body, Map.of(), usage == null ? Usage.NONE : Usage.fromOpenAi(usage)));
    }

    @Override
    public CompletionStage<ChatResult> after(PolicyCall call, ChatResult answer) {
        State state = (State) call.attribute(ATTRIBUTE);
        if (state == null || state.answered) {
            return CompletableFuture.completedFuture(answer);
        }
        if (storable(answer.body())) {
            state.body = Json.bytes(answer.body());
        }
        if (state.leads != null) { // the followers need not wait for the cost: they get the answer now
            cache.flights().land(state.exactKey, state.leads,
                    state.body == null ? null : answer(state, state.body, 0, call.model()));
        }
        return CompletableFuture.completedFuture(answer);
    }

    @Override
    public StreamHook onStream(PolicyCall call) {
        State state = (State) call.attribute(ATTRIBUTE);
        if (state == null || state.answered) {
            return null;
        }
        Flights.Flight flight = state.leads;
        state.assembly = new StreamAssembly(flight == null ? () -> false : flight::othersWait);
        return state.assembly;
    }

    @Override
    public void end(PolicyCall call, EndFacts facts) {
        State state = (State) call.attribute(ATTRIBUTE);
        if (state == null || state.answered) {
            return;
        }
        byte[] body = null;
        if (state.assembly != null) {
            if (state.assembly.complete()) {
                ObjectNode assembled = state.assembly.body(facts.usage());
                if (storable(assembled)) {
                    body = Json.bytes(assembled);
                }
            }
        } else if ("answered".equals(facts.outcome())) {
            body = state.body;
        }
        StoredAnswer answer = body == null ? null : answer(state, body, facts.costNanos(), call.model());
        if (state.leads != null) {
            if (state.assembly != null || body == null) {
                cache.flights().land(state.exactKey, state.leads, answer); // a whole answer landed in after()
            }
            if (answer != null) {
                cache.meters().saved(facts.costNanos() * state.leads.served());
            }
        }
        if (answer != null && !state.controls.noStore()) {
            put(state.exactKey, answer, state.ttl);
            SemanticSide semantic = state.vector == null ? null : cache.semantic();
            if (semantic != null) {
                Duration ttl = state.controls.ttl() != null ? state.controls.ttl() : config.semantic().ttl();
                String key = "s:" + state.exactKey; // its own entry: the semantic TTL is not the exact one
                put(key, answer, ttl);
                semantic.remember(state.partition, state.vector, state.prompt, key,
                        state.controls.namespace(), call.model(), ttl);
            }
        }
    }

    private static StoredAnswer answer(State state, byte[] body, long costNanos, String model) {
        return new StoredAnswer(body, costNanos, model, state.controls.namespace(), System.currentTimeMillis());
    }

    /**
     * Only a complete, successful answer: every choice finished (not cut by a content filter), and no tool call
     * unless {@code cacheToolCalls} (a tool's answer usually depends on state the prompt does not show).
     */
    private boolean storable(JsonNode body) {
        if (body == null) {
            return false;
        }
        if (body.has("data")) {
            return body.get("data").isArray(); // embeddings
        }
        JsonNode choices = body.path("choices");
        if (!choices.isArray() || choices.isEmpty()) {
            return false;
        }
        for (JsonNode choice : choices) {
            String finish = choice.path("finish_reason").asText(null);
            if (finish == null || finish.equals("content_filter")) {
                return false;
            }
            boolean tools = finish.equals("tool_calls") || finish.equals("function_call")
                    || choice.path("message").path("tool_calls").size() > 0;
            if (tools && !config.cacheToolCalls()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whose entries a request may see: its team's, or its key's when it has no team, or the pool every team with
     * {@code cache.shared: true} shares; within it, only those served in the caller's regions when it has them.
     */
    private String scope(PolicyCall call) {
        String team = call.team();
        String scope = team == null ? "key:" + call.keyId()
                : config.sharedTeams().contains(team) ? "shared" : "team:" + team;
        // a caller bound to regions sees only answers served in them: never one a deployment elsewhere made
        return call.regions() == null ? scope : scope + "|regions:" + String.join(",", new java.util.TreeSet<>(call.regions()));
    }

    private CompletionStage<Optional<StoredAnswer>> get(String key) {
        try {
            return cache.store().get(key).exceptionally(e -> Optional.empty()); // a store that fails is a miss
        } catch (RuntimeException e) {
            return ResponseCache.done(Optional.empty());
        }
    }

    private void put(String key, StoredAnswer answer, Duration ttl) {
        try {
            cache.store().put(key, answer, ttl);
        } catch (RuntimeException e) {
            // a store that fails stores nothing; the answer has gone out already
        }
    }
}
