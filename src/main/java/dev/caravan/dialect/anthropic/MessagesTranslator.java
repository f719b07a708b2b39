package dev.caravan.dialect.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.usage.CanonicalText;

import java.util.List;

/**
 * Anthropic's Messages API at the door, the canonical (OpenAI chat) shape inside: a {@code /v1/messages} request
 * becomes a canonical request, and a canonical answer becomes an Anthropic message, whichever provider served it.
 * Anthropic-only request fields with no canonical meaning ({@code top_k}, {@code thinking}, {@code cache_control},
 * {@code output_config.effort}) are dropped; what cannot be translated is refused with a 400 rather than silently lost. Structured output
 * ({@code output_config.format}, or the deprecated beta {@code output_format}) becomes {@code response_format}, so
 * every provider, the mock included, answers JSON valid against the schema.
 */
public final class MessagesTranslator {

    private MessagesTranslator() {
    }

    /** A {@code /v1/messages} body (already JSON, {@code model} present) as a canonical chat request. */
    public static ObjectNode toCanonical(ObjectNode a, boolean countOnly) {
        check(a);
        ObjectNode c = Json.object();
        c.set("model", a.get("model"));
        JsonNode maxTokens = a.get("max_tokens");
        if (!countOnly) {
            if (maxTokens == null || !maxTokens.isIntegralNumber() || !maxTokens.canConvertToLong() || maxTokens.asLong() < 1) {
                throw invalid("max_tokens", "max_tokens: Field required (a positive integer).");
            }
            // OpenAI's reasoning models (o-series, gpt-5) refuse max_tokens; every adapter reads max_completion_tokens
            c.put("max_completion_tokens", maxTokens.asLong());
        }
        ArrayNode messages = c.putArray("messages");
        JsonNode system = a.get("system");
        if (system != null && !system.isNull()) {
            String text = system.isTextual() ? system.asText() : joinText(system, "system");
            messages.addObject().put("role", "system").put("content", text);
        }
        JsonNode input = a.get("messages");
        if (input == null || !input.isArray() || input.isEmpty()) {
            throw invalid("messages", "messages: Field required (a non-empty array).");
        }
        for (JsonNode m : input) {
            String role = m.path("role").asText();
            if (!role.equals("user") && !role.equals("assistant")) {
                throw invalid("messages", "messages: each message's role must be 'user' or 'assistant'.");
            }
            JsonNode content = m.get("content");
            if (content != null && content.isTextual()) {
                messages.addObject().put("role", role).put("content", content.asText());
            } else if (content != null && content.isArray()) {
                if (role.equals("user")) {
                    addUser(messages, content);
                } else {
                    addAssistant(messages, content);
                }
            } else {
                throw invalid("messages", "messages: each message needs 'content', a string or an array of blocks.");
            }
        }
        tools(a, c);
        JsonNode format = outputFormat(a);
        if (format != null) {
            // Anthropic always decodes against the schema (there is no loose mode), hence strict; it has no name
            ObjectNode schema = c.putObject("response_format").put("type", "json_schema").putObject("json_schema");
            schema.put("name", "response");
            schema.set("schema", format.get("schema"));
            schema.put("strict", true);
        }
        JsonNode stop = a.get("stop_sequences");
        if (stop != null && stop.isArray() && !stop.isEmpty()) {
            c.set("stop", stop);
        }
        copy(a, c, "temperature", "temperature");
        copy(a, c, "top_p", "top_p");
        JsonNode user = a.path("metadata").get("user_id");
        if (user != null && user.isTextual()) {
            c.put("user", user.asText());
        }
        if (!countOnly && a.path("stream").asBoolean(false)) {
            c.put("stream", true);
        }
        return c;
    }

    /**
     * The types of every field the translation reads, checked before it reads them: a wrong type is the client's
     * 400 naming the field (Anthropic's "field: problem" wording), never a translator failing on it.
     */
    static void check(ObjectNode a) {
        JsonNode system = a.get("system");
        if (present(system) && !system.isTextual()) {
            if (!system.isArray()) {
                throw invalid("system", "system: Input should be a string or an array of text blocks.");
            }
            for (int i = 0; i < system.size(); i++) {
                JsonNode b = system.get(i);
                if (!b.isObject() || !b.path("text").isTextual()) {
                    throw invalid("system", "system." + i + ": Input should be a text block with a string 'text'.");
                }
            }
        }
        JsonNode messages = a.get("messages");
        if (messages != null && messages.isArray()) {
            for (int i = 0; i < messages.size(); i++) {
                JsonNode m = messages.get(i);
                String at = "messages." + i;
                if (!m.isObject()) {
                    throw invalid("messages", at + ": Input should be an object with 'role' and 'content'.");
                }
                JsonNode content = m.get("content");
                if (content != null && content.isArray()) {
                    for (int j = 0; j < content.size(); j++) {
                        block(content.get(j), at + ".content." + j);
                    }
                }
            }
        }
        JsonNode tools = a.get("tools");
        if (present(tools)) {
            if (!tools.isArray()) {
                throw invalid("tools", "tools: Input should be an array of tools.");
            }
            for (int i = 0; i < tools.size(); i++) {
                JsonNode t = tools.get(i);
                if (!t.isObject()) {
                    throw invalid("tools", "tools." + i + ": Input should be an object.");
                }
                requireText(t.get("type"), "tools", "tools." + i + ".type");
                requireText(t.get("description"), "tools", "tools." + i + ".description");
                JsonNode schema = t.get("input_schema");
                if (present(schema) && !schema.isObject()) {
                    throw invalid("tools", "tools." + i + ".input_schema: Input should be an object.");
                }
            }
        }
        JsonNode choice = a.get("tool_choice");
        if (present(choice) && (!choice.isObject() || !choice.path("type").isTextual())) {
            throw invalid("tool_choice", "tool_choice: Input should be an object with a string 'type'.");
        }
        if (present(choice) && "tool".equals(choice.get("type").asText()) && !choice.path("name").isTextual()) {
            throw invalid("tool_choice", "tool_choice.name: Field required for type 'tool'.");
        }
        JsonNode stop = a.get("stop_sequences");
        if (present(stop)) {
            boolean strings = stop.isArray();
            for (JsonNode s : stop) {
                strings &= s.isTextual();
            }
            if (!strings) {
                throw invalid("stop_sequences", "stop_sequences: Input should be an array of strings.");
            }
        }
        for (String field : List.of("temperature", "top_p", "top_k")) {
            JsonNode v = a.get(field);
            if (present(v) && !v.isNumber()) {
                throw invalid(field, field + ": Input should be a number.");
            }
        }
        outputFormat(a);
        JsonNode metadata = a.get("metadata");
        if (present(metadata) && !metadata.isObject()) {
            throw invalid("metadata", "metadata: Input should be an object.");
        }
        if (present(metadata)) {
            requireText(metadata.get("user_id"), "metadata", "metadata.user_id");
        }
    }

    /**
     * The structured-output format, checked, or null for plain text. anthropic-java 3.x sends it as
     * {@code output_config.format} (the GA field; {@code output_config} may carry only {@code effort}) and, from its
     * deprecated beta builder, as {@code output_format}; both are {@code {"type":"json_schema","schema":{...}}}.
     */
    private static JsonNode outputFormat(ObjectNode a) {
        JsonNode config = a.get("output_config");
        if (present(config) && !config.isObject()) {
            throw invalid("output_config", "output_config: Input should be an object.");
        }
        JsonNode ga = present(config) && present(config.get("format")) ? config.get("format") : null;
        JsonNode beta = present(a.get("output_format")) ? a.get("output_format") : null;
        if (ga != null && beta != null) {
            throw invalid("output_format", "output_format: send either output_config.format or output_format "
                    + "(its deprecated beta form), not both.");
        }
        if (ga != null) {
            return jsonSchemaFormat(ga, "output_config", "output_config.format");
        }
        return beta == null ? null : jsonSchemaFormat(beta, "output_format", "output_format");
    }

    private static JsonNode jsonSchemaFormat(JsonNode format, String param, String at) {
        if (!format.isObject()) {
            throw invalid(param, at + ": Input should be an object with 'type' and 'schema'.");
        }
        JsonNode type = format.get("type");
        if (type == null || !type.isTextual() || !type.asText().equals("json_schema")) {
            String got = type != null && type.isTextual() ? " (got '" + GatewayException.quote(type.asText()) + "')" : "";
            throw invalid(param, at + ".type: Input should be 'json_schema'" + got + ".");
        }
        if (!format.path("schema").isObject()) {
            throw invalid(param, at + ".schema: Field required (a JSON Schema object).");
        }
        return format;
    }

    /** A content block: an object with a string type; the nested objects the translation reads are objects. */
    private static void block(JsonNode b, String at) {
        if (!b.isObject() || !b.path("type").isTextual()) {
            throw invalid("messages", at + ": Input should be a content block, an object with a string 'type'.");
        }
        requireText(b.get("text"), "messages", at + ".text");
        JsonNode source = b.get("source");
        if (present(source) && !source.isObject()) {
            throw invalid("messages", at + ".source: Input should be an object.");
        }
        JsonNode input = b.get("input");
        if ("tool_use".equals(b.get("type").asText()) && present(input) && !input.isObject()) {
            throw invalid("messages", at + ".input: Input should be an object.");
        }
        JsonNode content = b.get("content");
        if ("tool_result".equals(b.get("type").asText()) && present(content)) {
            if (!content.isTextual() && !content.isArray()) {
                throw invalid("messages", at + ".content: Input should be a string or an array of blocks.");
            }
            if (content.isArray()) {
                for (int k = 0; k < content.size(); k++) {
                    block(content.get(k), at + ".content." + k);
                }
            }
        }
    }

    private static void requireText(JsonNode v, String param, String at) {
        if (present(v) && !v.isTextual()) {
            throw invalid(param, at + ": Input should be a string.");
        }
    }

    private static boolean present(JsonNode v) {
        return v != null && !v.isNull();
    }

    private static void addUser(ArrayNode messages, JsonNode blocks) {
        ArrayNode parts = Json.MAPPER.createArrayNode();
        // a tool message carries text only: images a tool returned (screenshots) follow in a user message
        ArrayNode toolImages = Json.MAPPER.createArrayNode();
        for (JsonNode b : blocks) {
            switch (b.path("type").asText()) {
                case "text" -> parts.addObject().put("type", "text").put("text", b.path("text").asText());
                case "image" -> parts.addObject().put("type", "image_url").putObject("image_url").put("url", imageUrl(b));
                case "tool_result" -> {
                    // tool results answer the assistant's last turn, so they come before any new user text
                    ObjectNode tool = messages.addObject().put("role", "tool")
                            .put("tool_call_id", b.path("tool_use_id").asText());
                    JsonNode content = b.get("content");
                    String text = content == null || content.isNull() ? ""
                            : content.isTextual() ? content.asText() : joinText(content, "tool_result");
                    if (content != null && content.isArray()) {
                        for (JsonNode inner : content) {
                            if ("image".equals(inner.path("type").asText())) {
                                toolImages.addObject().put("type", "image_url").putObject("image_url").put("url", imageUrl(inner));
                            }
                        }
                    }
                    tool.put("content", b.path("is_error").asBoolean(false) ? "Error: " + text : text);
                }
                case "document" -> {
                    JsonNode source = b.path("source");
                    switch (source.path("type").asText()) {
                        case "text" -> parts.addObject().put("type", "text").put("text", source.path("data").asText());
                        case "base64" -> parts.addObject().put("type", "file").putObject("file")
                                .put("filename", b.path("title").asText("document.pdf"))
                                .put("file_data", "data:" + source.path("media_type").asText("application/pdf")
                                        + ";base64," + source.path("data").asText());
                        default -> throw invalid("messages", "Document source type '"
                                + GatewayException.quote(source.path("type").asText()) + "' is not supported; send text or base64.");
                    }
                }
                default -> throw invalid("messages", "Content block type '"
                        + GatewayException.quote(b.path("type").asText()) + "' is not supported in user messages.");
            }
        }
        if (!toolImages.isEmpty()) {
            ArrayNode withImages = Json.MAPPER.createArrayNode();
            withImages.addObject().put("type", "text").put("text", "(images returned by the tool above)");
            withImages.addAll(toolImages);
            messages.addObject().put("role", "user").set("content", withImages);
        }
        if (parts.isEmpty()) {
            return;
        }
        ObjectNode user = messages.addObject().put("role", "user");
        if (parts.size() == 1 && parts.get(0).has("text")) {
            user.put("content", parts.get(0).get("text").asText());
        } else {
            user.set("content", parts);
        }
    }

    private static void addAssistant(ArrayNode messages, JsonNode blocks) {
        StringBuilder text = new StringBuilder();
        ArrayNode calls = Json.MAPPER.createArrayNode();
        for (JsonNode b : blocks) {
            switch (b.path("type").asText()) {
                case "text" -> text.append(b.path("text").asText());
                case "tool_use" -> {
                    ObjectNode call = calls.addObject();
                    call.put("id", b.path("id").asText());
                    call.put("type", "function");
                    call.putObject("function").put("name", b.path("name").asText())
                            .put("arguments", Json.string(b.has("input") ? b.get("input") : Json.object()));
                }
                case "thinking", "redacted_thinking" -> {
                    // the model's earlier reasoning has no canonical place; other providers never see it
                }
                default -> throw invalid("messages", "Content block type '"
                        + GatewayException.quote(b.path("type").asText()) + "' is not supported in assistant messages.");
            }
        }
        ObjectNode assistant = messages.addObject().put("role", "assistant");
        if (text.isEmpty() && !calls.isEmpty()) {
            assistant.putNull("content");
        } else {
            assistant.put("content", text.toString());
        }
        if (!calls.isEmpty()) {
            assistant.set("tool_calls", calls);
        }
    }

    private static void tools(ObjectNode a, ObjectNode c) {
        JsonNode tools = a.get("tools");
        if (tools != null && tools.isArray() && !tools.isEmpty()) {
            ArrayNode out = c.putArray("tools");
            for (JsonNode t : tools) {
                String type = t.path("type").asText("custom");
                if (!type.equals("custom") || !t.path("name").isTextual()) {
                    throw invalid("tools", "Tool type '" + GatewayException.quote(type) + "' is not supported; only client tools with an "
                            + "input_schema can be routed to any provider.");
                }
                ObjectNode fn = out.addObject().put("type", "function").putObject("function");
                fn.put("name", t.get("name").asText());
                if (t.has("description")) {
                    fn.set("description", t.get("description"));
                }
                fn.set("parameters", t.has("input_schema") ? t.get("input_schema") : Json.object().put("type", "object"));
            }
        }
        JsonNode choice = a.get("tool_choice");
        if (choice != null && choice.isObject()) {
            switch (choice.path("type").asText()) {
                case "auto" -> c.put("tool_choice", "auto");
                case "any" -> c.put("tool_choice", "required");
                case "none" -> c.put("tool_choice", "none");
                case "tool" -> c.putObject("tool_choice").put("type", "function")
                        .putObject("function").put("name", choice.path("name").asText());
                default -> throw invalid("tool_choice", "tool_choice.type must be auto, any, tool or none.");
            }
            if (choice.path("disable_parallel_tool_use").asBoolean(false)) {
                c.put("parallel_tool_calls", false);
            }
        }
    }

    private static String imageUrl(JsonNode block) {
        JsonNode source = block.path("source");
        return switch (source.path("type").asText()) {
            case "base64" -> "data:" + source.path("media_type").asText() + ";base64," + source.path("data").asText();
            case "url" -> source.path("url").asText();
            default -> throw invalid("messages", "Image source type '"
                    + GatewayException.quote(source.path("type").asText()) + "' is not supported.");
        };
    }

    private static String joinText(JsonNode blocks, String where) {
        if (!blocks.isArray()) {
            throw invalid(where, where + ": expected a string or an array of text blocks.");
        }
        return CanonicalText.of(blocks, "\n");
    }

    private static void copy(ObjectNode from, ObjectNode to, String name, String as) {
        JsonNode v = from.get(name);
        if (v != null && !v.isNull()) {
            to.set(as, v);
        }
    }

    static GatewayException invalid(String param, String message) {
        return GatewayException.badRequest("invalid_request", param, message);
    }

    /** A canonical chat completion as an Anthropic message. */
    public static ObjectNode toAnthropic(ObjectNode c) {
        ObjectNode a = Json.object();
        a.put("id", messageId(c.path("id").asText("")));
        a.put("type", "message");
        a.put("role", "assistant");
        a.put("model", c.path("model").asText(""));
        ArrayNode content = a.putArray("content");
        JsonNode choice = c.path("choices").path(0);
        JsonNode message = choice.path("message");
        String reasoning = message.path("reasoning_content").asText("");
        if (!reasoning.isEmpty()) {
            content.addObject().put("type", "thinking").put("thinking", reasoning).put("signature", "");
        }
        String text = message.path("content").asText("");
        String refusal = message.path("refusal").asText("");
        if (!text.isEmpty() || !refusal.isEmpty()) {
            content.addObject().put("type", "text").put("text", text.isEmpty() ? refusal : text);
        }
        for (JsonNode call : message.path("tool_calls")) {
            ObjectNode use = content.addObject().put("type", "tool_use");
            use.put("id", call.path("id").asText());
            use.put("name", call.path("function").path("name").asText());
            use.set("input", toolInput(call.path("function").path("arguments").asText("")));
        }
        a.put("stop_reason", refusal.isEmpty() ? stopReason(choice.path("finish_reason").asText(null)) : "refusal");
        a.putNull("stop_sequence");
        a.set("usage", usage(c.path("usage")));
        return a;
    }

    /** Tool arguments as the JSON object Anthropic's {@code input} is; arguments that are not one are kept as text. */
    static JsonNode toolInput(String arguments) {
        if (arguments.isBlank()) {
            return Json.object();
        }
        ObjectNode parsed = Json.parseObjectOrNull(arguments);
        return parsed != null ? parsed : Json.object().put("_raw_arguments", arguments);
    }

    static String messageId(String id) {
        return id.startsWith("msg_") ? id : "msg_" + (id.isEmpty() ? Long.toHexString(System.nanoTime()) : id);
    }

    static String stopReason(String finishReason) {
        if (finishReason == null) {
            return "end_turn";
        }
        return switch (finishReason) {
            case "length" -> "max_tokens";
            case "tool_calls", "function_call" -> "tool_use";
            case "content_filter" -> "refusal";
            default -> "end_turn";
        };
    }

    /** Anthropic's usage counts cache reads apart from the rest of the input. */
    static ObjectNode usage(JsonNode canonical) {
        long prompt = canonical.path("prompt_tokens").asLong(0);
        long cached = canonical.path("prompt_tokens_details").path("cached_tokens").asLong(0);
        ObjectNode u = Json.object();
        u.put("input_tokens", Math.max(0, prompt - cached));
        u.put("output_tokens", canonical.path("completion_tokens").asLong(0));
        u.put("cache_creation_input_tokens", 0);
        u.put("cache_read_input_tokens", cached);
        if (canonical.path("caravan_estimated").asBoolean(false)) {
            u.put("caravan_estimated", true);
        }
        return u;
    }
}
