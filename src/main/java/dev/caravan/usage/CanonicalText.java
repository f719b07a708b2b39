package dev.caravan.usage;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.function.Consumer;

/**
 * The text in canonical (OpenAI chat) JSON, read one way everywhere: a message's content for a translator or a
 * token count, and an answer's text (content, reasoning, tool-call names and arguments) for a usage estimate.
 */
public final class CanonicalText {

    private CanonicalText() {
    }

    /**
     * A message's content as one string: the string itself, or the text of its parts (each object part whose
     * {@code text} is a string) joined by {@code separator}; "" for null, absent or anything else.
     */
    public static String of(JsonNode content, String separator) {
        if (content == null || content.isNull() || content.isMissingNode()) {
            return "";
        }
        if (content.isTextual()) {
            return content.asText();
        }
        if (!content.isArray()) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        boolean first = true;
        for (JsonNode part : content) {
            JsonNode text = part.get("text");
            if (part.isObject() && text != null && text.isTextual()) {
                if (!first) {
                    out.append(separator);
                }
                out.append(text.asText());
                first = false;
            }
        }
        return out.toString();
    }

    /**
     * Hands {@code sink} each piece of text an answer's message (or a stream chunk's delta) was generated as, in
     * order: content, reasoning content, then each tool call's name and arguments. Absent pieces are skipped.
     */
    public static void eachGenerated(JsonNode messageOrDelta, Consumer<String> sink) {
        give(messageOrDelta.path("content"), sink);
        give(messageOrDelta.path("reasoning_content"), sink);
        for (JsonNode call : messageOrDelta.path("tool_calls")) {
            give(call.path("function").path("name"), sink);
            give(call.path("function").path("arguments"), sink);
        }
    }

    /** The text a whole chat completion generated: {@link #eachGenerated} over every choice's message. */
    public static String generated(JsonNode completion) {
        StringBuilder text = new StringBuilder();
        for (JsonNode choice : completion.path("choices")) {
            eachGenerated(choice.path("message"), text::append);
        }
        return text.toString();
    }

    private static void give(JsonNode value, Consumer<String> sink) {
        String text = value.asText("");
        if (!text.isEmpty()) {
            sink.accept(text);
        }
    }
}
