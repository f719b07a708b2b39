package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.usage.Usage;

/**
 * A Gemini {@code GenerateContentResponse} in the canonical (OpenAI chat) shape; the pieces are shared with the
 * stream translator, which sees the same response type once per event.
 */
final class GeminiResponse {

    private GeminiResponse() {
    }

    /** A whole chat completion: one choice per candidate, or one empty content_filter choice for a blocked prompt. */
    static ObjectNode completion(ObjectNode answer, String id, String model) {
        ObjectNode body = Json.object();
        body.put("id", answer.path("responseId").asText(id));
        body.put("object", "chat.completion");
        body.put("created", System.currentTimeMillis() / 1000);
        body.put("model", answer.path("modelVersion").asText(model));
        ArrayNode choices = body.putArray("choices");
        for (JsonNode candidate : answer.path("candidates")) {
            ObjectNode choice = choices.addObject();
            choice.put("index", candidate.path("index").asInt(choices.size() - 1));
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            CandidateParts parts = CandidateParts.of(candidate);
            ArrayNode calls = parts.calls();
            if (parts.text().isEmpty()) {
                message.putNull("content");
            } else {
                message.put("content", parts.text());
            }
            if (!parts.thoughts().isEmpty()) {
                message.put("reasoning_content", parts.thoughts());
            }
            if (!calls.isEmpty()) {
                message.set("tool_calls", calls);
            }
            message.putNull("refusal");
            choice.putNull("logprobs");
            choice.put("finish_reason", finishReason(candidate.path("finishReason").asText(null), !calls.isEmpty()));
        }
        if (choices.isEmpty() && answer.path("promptFeedback").hasNonNull("blockReason")) {
            ObjectNode choice = choices.addObject();
            choice.put("index", 0);
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            message.putNull("content");
            message.putNull("refusal");
            choice.putNull("logprobs");
            choice.put("finish_reason", "content_filter");
        }
        ObjectNode usage = usage(answer.get("usageMetadata"));
        if (usage != null) {
            body.set("usage", usage);
        }
        return body;
    }

    /**
     * A candidate's parts (a whole answer's, or one stream event's piece of it) split by kind: the answer text, the
     * thoughts (parts marked {@code thought}) and the function calls as canonical tool calls, each in order.
     */
    record CandidateParts(String text, String thoughts, ArrayNode calls) {
        static CandidateParts of(JsonNode candidate) {
            StringBuilder text = new StringBuilder();
            StringBuilder thoughts = new StringBuilder();
            ArrayNode calls = Json.MAPPER.createArrayNode();
            for (JsonNode part : candidate.path("content").path("parts")) {
                if (part.has("functionCall")) {
                    calls.add(toolCall(part));
                } else if (part.path("thought").asBoolean(false)) {
                    thoughts.append(part.path("text").asText(""));
                } else if (part.has("text")) {
                    text.append(part.path("text").asText());
                }
            }
            return new CandidateParts(text.toString(), thoughts.toString(), calls);
        }
    }

    /**
     * One tool call, its arguments as the JSON string OpenAI clients parse. A thought signature rides along where
     * Google's own OpenAI-compatible endpoint puts it, so clients that keep it send it back and Gemini 3 accepts
     * the next turn.
     */
    static ObjectNode toolCall(JsonNode part) {
        JsonNode functionCall = part.path("functionCall");
        ObjectNode call = Json.object();
        // unique, not positional: a conversation replays every turn's calls, and Anthropic refuses a repeated id
        call.put("id", functionCall.hasNonNull("id") ? functionCall.get("id").asText() : OpenAiProvider.newToolCallId());
        call.put("type", "function");
        ObjectNode function = call.putObject("function");
        function.put("name", functionCall.path("name").asText());
        JsonNode args = functionCall.get("args");
        function.put("arguments", args == null || args.isNull() ? "{}" : args.toString());
        if (part.hasNonNull("thoughtSignature")) {
            call.putObject("extra_content").putObject("google")
                    .put("thought_signature", part.get("thoughtSignature").asText());
        }
        return call;
    }

    static String finishReason(String reason, boolean toolCalls) {
        if (reason == null) {
            return toolCalls ? "tool_calls" : "stop";
        }
        return switch (reason) {
            case "MAX_TOKENS" -> "length";
            case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY" -> "content_filter";
            default -> toolCalls ? "tool_calls" : "stop";
        };
    }

    /** Gemini's usageMetadata as OpenAI's usage; thinking counts as completion, as OpenAI's reasoning tokens do. */
    static ObjectNode usage(JsonNode metadata) {
        if (metadata == null || !metadata.isObject()) {
            return null;
        }
        long prompt = Usage.tokens(metadata.path("promptTokenCount"));
        long thoughts = Usage.tokens(metadata.path("thoughtsTokenCount"));
        long completion = Usage.tokens(metadata.path("candidatesTokenCount")) + thoughts;
        ObjectNode usage = Json.object();
        usage.put("prompt_tokens", prompt);
        usage.put("completion_tokens", completion);
        usage.put("total_tokens", metadata.path("totalTokenCount").isNumber()
                ? Usage.tokens(metadata.get("totalTokenCount")) : prompt + completion);
        if (metadata.has("cachedContentTokenCount")) {
            usage.putObject("prompt_tokens_details").put("cached_tokens", Usage.tokens(metadata.path("cachedContentTokenCount")));
        }
        if (metadata.has("thoughtsTokenCount")) {
            usage.putObject("completion_tokens_details").put("reasoning_tokens", thoughts);
        }
        return usage;
    }
}
