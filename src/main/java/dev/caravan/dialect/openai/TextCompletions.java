package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * OpenAI's legacy {@code /v1/completions} (text completions) over the canonical chat request: the prompt becomes one
 * user turn, and the answer's messages become {@code text} choices, whole and streamed. Every provider serves it
 * this way, unless its server has {@code /completions} itself ({@code completions: true}): there the body passes
 * through as written. What only such a server can do ({@code suffix}, {@code best_of}, {@code logprobs}, several
 * prompts at once) makes the request one that must pass through: the 400 naming it answers a model without one.
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
     * What the door learnt from a completions body.
     *
     * @param echo       the prompt, when the client asked to have it echoed (a translated answer puts it first), or null
     * @param chatCannot the client's 400 for what no chat model can do, when the body asks it; null otherwise
     */
    public record Prompt(String echo, GatewayException chatCannot) {
    }

    /**
     * The canonical chat request for a completions body (already a JSON object with a string model). Unknown fields
     * pass through untouched, as on chat completions. Several prompts become one user turn each: such a request is
     * only ever passed through, and the turns are what the gateway reads of it.
     */
    public static Prompt toChat(ObjectNode body, ObjectNode canonical) {
        GatewayException chatCannot = null;
        for (String field : NO_CHAT_EQUIVALENT) {
            JsonNode v = body.get(field);
            if (chatCannot == null && v != null && !v.isNull() && !(field.equals("best_of") && v.asInt(0) == 1)) {
                chatCannot = onlyPassedThrough(field, body, "'" + field + "' has no chat equivalent");
            }
        }
        List<String> prompts = prompts(body.get("prompt"));
        if (chatCannot == null && prompts.size() > 1) {
            chatCannot = onlyPassedThrough("prompt", body, "chat models take one prompt at a time; send one prompt per request");
        }
        body.fields().forEachRemaining(e -> {
            String name = e.getKey();
            if (!name.equals("prompt") && !name.equals("echo") && !NO_CHAT_EQUIVALENT.contains(name)) {
                canonical.set(name, e.getValue());
            }
        });
        if (!canonical.has("max_tokens") || canonical.get("max_tokens").isNull()) {
            canonical.put("max_tokens", DEFAULT_MAX_TOKENS);
        }
        ArrayNode messages = canonical.putArray("messages");
        prompts.forEach(p -> messages.addObject().put("role", "user").put("content", p));
        JsonNode echo = body.get("echo");
        if (echo != null && !echo.isNull() && !echo.isBoolean()) {
            throw RequestChecks.invalidType("echo", "a boolean", echo);
        }
        return new Prompt(echo != null && echo.asBoolean(false) ? prompts.get(0) : null, chatCannot);
    }

    /** The 400 for a model with no deployment on a server with {@code /completions}. */
    private static GatewayException onlyPassedThrough(String field, ObjectNode body, String why) {
        return GatewayException.badRequest(field.equals("prompt") ? "invalid_value" : "unsupported_parameter", field,
                "'" + field + "' is served only by a server with /v1/completions (a provider with completions: true), "
                        + "where the request passes through as written, and model '"
                        + GatewayException.quote(body.path("model").asText()) + "' has none: " + why + ".");
    }

    /** The prompt, or the prompts of a list of strings; token-id prompts are refused (no guardrail could read them). */
    private static List<String> prompts(JsonNode prompt) {
        if (prompt == null || prompt.isNull()) {
            throw GatewayException.badRequest("missing_required_parameter", "prompt", "Missing required parameter: 'prompt'.");
        }
        if (prompt.isTextual()) {
            return List.of(prompt.asText());
        }
        if (prompt.isArray() && !prompt.isEmpty()) {
            List<String> prompts = new ArrayList<>(prompt.size());
            for (JsonNode p : prompt) {
                if (!p.isTextual()) {
                    throw RequestChecks.invalidType("prompt", "a string or an array of strings", prompt);
                }
                prompts.add(p.asText());
            }
            return prompts;
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
