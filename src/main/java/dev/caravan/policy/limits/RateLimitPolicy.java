package dev.caravan.policy.limits;

import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import dev.caravan.config.Limits;
import dev.caravan.config.ModelConfig;
import dev.caravan.config.TeamConfig;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import dev.caravan.policy.Decision;
import dev.caravan.policy.EndFacts;
import dev.caravan.policy.Policy;
import dev.caravan.policy.PolicyCall;
import dev.caravan.policy.counters.Counters;
import dev.caravan.policy.counters.Counters.RateCharge;
import dev.caravan.policy.counters.CountersDown;
import dev.caravan.policy.counters.Scopes;
import dev.caravan.policy.counters.TokenEstimate;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;

/**
 * The {@code limits} policy: requests and tokens per minute per key, team and model, checked before any upstream
 * call. Every window that applies is charged at once or none is (the tighter of key and team wins by itself: the
 * first full window refuses). Tokens are reserved from the request's estimate and settled to its real usage when it
 * ends, so a stream past the limit midway still finishes and is counted. One instance per config; the counters
 * outlive it.
 */
public final class RateLimitPolicy implements Policy {

    private static final String TAKEN = "limits.taken";

    /** What before() took, for end() to settle: the window and the token scopes with the estimate charged. */
    private record Taken(long windowStart, List<String> tokenScopes, long estimate) {
    }

    private final Counters counters;
    private final GatewayConfig config;
    private final Map<String, KeyConfig> keysById = new HashMap<>();
    private final Map<String, Counter> refusals;

    public RateLimitPolicy(GatewayConfig config, Counters counters, MeterRegistry registry) {
        this.config = config;
        this.counters = counters;
        config.keysBySha256().values().forEach(k -> keysById.put(k.id(), k));
        Map<String, Counter> byScope = new HashMap<>();
        for (String scope : List.of(Scopes.KEY, Scopes.TEAM, Scopes.MODEL)) {
            byScope.put(scope, Counter.builder("caravan.rate.limited").description("Requests refused by a rate limit")
                    .tag("scope", scope).register(registry));
        }
        this.refusals = Map.copyOf(byScope);
    }

    @Override
    public CompletionStage<Decision> before(PolicyCall call) {
        List<RateCharge> charges = charges(call);
        if (charges.isEmpty()) {
            return CONTINUE;
        }
        long now = System.currentTimeMillis();
        return counters.take(now, charges).handle((result, error) -> {
            if (error != null) {
                return Decision.refuse(CountersDown.answer(error));
            }
            headers(call, charges, result, now);
            if (!result.granted()) {
                RateCharge full = charges.get(result.refused());
                String kind = Scopes.kind(full.scope());
                refusals.get(kind).increment();
                return Decision.refuse(limited(full, kind, result, now));
            }
            List<String> tokenScopes = new ArrayList<>(3);
            long estimate = 0;
            for (RateCharge c : charges) {
                if (c.scope().startsWith("tpm:")) {
                    tokenScopes.add(c.scope());
                    estimate = c.amount();
                }
            }
            if (!tokenScopes.isEmpty()) {
                call.attribute(TAKEN, new Taken(result.windowStart(), tokenScopes, estimate));
            }
            return Decision.CONTINUE;
        });
    }

    /** Settles the token estimate to what the request really used (nothing, when it failed before any token). */
    @Override
    public void end(PolicyCall call, EndFacts facts) {
        if (call.attribute(TAKEN) instanceof Taken taken) {
            long delta = facts.usage().totalTokens() - taken.estimate();
            if (delta != 0) {
                counters.adjust(taken.windowStart(), taken.tokenScopes(), delta);
            }
        }
    }

    private List<RateCharge> charges(PolicyCall call) {
        KeyConfig key = call.keyId() == null ? null : keysById.get(call.keyId());
        TeamConfig team = config.team(call.team()).orElse(null);
        ModelConfig model = call.modelConfig();
        Limits keyLimits = key == null ? Limits.NONE : key.limits();
        Limits teamLimits = team == null ? Limits.NONE : team.limits();
        Limits modelLimits = model == null ? Limits.NONE : model.limits();
        if (keyLimits.isEmpty() && teamLimits.isEmpty() && modelLimits.isEmpty()) {
            return List.of();
        }
        // a token count is free of tokens but still a request: it counts against rpm only
        boolean tokens = !ExchangeKeys.COUNT_TOKENS.equals(call.operation())
                && (keyLimits.limitsTokens() || teamLimits.limitsTokens() || modelLimits.limitsTokens());
        long estimate = tokens ? TokenEstimate.of(call, config.cost().defaultMaxTokens()).total() : 0;
        List<RateCharge> charges = new ArrayList<>(6);
        add(charges, Scopes.KEY, call.keyId(), keyLimits, tokens, estimate);
        add(charges, Scopes.TEAM, call.team(), teamLimits, tokens, estimate);
        add(charges, Scopes.MODEL, model == null ? null : model.name(), modelLimits, tokens, estimate);
        return charges;
    }

    private static void add(List<RateCharge> charges, String kind, String id, Limits limits, boolean tokens, long estimate) {
        if (id == null) {
            return;
        }
        if (limits.limitsRequests()) {
            charges.add(new RateCharge(Scopes.of("rpm", kind, id), limits.rpm(), 1));
        }
        if (tokens && limits.limitsTokens()) {
            charges.add(new RateCharge(Scopes.of("tpm", kind, id), limits.tpm(), estimate));
        }
    }

    /**
     * OpenAI's x-ratelimit-* headers for the tightest limit of each kind: the window with the least left. On a
     * refusal the counts are those found (nothing was taken).
     */
    private static void headers(PolicyCall call, List<RateCharge> charges, Counters.RateResult result, long now) {
        String reset = Counters.secondsUntil(result.resetAt(), now) + "s";
        int requests = tightest(charges, result, "rpm:");
        if (requests >= 0) {
            call.responseHeader("x-ratelimit-limit-requests", Long.toString(charges.get(requests).limit()));
            call.responseHeader("x-ratelimit-remaining-requests", Long.toString(left(charges.get(requests), result.used()[requests])));
            call.responseHeader("x-ratelimit-reset-requests", reset);
        }
        int tokens = tightest(charges, result, "tpm:");
        if (tokens >= 0) {
            call.responseHeader("x-ratelimit-limit-tokens", Long.toString(charges.get(tokens).limit()));
            call.responseHeader("x-ratelimit-remaining-tokens", Long.toString(left(charges.get(tokens), result.used()[tokens])));
            call.responseHeader("x-ratelimit-reset-tokens", reset);
        }
    }

    private static int tightest(List<RateCharge> charges, Counters.RateResult result, String prefix) {
        int best = -1;
        for (int i = 0; i < charges.size(); i++) {
            if (charges.get(i).scope().startsWith(prefix)
                    && (best < 0 || left(charges.get(i), result.used()[i]) < left(charges.get(best), result.used()[best]))) {
                best = i;
            }
        }
        return best;
    }

    private static long left(RateCharge charge, long used) {
        return Math.max(0, charge.limit() - used);
    }

    private static GatewayException limited(RateCharge full, String kind, Counters.RateResult result, long now) {
        long seconds = Counters.secondsUntil(result.resetAt(), now);
        String what = full.scope().startsWith("rpm:") ? "requests" : "tokens";
        String who = switch (kind) {
            case Scopes.KEY -> "API key '" + Scopes.id(full.scope()) + "'";
            case Scopes.TEAM -> "team '" + Scopes.id(full.scope()) + "'";
            default -> "model '" + GatewayException.quote(Scopes.id(full.scope())) + "' (all callers)";
        };
        // OpenAI's own shape: type names what ran out (requests or tokens), code rate_limit_exceeded
        return new GatewayException(429, what, "rate_limit_exceeded", null,
                "Rate limit reached for " + who + ": " + full.limit() + " " + what + " per minute. Try again in "
                        + seconds + " s.", Map.of("Retry-After", Long.toString(seconds)));
    }
}
