package dev.caravan.usage;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Token usage of one request, normalized from whatever the provider reported.
 *
 * @param estimated true when the gateway counted the tokens itself because the provider reported none
 */
public record Usage(long promptTokens, long completionTokens, long totalTokens, boolean estimated) {

    public static final Usage NONE = new Usage(0, 0, 0, false);

    /** Reads an OpenAI {@code usage} object; null or missing gives {@link #NONE}. */
    public static Usage fromOpenAi(JsonNode usage) {
        if (usage == null || !usage.isObject()) {
            return NONE;
        }
        long prompt = usage.path("prompt_tokens").asLong(0);
        long completion = usage.path("completion_tokens").asLong(0);
        long total = usage.path("total_tokens").asLong(prompt + completion);
        return new Usage(prompt, completion, total, false);
    }

    public boolean isEmpty() {
        return totalTokens == 0 && promptTokens == 0 && completionTokens == 0;
    }
}
