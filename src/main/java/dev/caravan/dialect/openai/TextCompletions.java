package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.util.Set;

/**
 * OpenAI's legacy {@code /v1/completions} (text completions) over the canonical chat request: the prompt becomes one
 * user turn, and the answer's messages become {@code text} choices, whole and streamed. Every provider serves it
 * this way, OpenAI's own included (the model answers as a chat model would; `suffix`, `best_of` and `logprobs`,
 * which have no chat equivalent, are refused with a 400 naming them).
 */
public final class TextCompletions {

    /** Completions' own default, kept: a client that sends no max_tokens gets 16 tokens, as from OpenAI. */
    static final int DEFAULT_MAX_TOKENS = 16;
    private static final Set<String> NO_CHAT_EQUIVALENT = Set.of("suffix", "best_of", "logprobs");
    // fields that mean the same in both APIs and pass as they are
    private static final Set<String> SHARED = Set.of("model", "max_tokens", "temperature", "top_p", "n", "stream",
            "stream_options", "stop", "presence_penalty", "frequency_penalty", "seed", "user", "logit_bias",
            "metadata", "service_tier");

    private TextCompletions() {
    }

    /**
     * The canonical chat request for a completions body (already a JSON object with a string model). Unknown fields
     * pass through untouched, as on chat completions.
     *
     * @return the prompt when the client asked to have it echoed, else null
     */
    public static String toChat(ObjectNode body, ObjectNode canonical) {
        for (String field : NO_CHAT_EQUIVALENT) {
            JsonNode v = body.get(field);
            if (v != null && !v.isNull() && !(field.equals("best_of") && v.asInt(0) == 1)) {
                throw GatewayException.badRequest("unsupported_parameter", field, "'" + field
                        + "' is not supported: Caravan serves /v1/completions through chat models, which have no equivalent.");
            }
        }
        String prompt = prompt(body.get("prompt"));
        body.fields().forEachRemaining(e -> {
            String name = e.getKey();
            if (!name.equals("prompt") && !name.equals("echo") && !NO_CHAT_EQUIVALENT.contains(name)) {
                canonical.set(name, e.getValue());
            }
        });
        if (!canonical.has("max_tokens") || canonical.get("max_tokens").isNull()) {
            canonical.put("max_tokens", DEFAULT_MAX_TOKENS);
        }
        canonical.putArray("messages").addObject().put("role", "user").put("content", prompt);
        JsonNode echo = body.get("echo");
        if (echo != null && !echo.isNull() && !echo.isBoolean()) {
            throw RequestChecks.invalidType("echo", "a boolean", echo);
        }
        return echo != null && echo.asBoolean(false) ? prompt : null;
    }

    private static String prompt(JsonNode prompt) {
        if (prompt == null || prompt.isNull()) {
            throw GatewayException.badRequest("missing_required_parameter", "prompt", "Missing required parameter: 'prompt'.");
        }
        if (prompt.isTextual()) {
            return prompt.asText();
        }
        if (prompt.isArray() && prompt.size() == 1 && prompt.get(0).isTextual()) {
            return prompt.get(0).asText();
        }
        if (prompt.isArray() && prompt.size() > 1 && prompt.get(0).isTextual()) {
            throw GatewayException.badRequest("invalid_value", "prompt",
                    "Send one prompt per request: Caravan serves /v1/completions through chat models, one prompt at a time.");
        }
        throw RequestChecks.invalidType("prompt", "a string", prompt);
    }

    /** A whole chat answer as a text completion. */
    public static ObjectNode fromChat(JsonNode chat, String echo) {
        ObjectNode out = head(chat);
        ArrayNode choices = out.putArray("choices");
        for (JsonNode c : chat.path("choices")) {
            ObjectNode choice = choices.addObject();
            String text = c.path("message").path("content").asText("");
            choice.put("text", echo == null ? text : echo + text);
            choice.put("index", c.path("index").asInt());
            choice.putNull("logprobs");
            choice.set("finish_reason", c.get("finish_reason"));
        }
        if (chat.has("usage")) {
            out.set("usage", chat.get("usage"));
        }
        if (chat.has("system_fingerprint")) {
            out.set("system_fingerprint", chat.get("system_fingerprint"));
        }
        return out;
    }

    /** One canonical stream chunk as a completions chunk ({@code choices[].text}); usage and ids kept. */
    public static ObjectNode chunkFromChat(ObjectNode chunk) {
        ObjectNode out = head(chunk);
        ArrayNode choices = out.putArray("choices");
        for (JsonNode c : chunk.path("choices")) {
            ObjectNode choice = choices.addObject();
            choice.put("text", c.path("delta").path("content").asText(""));
            choice.put("index", c.path("index").asInt());
            choice.putNull("logprobs");
            choice.set("finish_reason", c.has("finish_reason") ? c.get("finish_reason") : Json.MAPPER.nullNode());
        }
        if (chunk.has("usage")) {
            out.set("usage", chunk.get("usage"));
        }
        return out;
    }

    /** A text completion's id, object, created and model, from the chat answer or chunk's. */
    private static ObjectNode head(JsonNode chat) {
        ObjectNode out = Json.object();
        out.put("id", "cmpl-" + chat.path("id").asText("caravan").replaceFirst("^chatcmpl-", ""));
        out.put("object", "text_completion");
        out.put("created", chat.path("created").asLong(System.currentTimeMillis() / 1000));
        out.set("model", chat.get("model"));
        return out;
    }
}
