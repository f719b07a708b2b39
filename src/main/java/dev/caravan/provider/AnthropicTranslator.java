package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.usage.CanonicalText;
import dev.caravan.usage.Usage;

import java.util.ArrayList;
import java.util.List;

/**
 * Canonical (OpenAI chat) requests to Anthropic's Messages API and Anthropic's answers back. The request is built
 * field by field from what Anthropic accepts, so OpenAI-only fields (n, penalties, logprobs, seed, stream_options...)
 * never reach it and cannot make it refuse the call; {@code response_format} is translated ({@link #outputFormat}).
 */
final class AnthropicTranslator {

    /** Anthropic requires max_tokens; OpenAI's is optional. */
    static final int DEFAULT_MAX_TOKENS = 4096;

    /** The system instruction that stands in for OpenAI's JSON mode, which Anthropic lacks. */
    static final String JSON_ONLY = "Answer with a single valid JSON object and nothing else: no text before or "
            + "after it and no Markdown code fence.";

    private AnthropicTranslator() {
    }

    /** The Messages API body for a canonical request; a part Anthropic cannot take is the caller's 400. */
    static ObjectNode request(JsonNode canonical, String model, boolean stream) {
        ObjectNode out = Json.object();
        out.put("model", model);
        List<String> system = new ArrayList<>();
        ArrayNode messages = Json.MAPPER.createArrayNode();
        for (JsonNode m : canonical.path("messages")) {
            String role = m.path("role").asText();
            switch (role) {
                case "system", "developer" -> {
                    String instructions = CanonicalText.of(m.get("content"), "\n");
                    if (!instructions.isEmpty()) {
                        system.add(instructions);
                    }
                }
                case "user" -> append(messages, "user", userBlocks(m.get("content")));
                case "assistant" -> append(messages, "assistant", assistantBlocks(m));
                case "tool" -> append(messages, "user", toolResult(m));
                default -> throw GatewayException.badRequest("invalid_value", "messages",
                        "Message role '" + GatewayException.quote(role) + "' cannot be sent to an Anthropic model.");
            }
        }
        outputFormat(canonical, out, system);
        if (!system.isEmpty()) {
            out.put("system", String.join("\n\n", system));
        }
        out.set("messages", messages);
        JsonNode maxTokens = canonical.hasNonNull("max_tokens")
                ? canonical.get("max_tokens") : canonical.path("max_completion_tokens");
        out.put("max_tokens", maxTokens.isIntegralNumber() ? maxTokens.asInt() : DEFAULT_MAX_TOKENS);
        JsonNode stop = canonical.get("stop");
        if (stop != null && stop.isTextual()) {
            out.putArray("stop_sequences").add(stop.asText());
        } else if (stop != null && stop.isArray() && !stop.isEmpty()) {
            out.set("stop_sequences", stop.deepCopy());
        }
        copyNumber(canonical, out, "temperature");
        copyNumber(canonical, out, "top_p");
        if (canonical.path("user").isTextual()) {
            out.putObject("metadata").put("user_id", canonical.get("user").asText());
        }
        tools(canonical, out);
        if (stream) {
            out.put("stream", true);
        }
        return out;
    }

    /**
     * {@code response_format} as Anthropic's structured output. A schema goes to {@code output_config.format}: the
     * GA field (anthropic-java 3.14's GA MessageCreateParams has only output_config; the beta output_format is
     * deprecated there), so no {@code anthropic-beta} header is needed. Anthropic has no schema-free JSON mode (every
     * object must say additionalProperties false, and anthropic-java's own schema check wants named properties, so
     * {"type":"object"} cannot mean "any object"): json_object, or json_schema without a schema, asks for JSON in the
     * system prompt instead.
     */
    private static void outputFormat(JsonNode canonical, ObjectNode out, List<String> system) {
        JsonNode format = canonical.path("response_format");
        String type = format.path("type").asText("text");
        JsonNode schema = format.path("json_schema").get("schema");
        if (type.equals("json_schema") && schema != null && schema.isObject()) {
            out.putObject("output_config").putObject("format").put("type", "json_schema").set("schema", schema.deepCopy());
        } else if (type.equals("json_object") || type.equals("json_schema")) {
            system.add(JSON_ONLY);
        }
    }

    /**
     * The count_tokens body: what the model reads, none of what shapes its answer but {@code output_config}, which
     * the counting endpoint takes (a format's schema is input the model reads too).
     */
    static ObjectNode countRequest(JsonNode canonical, String model) {
        ObjectNode body = request(canonical, model, false);
        body.remove(List.of("max_tokens", "stream", "stop_sequences", "temperature", "top_p", "metadata",
                "tool_choice"));
        return body;
    }

    /** A whole Anthropic message as a canonical chat completion. */
    static ObjectNode response(ObjectNode message) {
        StringBuilder text = new StringBuilder();
        StringBuilder thinking = new StringBuilder();
        boolean hasText = false;
        boolean hasThinking = false;
        ArrayNode toolCalls = Json.MAPPER.createArrayNode();
        for (JsonNode block : message.path("content")) {
            switch (block.path("type").asText()) {
                case "text" -> {
                    text.append(block.path("text").asText());
                    hasText = true;
                }
                case "thinking" -> {
                    thinking.append(block.path("thinking").asText());
                    hasThinking = true;
                }
                case "tool_use" -> {
                    ObjectNode call = toolCalls.addObject();
                    call.put("id", block.path("id").asText());
                    call.put("type", "function");
                    ObjectNode function = call.putObject("function");
                    function.put("name", block.path("name").asText());
                    JsonNode input = block.get("input");
                    function.put("arguments", input == null || input.isNull() ? "{}" : input.toString());
                }
                default -> {
                    // redacted_thinking, server tool blocks: nothing the chat schema can carry
                }
            }
        }
        ObjectNode out = Json.object();
        out.put("id", message.path("id").asText());
        out.put("object", "chat.completion");
        out.put("created", System.currentTimeMillis() / 1000);
        out.put("model", message.path("model").asText());
        ObjectNode choice = out.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode reply = choice.putObject("message");
        reply.put("role", "assistant");
        if (hasText) {
            reply.put("content", text.toString());
        } else {
            reply.putNull("content");
        }
        reply.putNull("refusal");
        if (!toolCalls.isEmpty()) {
            reply.set("tool_calls", toolCalls);
        }
        if (hasThinking) {
            reply.put("reasoning_content", thinking.toString());
        }
        choice.putNull("logprobs");
        choice.put("finish_reason", finishReason(message.path("stop_reason").asText(null)));
        out.set("usage", usage(message.path("usage")));
        return out;
    }

    /** Anthropic's stop_reason as OpenAI's finish_reason. */
    static String finishReason(String stopReason) {
        if (stopReason == null) {
            return "stop";
        }
        return switch (stopReason) {
            case "max_tokens", "model_context_window_exceeded" -> "length";
            case "tool_use" -> "tool_calls";
            case "refusal" -> "content_filter";
            default -> "stop"; // end_turn, stop_sequence, pause_turn
        };
    }

    /** Anthropic counts cached input apart from the rest; OpenAI's prompt_tokens includes it. */
    static ObjectNode usage(JsonNode anthropic) {
        long cacheRead = Usage.tokens(anthropic.path("cache_read_input_tokens"));
        long prompt = Usage.tokens(anthropic.path("input_tokens")) + cacheRead
                + Usage.tokens(anthropic.path("cache_creation_input_tokens"));
        long completion = Usage.tokens(anthropic.path("output_tokens"));
        ObjectNode usage = Json.object();
        usage.put("prompt_tokens", prompt);
        usage.put("completion_tokens", completion);
        usage.put("total_tokens", prompt + completion);
        if (anthropic.hasNonNull("cache_read_input_tokens")) {
            usage.putObject("prompt_tokens_details").put("cached_tokens", cacheRead);
        }
        return usage;
    }

    /** Anthropic wants strict turns: a message of the same role as the last one joins it. */
    private static void append(ArrayNode messages, String role, ArrayNode blocks) {
        if (blocks.isEmpty()) {
            return;
        }
        JsonNode last = messages.isEmpty() ? null : messages.get(messages.size() - 1);
        if (last != null && last.path("role").asText().equals(role)) {
            ((ArrayNode) last.get("content")).addAll(blocks);
            return;
        }
        ObjectNode message = messages.addObject();
        message.put("role", role);
        message.set("content", blocks);
    }

    private static ArrayNode userBlocks(JsonNode content) {
        ArrayNode blocks = Json.MAPPER.createArrayNode();
        ContentParts.walk(content, new ContentParts.Visitor() {
            @Override
            public void text(String text) {
                textBlock(blocks, text);
            }

            @Override
            public void imageUrl(String url) {
                blocks.add(image(url));
            }

            @Override
            public void file(JsonNode file) {
                blocks.add(document(file));
            }

            @Override
            public void other(String type) { // audio among them: Anthropic takes none
                throw GatewayException.badRequest("unsupported_content", "messages",
                        "Content part '" + GatewayException.quote(type) + "' cannot be sent to an Anthropic model.");
            }
        });
        return blocks;
    }

    private static ArrayNode assistantBlocks(JsonNode message) {
        ArrayNode blocks = Json.MAPPER.createArrayNode();
        JsonNode content = message.get("content");
        if (content != null && content.isTextual()) {
            textBlock(blocks, content.asText());
        } else if (content != null && content.isArray()) {
            for (JsonNode part : content) {
                // "refusal" parts carry text too
                textBlock(blocks, part.path("text").asText(part.path("refusal").asText("")));
            }
        }
        for (JsonNode call : message.path("tool_calls")) {
            ObjectNode use = blocks.addObject();
            use.put("type", "tool_use");
            use.put("id", call.path("id").asText());
            use.put("name", call.path("function").path("name").asText());
            ObjectNode input = Json.parseObjectOrNull(call.path("function").path("arguments").asText(""));
            use.set("input", input == null ? Json.object() : input);
        }
        return blocks;
    }

    private static ArrayNode toolResult(JsonNode message) {
        ArrayNode blocks = Json.MAPPER.createArrayNode();
        ObjectNode result = blocks.addObject();
        result.put("type", "tool_result");
        result.put("tool_use_id", message.path("tool_call_id").asText());
        result.put("content", CanonicalText.of(message.get("content"), "\n"));
        return blocks;
    }

    /** Anthropic refuses empty text blocks ("text content blocks must be non-empty"). */
    private static void textBlock(ArrayNode blocks, String text) {
        if (!text.isEmpty()) {
            blocks.addObject().put("type", "text").put("text", text);
        }
    }

    /** A data: URL becomes inline base64, any other URL is fetched by Anthropic. */
    private static ObjectNode image(String url) {
        ObjectNode block = Json.object();
        block.put("type", "image");
        ObjectNode source = block.putObject("source");
        if (url.startsWith("data:")) {
            DataUrl data = DataUrl.parse(url);
            source.put("type", "base64").put("media_type", data.mediaType()).put("data", data.base64());
        } else if (url.startsWith("https://") || url.startsWith("http://")) {
            source.put("type", "url").put("url", url);
        } else {
            throw GatewayException.badRequest("invalid_image_url", "messages",
                    "An image_url must be a data: URL or an http(s) URL.");
        }
        return block;
    }

    /** OpenAI's file part with inline data (a PDF) as Anthropic's document block. */
    private static ObjectNode document(JsonNode file) {
        String fileData = file.path("file_data").asText("");
        if (!fileData.startsWith("data:")) {
            throw GatewayException.badRequest("unsupported_content", "messages",
                    "Only file parts with inline file_data can be sent to an Anthropic model.");
        }
        DataUrl data = DataUrl.parse(fileData);
        ObjectNode block = Json.object();
        block.put("type", "document");
        block.putObject("source").put("type", "base64").put("media_type", data.mediaType()).put("data", data.base64());
        return block;
    }

    private record DataUrl(String mediaType, String base64) {
        static DataUrl parse(String url) {
            int comma = url.indexOf(',');
            String meta = comma < 0 ? "" : url.substring(5, comma);
            if (!meta.endsWith(";base64")) {
                throw GatewayException.badRequest("invalid_image_url", "messages",
                        "A data: URL must be base64-encoded (data:<media type>;base64,<data>).");
            }
            return new DataUrl(meta.substring(0, meta.length() - ";base64".length()), url.substring(comma + 1));
        }
    }

    private static void tools(JsonNode canonical, ObjectNode out) {
        ArrayNode tools = Json.MAPPER.createArrayNode();
        for (JsonNode tool : canonical.path("tools")) {
            if (!"function".equals(tool.path("type").asText("function"))) {
                continue;
            }
            JsonNode function = tool.path("function");
            ObjectNode t = tools.addObject();
            t.put("name", function.path("name").asText());
            if (function.hasNonNull("description")) {
                t.put("description", function.get("description").asText());
            }
            JsonNode parameters = function.get("parameters");
            if (parameters != null && parameters.isObject()) {
                t.set("input_schema", parameters.deepCopy());
            } else {
                t.putObject("input_schema").put("type", "object").putObject("properties");
            }
        }
        if (tools.isEmpty()) {
            return; // a tool_choice without tools is refused by Anthropic
        }
        out.set("tools", tools);
        JsonNode choice = canonical.get("tool_choice");
        ObjectNode c = null;
        if (choice != null && choice.isTextual()) {
            c = Json.object().put("type", switch (choice.asText()) {
                case "required" -> "any";
                case "none" -> "none";
                default -> "auto";
            });
        } else if (choice != null && choice.isObject()) {
            c = Json.object().put("type", "tool").put("name", choice.path("function").path("name").asText());
        }
        if (canonical.path("parallel_tool_calls").isBoolean() && !canonical.get("parallel_tool_calls").asBoolean()) {
            if (c == null) {
                c = Json.object().put("type", "auto");
            }
            if (!"none".equals(c.path("type").asText())) {
                c.put("disable_parallel_tool_use", true);
            }
        }
        if (c != null) {
            out.set("tool_choice", c);
        }
    }

    private static void copyNumber(JsonNode from, ObjectNode to, String field) {
        JsonNode v = from.get(field);
        if (v != null && v.isNumber()) {
            to.set(field, v);
        }
    }
}
