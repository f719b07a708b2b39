package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;

/**
 * The door's type checks of the OpenAI-shaped fields the gateway itself reads or rewrites on the way to a provider
 * (stream options, token limits, sampling numbers, tools, tool choice, response format, message content, embeddings
 * input). A wrong type is the client's mistake: it gets a 400 naming the field, in OpenAI's words, instead of a
 * translator failing on it at every deployment in turn, the same for every provider. Roles, content part types and
 * the shape of each message are checked as OpenAI defines them, and so are the numeric ranges of the sampling fields
 * (OpenAI's API is the contract of this endpoint: temperature 0-2 whatever provider serves it; a translator maps it).
 * Fields the gateway only passes through are left to the upstream.
 */
public final class RequestChecks {

    private RequestChecks() {
    }

    /** The fields of a chat-completions body beyond {@code model} and {@code messages}' roles. */
    public static void chat(ObjectNode body) {
        JsonNode messages = body.get("messages");
        for (int i = 0; i < messages.size(); i++) {
            message(messages.get(i), "messages[" + i + "]");
        }
        range(body.get("temperature"), "temperature", 0, 2);
        range(body.get("top_p"), "top_p", 0, 1);
        range(body.get("presence_penalty"), "presence_penalty", -2, 2);
        range(body.get("frequency_penalty"), "frequency_penalty", -2, 2);
        JsonNode n = body.get("n");
        if (present(n) && n.isIntegralNumber() && n.asLong() > MAX_CHOICES) {
            throw GatewayException.badRequest("integer_above_max_value", "n",
                    "Invalid 'n': integer above maximum value. Expected a value <= " + MAX_CHOICES + ".");
        }
        optionalBoolean(body.get("logprobs"), "logprobs");
        JsonNode topLogprobs = body.get("top_logprobs");
        if (present(topLogprobs)) {
            if (!topLogprobs.isIntegralNumber()) {
                throw invalidType("top_logprobs", "an integer", topLogprobs);
            }
            range(topLogprobs, "top_logprobs", 0, 20);
        }
        JsonNode streamOptions = body.get("stream_options");
        if (present(streamOptions)) {
            requireObject(streamOptions, "stream_options");
            optionalBoolean(streamOptions.get("include_usage"), "stream_options.include_usage");
        }
        positiveInteger(body.get("max_tokens"), "max_tokens");
        positiveInteger(body.get("max_completion_tokens"), "max_completion_tokens");
        positiveInteger(body.get("n"), "n");
        for (String field : new String[] {"temperature", "top_p", "presence_penalty", "frequency_penalty"}) {
            optionalNumber(body.get(field), field);
        }
        JsonNode seed = body.get("seed");
        if (present(seed) && !seed.isIntegralNumber()) {
            throw invalidType("seed", "an integer", seed);
        }
        stop(body.get("stop"));
        optionalBoolean(body.get("parallel_tool_calls"), "parallel_tool_calls");
        optionalString(body.get("user"), "user");
        JsonNode metadata = body.get("metadata");
        if (present(metadata)) {
            requireObject(metadata, "metadata");
        }
        tools(body.get("tools"));
        toolChoice(body.get("tool_choice"));
        responseFormat(body.get("response_format"));
    }

    /** An embeddings body: {@code input} a non-empty string or array of strings or token arrays, {@code dimensions}. */
    public static void embeddings(ObjectNode body) {
        JsonNode input = body.get("input");
        boolean valid = input != null && ((input.isTextual() && !input.asText().isEmpty())
                || (input.isArray() && !input.isEmpty() && embeddingItems(input)));
        if (!valid) {
            throw GatewayException.badRequest("invalid_value", "input",
                    "'input' must be a non-empty string or a non-empty array of strings or token arrays.");
        }
        positiveInteger(body.get("dimensions"), "dimensions");
        JsonNode format = body.get("encoding_format");
        if (present(format) && !(format.isTextual() && (format.asText().equals("float") || format.asText().equals("base64")))) {
            throw GatewayException.badRequest("invalid_value", "encoding_format", "'encoding_format' must be float or base64.");
        }
        optionalString(body.get("user"), "user");
    }

    /** Strings, or integers (one token array), or arrays of integers (token arrays): one kind, as OpenAI takes them. */
    private static boolean embeddingItems(JsonNode input) {
        JsonNode first = input.get(0);
        for (JsonNode item : input) {
            boolean ok = first.isTextual() ? item.isTextual()
                    : first.isIntegralNumber() ? item.isIntegralNumber()
                    : first.isArray() && item.isArray() && !item.isEmpty() && allIntegers(item);
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static boolean allIntegers(JsonNode array) {
        for (JsonNode n : array) {
            if (!n.isIntegralNumber()) {
                return false;
            }
        }
        return true;
    }

    // n above this is refused at the door: OpenAI's own bound
    static final int MAX_CHOICES = 128;

    /** The roles a chat message may have, and the content part types each takes (OpenAI's chat API). */
    private static final java.util.Map<String, java.util.Set<String>> PARTS_BY_ROLE = java.util.Map.of(
            "system", java.util.Set.of("text"),
            "developer", java.util.Set.of("text"),
            "user", java.util.Set.of("text", "image_url", "input_audio", "file"),
            "assistant", java.util.Set.of("text", "refusal"),
            "tool", java.util.Set.of("text"),
            "function", java.util.Set.of("text"));

    private static void message(JsonNode m, String where) {
        String role = m.path("role").asText();
        java.util.Set<String> parts = PARTS_BY_ROLE.get(role);
        if (parts == null) {
            throw GatewayException.badRequest("invalid_value", where + ".role", "Invalid value for '" + where
                    + ".role': expected one of system, developer, user, assistant, tool, function, but got '"
                    + GatewayException.quote(role) + "'.");
        }
        JsonNode content = m.get("content");
        if (present(content)) {
            if (content.isArray()) {
                for (int j = 0; j < content.size(); j++) {
                    part(content.get(j), where + ".content[" + j + "]", role, parts);
                }
            } else if (!content.isTextual()) {
                throw invalidType(where + ".content", "a string, an array of content parts or null", content);
            }
        } else if (!"assistant".equals(role)) {
            // only an assistant turn may leave its content out (it carries tool calls instead)
            throw GatewayException.badRequest("missing_required_parameter", where + ".content",
                    "Missing required parameter: '" + where + ".content'.");
        }
        if ("tool".equals(role) && !m.path("tool_call_id").isTextual()) {
            throw GatewayException.badRequest("missing_required_parameter", where + ".tool_call_id",
                    "Missing required parameter: '" + where + ".tool_call_id' (a tool message answers one tool call).");
        }
        optionalString(m.get("name"), where + ".name");
        optionalString(m.get("tool_call_id"), where + ".tool_call_id");
        JsonNode calls = m.get("tool_calls");
        if (present(calls)) {
            if (!calls.isArray()) {
                throw invalidType(where + ".tool_calls", "an array", calls);
            }
            for (int j = 0; j < calls.size(); j++) {
                String at = where + ".tool_calls[" + j + "]";
                JsonNode call = calls.get(j);
                requireObject(call, at);
                JsonNode function = call.get("function");
                if (present(function)) {
                    requireObject(function, at + ".function");
                    optionalString(function.get("name"), at + ".function.name");
                    optionalString(function.get("arguments"), at + ".function.arguments");
                }
            }
        }
    }

    /** One content part: an object whose {@code type} the role takes, with that type's own field. */
    private static void part(JsonNode part, String at, String role, java.util.Set<String> allowed) {
        if (!part.isObject() || !part.path("type").isTextual()) {
            throw GatewayException.badRequest("invalid_type", at,
                    "Invalid type for '" + at + "': expected a content part, an object with a string 'type'.");
        }
        String type = part.get("type").asText();
        if (!allowed.contains(type)) {
            throw GatewayException.badRequest("invalid_value", at + ".type", "Invalid value for '" + at
                    + ".type': a " + role + " message takes content parts of type " + String.join(", ", new java.util.TreeSet<>(allowed))
                    + ", not '" + GatewayException.quote(type) + "'.");
        }
        switch (type) {
            case "text" -> {
                if (!part.path("text").isTextual()) {
                    throw GatewayException.badRequest("missing_required_parameter", at + ".text",
                            "Missing required parameter: '" + at + ".text' (a string).");
                }
            }
            case "refusal" -> optionalString(part.get("refusal"), at + ".refusal");
            case "image_url" -> {
                if (!part.path("image_url").path("url").isTextual()) {
                    throw GatewayException.badRequest("missing_required_parameter", at + ".image_url.url",
                            "Missing required parameter: '" + at + ".image_url.url' (an https: or data: URL).");
                }
            }
            case "input_audio" -> {
                JsonNode audio = part.get("input_audio");
                if (audio == null || !audio.isObject() || !audio.path("data").isTextual()) {
                    throw GatewayException.badRequest("missing_required_parameter", at + ".input_audio.data",
                            "Missing required parameter: '" + at + ".input_audio.data' (base64 audio).");
                }
            }
            default -> {
                if (part.has("file") && !part.get("file").isObject()) {
                    throw invalidType(at + ".file", "an object", part.get("file"));
                }
            }
        }
    }

    /** A number within {@code [min, max]}; a wrong type is left to {@link #optionalNumber}. */
    private static void range(JsonNode node, String param, double min, double max) {
        if (!present(node) || !node.isNumber()) {
            return;
        }
        double v = node.asDouble();
        if (v < min) {
            throw GatewayException.badRequest(node.isIntegralNumber() ? "integer_below_min_value" : "decimal_below_min_value",
                    param, "Invalid '" + param + "': below minimum value. Expected a value >= " + format(min) + ", but got " + node.asText() + " instead.");
        }
        if (v > max) {
            throw GatewayException.badRequest(node.isIntegralNumber() ? "integer_above_max_value" : "decimal_above_max_value",
                    param, "Invalid '" + param + "': above maximum value. Expected a value <= " + format(max) + ", but got " + node.asText() + " instead.");
        }
    }

    private static String format(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    private static void tools(JsonNode tools) {
        if (!present(tools)) {
            return;
        }
        if (!tools.isArray()) {
            throw invalidType("tools", "an array of tools", tools);
        }
        for (int i = 0; i < tools.size(); i++) {
            String at = "tools[" + i + "]";
            JsonNode tool = tools.get(i);
            requireObject(tool, at);
            JsonNode type = tool.get("type");
            optionalString(type, at + ".type");
            if (type == null || type.isNull() || "function".equals(type.asText())) {
                JsonNode function = tool.get("function");
                if (function == null || !function.isObject() || !function.path("name").isTextual()
                        || function.path("name").asText().isEmpty()) {
                    throw GatewayException.badRequest("missing_required_parameter", at + ".function.name",
                            "Missing required parameter: '" + at + ".function.name' (a function tool needs a name).");
                }
                JsonNode parameters = function.get("parameters");
                if (present(parameters)) {
                    requireObject(parameters, at + ".function.parameters");
                }
                optionalString(function.get("description"), at + ".function.description");
            }
        }
    }

    private static void toolChoice(JsonNode choice) {
        if (!present(choice) || choice.isTextual()) {
            return;
        }
        if (!choice.isObject()) {
            throw invalidType("tool_choice", "a string or an object", choice);
        }
        if ("function".equals(choice.path("type").asText("function"))) {
            if (!choice.path("function").path("name").isTextual()) {
                throw GatewayException.badRequest("missing_required_parameter", "tool_choice.function.name",
                        "Missing required parameter: 'tool_choice.function.name'.");
            }
        }
    }

    private static void responseFormat(JsonNode format) {
        if (!present(format)) {
            return;
        }
        requireObject(format, "response_format");
        if (!format.path("type").isTextual()) {
            throw GatewayException.badRequest("missing_required_parameter", "response_format.type",
                    "Missing required parameter: 'response_format.type' (text, json_object or json_schema).");
        }
        if ("json_schema".equals(format.get("type").asText())) {
            JsonNode jsonSchema = format.get("json_schema");
            if (jsonSchema == null || !jsonSchema.isObject()) {
                throw GatewayException.badRequest("missing_required_parameter", "response_format.json_schema",
                        "Missing required parameter: 'response_format.json_schema' (an object).");
            }
            JsonNode schema = jsonSchema.get("schema");
            if (present(schema)) {
                requireObject(schema, "response_format.json_schema.schema");
            }
        }
    }

    private static void stop(JsonNode stop) {
        if (!present(stop) || stop.isTextual()) {
            return;
        }
        if (!stop.isArray()) {
            throw invalidType("stop", "a string, an array of strings or null", stop);
        }
        for (JsonNode s : stop) {
            if (!s.isTextual()) {
                throw invalidType("stop", "a string, an array of strings or null", s);
            }
        }
    }

    private static boolean present(JsonNode node) {
        return node != null && !node.isNull();
    }

    private static void requireObject(JsonNode node, String param) {
        if (!node.isObject()) {
            throw invalidType(param, "an object", node);
        }
    }

    private static void optionalBoolean(JsonNode node, String param) {
        if (present(node) && !node.isBoolean()) {
            throw invalidType(param, "a boolean", node);
        }
    }

    private static void optionalString(JsonNode node, String param) {
        if (present(node) && !node.isTextual()) {
            throw invalidType(param, "a string", node);
        }
    }

    private static void optionalNumber(JsonNode node, String param) {
        if (present(node) && !node.isNumber()) {
            throw invalidType(param, "a number", node);
        }
    }

    private static void positiveInteger(JsonNode node, String param) {
        if (!present(node)) {
            return;
        }
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            throw invalidType(param, "an integer", node);
        }
        if (node.asLong() < 1) {
            throw GatewayException.badRequest("integer_below_min_value", param,
                    "Invalid '" + param + "': integer below minimum value. Expected a value >= 1.");
        }
    }

    /** OpenAI's wording: "Invalid type for 'x': expected an object, but got a string instead." Never the value. */
    public static GatewayException invalidType(String param, String expected, JsonNode got) {
        return GatewayException.badRequest("invalid_type", param,
                "Invalid type for '" + param + "': expected " + expected + ", but got " + kind(got) + " instead.");
    }

    static String kind(JsonNode node) {
        return switch (node.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> node.isIntegralNumber() ? "an integer" : "a decimal";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT, POJO -> "an object";
            case NULL, MISSING -> "null";
            case BINARY -> "binary data";
        };
    }
}
