package dev.caravan.policy.counters;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.policy.PolicyCall;
import dev.caravan.usage.TokenCounter;

/**
 * What a request may take before it is made: its prompt tokens (JTokkit, bounded to what is cheap on an event loop)
 * and the completion tokens it allows ({@code max_completion_tokens}, {@code max_tokens}, else the configured
 * default). Made once per request and shared by the limits and the budget.
 *
 * @param promptTokens     the prompt's estimated tokens
 * @param completionTokens the most completion tokens the request allows (0 for embeddings and token counts)
 */
public record TokenEstimate(long promptTokens, long completionTokens) {

    private static final String ATTRIBUTE = "caravan.tokenEstimate";

    public long total() {
        return promptTokens + completionTokens;
    }

    public static TokenEstimate of(PolicyCall call, long defaultMaxTokens) {
        Object known = call.attribute(ATTRIBUTE);
        if (known instanceof TokenEstimate e) {
            return e;
        }
        TokenEstimate e = read(call, defaultMaxTokens);
        call.attribute(ATTRIBUTE, e);
        return e;
    }

    private static TokenEstimate read(PolicyCall call, long defaultMaxTokens) {
        ObjectNode request = call.request();
        String model = call.deployments().isEmpty() ? call.model() : call.deployments().get(0).model();
        if (request == null) {
            return new TokenEstimate(0, 0);
        }
        if (ExchangeKeys.EMBEDDINGS.equals(call.operation())) {
            return new TokenEstimate(TokenCounter.embeddingTokens(request, model, TokenCounter.ON_LOOP_CHARS), 0);
        }
        long prompt = TokenCounter.promptTokens(request, model, TokenCounter.ON_LOOP_CHARS);
        if (ExchangeKeys.COUNT_TOKENS.equals(call.operation())) {
            return new TokenEstimate(prompt, 0);
        }
        long max = maxTokens(request.get("max_completion_tokens"), maxTokens(request.get("max_tokens"), defaultMaxTokens));
        long choices = Math.max(1, Math.min(128, request.path("n").asLong(1)));
        return new TokenEstimate(prompt, max * choices);
    }

    private static long maxTokens(JsonNode n, long fallback) {
        return n != null && n.canConvertToLong() && n.asLong() > 0 ? Math.min(n.asLong(), 10_000_000L) : fallback;
    }
}
