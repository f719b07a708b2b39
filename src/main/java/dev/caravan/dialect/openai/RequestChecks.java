package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;

/**
 * The door's type checks of the OpenAI-shaped fields the gateway itself reads or rewrites on the way to a provider
 * (stream options, token limits, sampling numbers, tools, tool choice, response format, message content, embeddings
 * input). A wrong type is the client's mistake: it gets a 400 naming the field, in OpenAI's words, instead of a
 * translator failing on it at every deployment in turn. Fields the gateway only passes through are left to the
 * upstream; values are not range-checked where providers disagree (temperature is 0-2 at OpenAI, 0-1 at Anthropic).
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

    private static void message(JsonNode m, String where) {
        JsonNode content = m.get("content");
        if (present(content)) {
            if (content.isArray()) {
                for (int j = 0; j < content.size(); j++) {
                    JsonNode part = content.get(j);
                    if (!part.isObject() || !part.path("type").isTextual()) {
                        throw GatewayException.badRequest("invalid_type", where + ".content[" + j + "]",
                                "Invalid type for '" + where + ".content[" + j + "]': expected a content part, an object "
                                        + "with a string 'type'.");
                    }
                }
            } else if (!content.isTextual()) {
                throw invalidType(where + ".content", "a string, an array of content parts or null", content);
            }
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
