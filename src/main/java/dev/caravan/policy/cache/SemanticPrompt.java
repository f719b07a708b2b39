package dev.caravan.policy.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.CacheConfig;

import java.util.Optional;

/**
 * What the semantic cache embeds: the conversation's last user turn, as text, when the request may use the
 * semantic cache at all (a short conversation, text only, not sampled hotter than the bound, one choice).
 *
 * @param index the turn's place in {@code messages} (the partition hashes every other turn)
 */
record SemanticPrompt(String text, int index) {

    /** Past this a prompt is not a question to answer from memory; MiniLM reads only its first 256 tokens anyway. */
    static final int MAX_CHARS = 2_000;

    static Optional<SemanticPrompt> of(ObjectNode request, CacheConfig.Semantic settings) {
        JsonNode messages = request.path("messages");
        if (!messages.isArray() || messages.isEmpty() || messages.size() > settings.maxMessages()) {
            return Optional.empty();
        }
        JsonNode temperature = request.get("temperature");
        if (temperature != null && temperature.isNumber() && temperature.asDouble() > settings.maxTemperature()) {
            return Optional.empty();
        }
        if (request.path("n").asInt(1) != 1) {
            return Optional.empty();
        }
        int last = messages.size() - 1;
        JsonNode turn = messages.get(last);
        if (!"user".equals(turn.path("role").asText())) {
            return Optional.empty();
        }
        String text = text(turn.get("content"));
        if (text == null || text.isBlank() || text.length() > MAX_CHARS) {
            return Optional.empty();
        }
        return Optional.of(new SemanticPrompt(text.trim(), last));
    }

    /** A string, or text parts only: an image or audio part is not in the words, so no neighbour can stand in. */
    private static String text(JsonNode content) {
        if (content == null) {
            return null;
        }
        if (content.isTextual()) {
            return content.asText();
        }
        if (!content.isArray()) {
            return null;
        }
        StringBuilder out = new StringBuilder();
        for (JsonNode part : content) {
            if (!"text".equals(part.path("type").asText())) {
                return null;
            }
            out.append(out.length() == 0 ? "" : "\n").append(part.path("text").asText());
        }
        return out.toString();
    }
}
