package dev.caravan.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;

/**
 * Token usage of one request, normalized from whatever the provider reported.
 *
 * @param cachedTokens    prompt tokens served from the provider's prompt cache (part of {@code promptTokens})
 * @param reasoningTokens completion tokens spent on reasoning (part of {@code completionTokens})
 * @param estimated       true when the gateway counted the tokens itself because the provider reported none
 */
public record Usage(long promptTokens, long completionTokens, long totalTokens, long cachedTokens,
                    long reasoningTokens, boolean estimated) {

    public static final Usage NONE = new Usage(0, 0, 0, false);

    // upstreams report these numbers: past a billion tokens in one request (1000x the largest context window) a
    // count is nonsense, and a clamp keeps sums of them (budgets, counters) far from overflow and never negative
    public static final long MAX_TOKENS = 1_000_000_000L;

    public Usage {
        promptTokens = clamp(promptTokens);
        completionTokens = clamp(completionTokens);
        totalTokens = clamp(totalTokens);
        cachedTokens = clamp(cachedTokens);
        reasoningTokens = clamp(reasoningTokens);
    }

    public Usage(long promptTokens, long completionTokens, long totalTokens, boolean estimated) {
        this(promptTokens, completionTokens, totalTokens, 0, 0, estimated);
    }

    /** Reads an OpenAI {@code usage} object; null or missing gives {@link #NONE}. */
    public static Usage fromOpenAi(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return NONE;
        }
        long prompt = tokens(usage.path("prompt_tokens"));
        long completion = tokens(usage.path("completion_tokens"));
        long total = usage.path("total_tokens").isNumber() ? tokens(usage.get("total_tokens")) : prompt + completion;
        return new Usage(prompt, completion, total,
                tokens(usage.path("prompt_tokens_details").path("cached_tokens")),
                tokens(usage.path("completion_tokens_details").path("reasoning_tokens")),
                usage.path("caravan_estimated").asBoolean(false));
    }

    /**
     * Reads a Responses API {@code usage} object (input, output, cached input and reasoning tokens); null or missing
     * gives {@link #NONE}.
     */
    public static Usage fromResponses(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return NONE;
        }
        long input = tokens(usage.path("input_tokens"));
        long output = tokens(usage.path("output_tokens"));
        long total = usage.path("total_tokens").isNumber() ? tokens(usage.get("total_tokens")) : input + output;
        return new Usage(input, output, total, tokens(usage.path("input_tokens_details").path("cached_tokens")),
                tokens(usage.path("output_tokens_details").path("reasoning_tokens")), false);
    }

    /** The canonical (OpenAI) {@code usage} object; estimates say so in {@code caravan_estimated}. */
    public ObjectNode toOpenAi() {
        ObjectNode u = Json.object();
        u.put("prompt_tokens", promptTokens);
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", totalTokens);
        if (cachedTokens > 0) {
            u.putObject("prompt_tokens_details").put("cached_tokens", cachedTokens);
        }
        if (reasoningTokens > 0) {
            u.putObject("completion_tokens_details").put("reasoning_tokens", reasoningTokens);
        }
        if (estimated) {
            u.put("caravan_estimated", true);
        }
        return u;
    }

    /**
     * A token count as an upstream wrote it, within [0, {@link #MAX_TOKENS}]: anything but a number is 0, and a
     * number too large for a long ({@code 1e400}, twenty digits) is the maximum rather than a wrapped negative.
     */
    public static long tokens(JsonNode n) {
        if (n == null || !n.isNumber()) {
            return 0;
        }
        if (n.canConvertToLong()) {
            return clamp(n.asLong());
        }
        double d = n.asDouble();
        return Double.isNaN(d) || d < 0 ? 0 : MAX_TOKENS;
    }

    private static long clamp(long n) {
        return n < 0 ? 0 : Math.min(n, MAX_TOKENS);
    }

    public boolean isEmpty() {
        return totalTokens == 0 && promptTokens == 0 && completionTokens == 0;
    }
}
