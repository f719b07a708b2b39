package dev.caravan.usage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.Json;

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

    public Usage(long promptTokens, long completionTokens, long totalTokens, boolean estimated) {
        this(promptTokens, completionTokens, totalTokens, 0, 0, estimated);
    }

    /** Reads an OpenAI {@code usage} object; null or missing gives {@link #NONE}. */
    public static Usage fromOpenAi(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return NONE;
        }
        long prompt = usage.path("prompt_tokens").asLong(0);
        long completion = usage.path("completion_tokens").asLong(0);
        long total = usage.path("total_tokens").asLong(prompt + completion);
        return new Usage(prompt, completion, total,
                usage.path("prompt_tokens_details").path("cached_tokens").asLong(0),
                usage.path("completion_tokens_details").path("reasoning_tokens").asLong(0),
                usage.path("caravan_estimated").asBoolean(false));
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

    public boolean isEmpty() {
        return totalTokens == 0 && promptTokens == 0 && completionTokens == 0;
    }
}
