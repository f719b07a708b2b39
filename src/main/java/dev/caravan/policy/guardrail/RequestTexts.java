package dev.caravan.policy.guardrail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The text parts of a canonical request, each with where it sits so a guard can change it: every message's text
 * (a string or its {@code text} parts; image, audio and file parts are skipped, so no guard ever reads their
 * bytes), each assistant tool call's arguments, each tool result, and an embeddings request's input strings (token
 * arrays carry no text a guard can read). The same request always yields the same parts in the same order.
 */
public final class RequestTexts {

    /** Where a text part came from: injection checks only what a user or a tool wrote. */
    public enum Source { SYSTEM, USER, ASSISTANT, TOOL_ARGUMENTS, TOOL_RESULT, EMBEDDING_INPUT }

    /** One text part; {@link #replace} writes a changed text where it was found. */
    public record Part(String text, Source source, Consumer<String> replace) {

        /** Whether a prompt-injection check reads it: what users and tools wrote, not the operator's system prompt. */
        public boolean fromUserOrTool() {
            return source == Source.USER || source == Source.TOOL_RESULT || source == Source.EMBEDDING_INPUT;
        }
    }

    private RequestTexts() {
    }

    /** The parts of {@code request}; their {@code replace} changes {@code request} itself (pass a copy to keep it). */
    public static List<Part> of(ObjectNode request) {
        List<Part> parts = new ArrayList<>();
        JsonNode messages = request.get("messages");
        if (messages != null && messages.isArray()) {
            for (JsonNode m : messages) {
                if (m instanceof ObjectNode message) {
                    message(message, parts);
                }
            }
        }
        JsonNode input = request.get("input");
        if (input != null && input.isTextual()) {
            parts.add(new Part(input.asText(), Source.EMBEDDING_INPUT, t -> request.put("input", t)));
        } else if (input instanceof ArrayNode list) {
            for (int i = 0; i < list.size(); i++) {
                if (list.get(i).isTextual()) {
                    int at = i;
                    parts.add(new Part(list.get(i).asText(), Source.EMBEDDING_INPUT, t -> list.set(at, t)));
                }
            }
        }
        return parts;
    }

    private static void message(ObjectNode message, List<Part> parts) {
        String role = message.path("role").asText("");
        Source source = switch (role) {
            case "system", "developer" -> Source.SYSTEM;
            case "assistant" -> Source.ASSISTANT;
            case "tool", "function" -> Source.TOOL_RESULT;
            default -> Source.USER;
        };
        JsonNode content = message.get("content");
        if (content != null && content.isTextual()) {
            parts.add(new Part(content.asText(), source, t -> message.put("content", t)));
        } else if (content instanceof ArrayNode list) {
            for (JsonNode p : list) {
                if (p instanceof ObjectNode part && part.path("text").isTextual()
                        && part.path("type").asText("text").equals("text")) {
                    parts.add(new Part(part.get("text").asText(), source, t -> part.put("text", t)));
                }
            }
        }
        for (JsonNode call : message.path("tool_calls")) {
            if (call.path("function") instanceof ObjectNode function && function.path("arguments").isTextual()) {
                parts.add(new Part(function.get("arguments").asText(), Source.TOOL_ARGUMENTS,
                        t -> function.put("arguments", t)));
            }
        }
    }
}
