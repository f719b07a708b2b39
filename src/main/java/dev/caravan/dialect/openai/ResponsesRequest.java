package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.util.List;
import java.util.Set;

/**
 * OpenAI's Responses API ({@code POST /v1/responses}) at the door: its body becomes the canonical chat request that
 * every provider serves. {@code instructions} is the system turn; {@code input} (a string, or items: messages with
 * text and image parts, {@code function_call} and {@code function_call_output}) the conversation after the previous
 * response's, when {@code previous_response_id} names one; function tools become chat tools; {@code text.format}
 * becomes {@code response_format}; {@code max_output_tokens} becomes {@code max_tokens}; {@code reasoning.effort}
 * becomes {@code reasoning_effort} (OpenAI's chat field; other providers' translators map or drop it).
 *
 * <p>A tool only OpenAI runs ({@link #hostedTool}: web search, file search, code interpreter, MCP...) makes the body
 * one that passes through, as written, to OpenAI deployments; its canonical request is then only what the gateway
 * reads (routing, limits, budgets, guardrails, estimates): the messages' text, the function tools, and what has no
 * chat equivalent (the hosted tools, other input items and parts, {@code include}) left out instead of refused.
 */
public final class ResponsesRequest {

    /** What the answer repeats back, and what a stored response keeps for a follow-up. */
    public record Context(String model, ObjectNode echo, ArrayNode conversation, boolean store, String previousId) {
    }

    private static final Set<String> ECHOED = Set.of("instructions", "metadata", "tools", "tool_choice", "text",
            "temperature", "top_p", "max_output_tokens", "parallel_tool_calls", "reasoning", "user", "truncation");
    private static final Set<String> UNSUPPORTED = Set.of("background", "conversation", "prompt", "include");

    private ResponsesRequest() {
    }

    /**
     * The client's 400 for the first tool that is not a function, or null when there is none. Such a tool runs at
     * OpenAI, so the body passes through to the model's OpenAI deployments; this answers a model without one.
     */
    public static GatewayException hostedTool(ObjectNode body) {
        JsonNode tools = body.get("tools");
        if (tools == null || !tools.isArray()) {
            return null;
        }
        for (int i = 0; i < tools.size(); i++) {
            String type = tools.get(i).path("type").asText();
            if (!"function".equals(type)) {
                return GatewayException.badRequest("unsupported_tool", "tools[" + i + "].type", "Tool type '"
                        + GatewayException.quote(type) + "' runs at OpenAI: it is served only by deployments of provider "
                        + "type openai (the request passes through to their /responses as written), and model '"
                        + GatewayException.quote(body.path("model").asText()) + "' has none; other providers serve "
                        + "function tools.");
            }
        }
        return null;
    }

    /**
     * The canonical chat request for a Responses body (a JSON object with a string model).
     *
     * @param previous the stored conversation of {@code previous_response_id} (its messages, answer included), or
     *                 null when the body names none
     */
    public static Context toChat(ObjectNode body, ObjectNode canonical, List<JsonNode> previous) {
        boolean passes = hostedTool(body) != null; // read, not refused: the upstream takes what the gateway does not
        for (String field : UNSUPPORTED) {
            if (passes && field.equals("include")) {
                continue; // asks OpenAI for more of its tools' output (web_search_call.action.sources)
            }
            JsonNode v = body.get(field);
            if (v != null && !v.isNull() && !(v.isArray() && v.isEmpty()) && !(field.equals("background") && !v.asBoolean())) {
                throw GatewayException.badRequest("unsupported_parameter", field,
                        "'" + field + "' is not supported by this gateway's Responses API.");
            }
        }
        canonical.put("model", body.get("model").asText());
        ArrayNode messages = canonical.putArray("messages");
        JsonNode instructions = body.get("instructions");
        if (instructions != null && !instructions.isNull()) {
            if (!instructions.isTextual()) {
                throw RequestChecks.invalidType("instructions", "a string", instructions);
            }
            messages.addObject().put("role", "system").put("content", instructions.asText());
        }
        ArrayNode conversation = Json.MAPPER.createArrayNode();
        if (previous != null) {
            previous.forEach(conversation::add);
        }
        input(body.get("input"), conversation, passes);
        conversation.forEach(messages::add);
        tools(body.get("tools"), canonical);
        toolChoice(body.get("tool_choice"), canonical, passes);
        JsonNode format = body.path("text").get("format");
        if (format != null && !format.isNull()) {
            canonical.set("response_format", responseFormat(format));
        }
        copy(body, "max_output_tokens", canonical, "max_tokens");
        for (String same : new String[] {"temperature", "top_p", "parallel_tool_calls", "user", "stream", "seed",
                "service_tier"}) {
            copy(body, same, canonical, same);
        }
        JsonNode effort = body.path("reasoning").get("effort");
        if (effort != null && effort.isTextual()) {
            canonical.put("reasoning_effort", effort.asText());
        }
        if (body.path("stream").asBoolean(false)) {
            canonical.putObject("stream_options").put("include_usage", true); // response.completed carries usage
        }
        ObjectNode echo = Json.object();
        ECHOED.forEach(f -> {
            if (body.has(f)) {
                echo.set(f, body.get(f));
            }
        });
        JsonNode store = body.get("store");
        if (store != null && !store.isNull() && !store.isBoolean()) {
            throw RequestChecks.invalidType("store", "a boolean", store);
        }
        JsonNode previousId = body.get("previous_response_id");
        return new Context(body.get("model").asText(), echo, conversation, store == null || store.asBoolean(true),
                previousId == null || previousId.isNull() ? null : previousId.asText());
    }

    private static void copy(ObjectNode from, String field, ObjectNode to, String as) {
        JsonNode v = from.get(field);
        if (v != null && !v.isNull()) {
            to.set(as, v);
        }
    }

    private static void input(JsonNode input, ArrayNode out, boolean passes) {
        if (input == null || input.isNull()) {
            throw GatewayException.badRequest("missing_required_parameter", "input", "Missing required parameter: 'input'.");
        }
        if (input.isTextual()) {
            out.addObject().put("role", "user").put("content", input.asText());
            return;
        }
        if (!input.isArray()) {
            throw RequestChecks.invalidType("input", "a string or an array of input items", input);
        }
        ArrayNode pendingCalls = null; // consecutive function_call items: one assistant turn
        for (int i = 0; i < input.size(); i++) {
            JsonNode item = input.get(i);
            String at = "input[" + i + "]";
            if (!item.isObject()) {
                throw RequestChecks.invalidType(at, "an input item (an object)", item);
            }
            String type = item.path("type").asText(item.has("role") ? "message" : "");
            switch (type) {
                case "message" -> {
                    pendingCalls = null;
                    out.add(message(item, at, passes));
                }
                case "function_call" -> {
                    for (String f : new String[] {"call_id", "name", "arguments"}) {
                        if (!item.path(f).isTextual()) {
                            throw GatewayException.badRequest("missing_required_parameter", at + "." + f,
                                    "Missing required parameter: '" + at + "." + f + "' (a string).");
                        }
                    }
                    if (pendingCalls == null) {
                        ObjectNode assistant = out.addObject().put("role", "assistant");
                        assistant.putNull("content");
                        pendingCalls = assistant.putArray("tool_calls");
                    }
                    ObjectNode call = pendingCalls.addObject().put("id", item.get("call_id").asText()).put("type", "function");
                    call.putObject("function").put("name", item.get("name").asText())
                            .put("arguments", item.get("arguments").asText());
                }
                case "function_call_output" -> {
                    pendingCalls = null;
                    if (!item.path("call_id").isTextual()) {
                        throw GatewayException.badRequest("missing_required_parameter", at + ".call_id",
                                "Missing required parameter: '" + at + ".call_id'.");
                    }
                    JsonNode output = item.get("output");
                    out.addObject().put("role", "tool").put("tool_call_id", item.get("call_id").asText())
                            .put("content", output == null || output.isNull() ? "" : output.isTextual() ? output.asText()
                                    : Json.string(output));
                }
                case "reasoning" -> {
                    // a model's own reasoning item, sent back by agents: no provider takes it as input
                }
                default -> {
                    if (passes) {
                        continue; // a hosted tool's item (web_search_call...): the upstream reads it, the gateway need not
                    }
                    throw GatewayException.badRequest("invalid_value", at + ".type", "Invalid value for '" + at
                        + ".type': this gateway takes message, function_call and function_call_output items, not '"
                        + GatewayException.quote(type) + "'.");
                }
            }
        }
    }

    private static ObjectNode message(JsonNode item, String at, boolean passes) {
        String role = item.path("role").asText();
        if (!Set.of("user", "assistant", "system", "developer").contains(role)) {
            throw GatewayException.badRequest("invalid_value", at + ".role", "Invalid value for '" + at
                    + ".role': expected user, assistant, system or developer.");
        }
        ObjectNode m = Json.object().put("role", role);
        JsonNode content = item.get("content");
        if (content != null && content.isTextual()) {
            m.put("content", content.asText());
            return m;
        }
        if (content == null || !content.isArray()) {
            throw RequestChecks.invalidType(at + ".content", "a string or an array of content parts", content == null
                    ? Json.MAPPER.nullNode() : content);
        }
        ArrayNode parts = m.putArray("content");
        boolean onlyText = true;
        StringBuilder text = new StringBuilder();
        for (int j = 0; j < content.size(); j++) {
            JsonNode part = content.get(j);
            String pat = at + ".content[" + j + "]";
            String type = part.path("type").asText();
            switch (type) {
                case "input_text", "output_text", "text" -> {
                    parts.addObject().put("type", "text").put("text", part.path("text").asText());
                    text.append(part.path("text").asText());
                }
                case "refusal" -> text.append(part.path("refusal").asText());
                case "input_image" -> {
                    onlyText = false;
                    JsonNode url = part.get("image_url");
                    if (url == null || !url.isTextual()) {
                        throw GatewayException.badRequest("missing_required_parameter", pat + ".image_url",
                                "Missing required parameter: '" + pat + ".image_url' (an https: or data: URL; file ids are not supported).");
                    }
                    ObjectNode image = parts.addObject().put("type", "image_url").putObject("image_url").put("url", url.asText());
                    if (part.path("detail").isTextual()) {
                        image.put("detail", part.get("detail").asText());
                    }
                }
                default -> {
                    if (!passes) { // passed through, an input_file or another part is the upstream's to read
                        throw GatewayException.badRequest("invalid_value", pat + ".type", "Invalid value for '" + pat
                                + ".type': this gateway takes input_text, output_text and input_image parts, not '"
                                + GatewayException.quote(type) + "'.");
                    }
                }
            }
        }
        if ((onlyText && !"user".equals(role)) || (passes && parts.isEmpty())) {
            m.put("content", text.toString()); // assistant and system turns as plain text: every provider takes that
        }
        return m;
    }

    private static void tools(JsonNode tools, ObjectNode canonical) {
        if (tools == null || tools.isNull() || (tools.isArray() && tools.isEmpty())) {
            return;
        }
        if (!tools.isArray()) {
            throw RequestChecks.invalidType("tools", "an array of tools", tools);
        }
        ArrayNode out = canonical.putArray("tools");
        for (int i = 0; i < tools.size(); i++) {
            JsonNode tool = tools.get(i);
            String type = tool.path("type").asText();
            if (!"function".equals(type)) {
                continue; // a hosted tool (hostedTool): it runs at the upstream the body passes through to
            }
            if (!tool.path("name").isTextual()) {
                throw GatewayException.badRequest("missing_required_parameter", "tools[" + i + "].name",
                        "Missing required parameter: 'tools[" + i + "].name'.");
            }
            ObjectNode function = out.addObject().put("type", "function").putObject("function");
            function.put("name", tool.get("name").asText());
            copy((ObjectNode) tool, "description", function, "description");
            copy((ObjectNode) tool, "parameters", function, "parameters");
            copy((ObjectNode) tool, "strict", function, "strict");
        }
    }

    private static void toolChoice(JsonNode choice, ObjectNode canonical, boolean passes) {
        if (choice == null || choice.isNull()) {
            return;
        }
        if (choice.isTextual()) {
            canonical.put("tool_choice", choice.asText());
            return;
        }
        if ("function".equals(choice.path("type").asText()) && choice.path("name").isTextual()) {
            canonical.putObject("tool_choice").put("type", "function").putObject("function")
                    .put("name", choice.get("name").asText());
            return;
        }
        if (passes) {
            return; // a hosted tool or allowed_tools: the upstream's to honour
        }
        throw GatewayException.badRequest("invalid_value", "tool_choice",
                "'tool_choice' must be none, auto, required or {\"type\":\"function\",\"name\":...}.");
    }

    private static ObjectNode responseFormat(JsonNode format) {
        String type = format.path("type").asText();
        ObjectNode out = Json.object().put("type", type);
        switch (type) {
            case "text", "json_object" -> {
            }
            case "json_schema" -> {
                ObjectNode schema = out.putObject("json_schema");
                schema.put("name", format.path("name").asText("response"));
                copy((ObjectNode) format, "schema", schema, "schema");
                copy((ObjectNode) format, "strict", schema, "strict");
                copy((ObjectNode) format, "description", schema, "description");
            }
            default -> throw GatewayException.badRequest("invalid_value", "text.format.type",
                    "'text.format.type' must be text, json_object or json_schema.");
        }
        return out;
    }
}
