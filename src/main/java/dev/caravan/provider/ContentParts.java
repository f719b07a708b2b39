package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The walk over a canonical (OpenAI chat) user message's content that every translator needs: each part handed to
 * a {@link Visitor} by its kind, a string content being one text part. The translator decides what each kind
 * becomes in its provider's format, and what a kind it cannot carry means (left out, or the client's 400).
 */
final class ContentParts {

    private ContentParts() {
    }

    /** What a translator does with each kind of part. */
    interface Visitor {
        /** A string content, or a {@code text} part's text. */
        void text(String text);

        /** An {@code image_url} part's URL: a data: URL or one the provider fetches. */
        void imageUrl(String url);

        /** A {@code file} part's {@code file} object ({@code file_data}, {@code file_id}, {@code filename}). */
        void file(JsonNode file);

        /** An {@code input_audio} part's {@code input_audio} object ({@code data}, {@code format}). */
        default void inputAudio(JsonNode audio) {
            other("input_audio");
        }

        /** A part of any other type. */
        void other(String type);
    }

    /** Hands each part of {@code content} to {@code visitor}, in order; null or absent content has none. */
    static void walk(JsonNode content, Visitor visitor) {
        if (content == null || content.isNull()) {
            return;
        }
        if (content.isTextual()) {
            visitor.text(content.asText());
            return;
        }
        for (JsonNode part : content) {
            String type = part.path("type").asText();
            switch (type) {
                case "text" -> visitor.text(part.path("text").asText());
                case "image_url" -> visitor.imageUrl(part.path("image_url").path("url").asText());
                case "input_audio" -> visitor.inputAudio(part.path("input_audio"));
                case "file" -> visitor.file(part.path("file"));
                default -> visitor.other(type);
            }
        }
    }
}
