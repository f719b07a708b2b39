package dev.caravan.provider.mock;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.Json;

/**
 * The mock's text answer in the shape {@code response_format} asks for: as is for {@code text}, a JSON object
 * holding it for {@code json_object}, and a value valid against the schema for {@code json_schema}.
 */
public final class MockFormat {

    private MockFormat() {
    }

    /** True when the answer is JSON (so it streams in pieces of characters rather than words). */
    public static boolean isJson(JsonNode body) {
        String type = body.path("response_format").path("type").asText("text");
        return type.equals("json_object") || type.equals("json_schema");
    }

    /** The content of choice {@code index}; {@code text} is the mock's plain reply for that choice. */
    public static String content(JsonNode body, String prompt, String text, int index) {
        JsonNode format = body.path("response_format");
        return switch (format.path("type").asText("text")) {
            case "json_object" -> Json.object().put("answer", text).toString();
            case "json_schema" -> MockJson.valueFor(format.path("json_schema").path("schema"), prompt, index).toString();
            default -> text;
        };
    }
}
