package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A canonical chat answer in the Responses API's shape: {@code output} items (a {@code message} with
 * {@code output_text}, a {@code function_call} per tool call), {@code output_text}, and usage as input, output,
 * cached and reasoning tokens; the request's settings repeated back as OpenAI does.
 */
public final class ResponsesAnswer {

    private ResponsesAnswer() {
    }

    public static String newId(String prefix) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return prefix + Long.toHexString(r.nextLong() | Long.MIN_VALUE) + Long.toHexString(r.nextLong() | Long.MIN_VALUE);
    }

    /** The response object's fields that do not depend on the answer: its id, model, status and the echo. */
    public static ObjectNode shell(String id, ResponsesRequest.Context context, long createdAt, String status) {
        ObjectNode out = Json.object();
        out.put("id", id);
        out.put("object", "response");
        out.put("created_at", createdAt);
        out.put("status", status);
        out.putNull("error");
        out.putNull("incomplete_details");
        out.put("model", context.model());
        ObjectNode echo = context.echo();
        out.set("instructions", echo.has("instructions") ? echo.get("instructions") : out.nullNode());
        out.set("metadata", echo.has("metadata") ? echo.get("metadata") : Json.object());
        out.set("tools", echo.has("tools") ? echo.get("tools") : Json.MAPPER.createArrayNode());
        out.set("tool_choice", echo.has("tool_choice") ? echo.get("tool_choice") : out.textNode("auto"));
        out.set("parallel_tool_calls", echo.has("parallel_tool_calls") ? echo.get("parallel_tool_calls") : out.booleanNode(true));
        out.set("temperature", echo.has("temperature") ? echo.get("temperature") : out.numberNode(1.0));
        out.set("top_p", echo.has("top_p") ? echo.get("top_p") : out.numberNode(1.0));
        out.set("max_output_tokens", echo.has("max_output_tokens") ? echo.get("max_output_tokens") : out.nullNode());
        out.set("text", echo.has("text") ? echo.get("text") : Json.object().set("format", Json.object().put("type", "text")));
        out.set("reasoning", echo.has("reasoning") ? echo.get("reasoning") : out.nullNode());
        out.set("user", echo.has("user") ? echo.get("user") : out.nullNode());
        out.put("truncation", echo.path("truncation").asText("disabled"));
        out.put("store", context.store());
        if (context.previousId() == null) {
            out.putNull("previous_response_id");
        } else {
            out.put("previous_response_id", context.previousId());
        }
        out.putArray("output");
        return out;
    }

    /** The whole answer: the first choice's message and tool calls as output items. */
    public static ObjectNode fromChat(JsonNode chat, ResponsesRequest.Context context, String id) {
        JsonNode choice = chat.path("choices").path(0);
        String finish = choice.path("finish_reason").asText("stop");
        ObjectNode out = shell(id, context, chat.path("created").asLong(System.currentTimeMillis() / 1000),
                "length".equals(finish) ? "incomplete" : "completed");
        if ("length".equals(finish)) {
            out.set("incomplete_details", Json.object().put("reason", "max_output_tokens"));
        }
        ArrayNode output = out.withArray("output");
        JsonNode message = choice.path("message");
        String text = message.path("content").isTextual() ? message.get("content").asText() : null;
        if (text != null && !text.isEmpty()) {
            output.add(messageItem(newId("msg_"), text, "completed"));
        }
        for (JsonNode call : message.path("tool_calls")) {
            output.add(functionCallItem(newId("fc_"), call.path("id").asText(), call.path("function").path("name").asText(),
                    call.path("function").path("arguments").asText(""), "completed"));
        }
        out.put("output_text", text == null ? "" : text);
        out.set("usage", usage(chat.path("usage")));
        return out;
    }

    public static ObjectNode messageItem(String id, String text, String status) {
        ObjectNode item = Json.object().put("type", "message").put("id", id).put("status", status).put("role", "assistant");
        item.putArray("content").add(textPart(text));
        return item;
    }

    public static ObjectNode textPart(String text) {
        ObjectNode part = Json.object().put("type", "output_text").put("text", text);
        part.putArray("annotations");
        return part;
    }

    public static ObjectNode functionCallItem(String id, String callId, String name, String arguments, String status) {
        return Json.object().put("type", "function_call").put("id", id).put("call_id", callId).put("name", name)
                .put("arguments", arguments).put("status", status);
    }

    /** Chat usage as the Responses API counts it. */
    public static ObjectNode usage(JsonNode chat) {
        ObjectNode u = Json.object();
        long input = chat.path("prompt_tokens").asLong();
        long output = chat.path("completion_tokens").asLong();
        u.put("input_tokens", input);
        u.putObject("input_tokens_details").put("cached_tokens", chat.path("prompt_tokens_details").path("cached_tokens").asLong());
        u.put("output_tokens", output);
        u.putObject("output_tokens_details").put("reasoning_tokens",
                chat.path("completion_tokens_details").path("reasoning_tokens").asLong());
        u.put("total_tokens", chat.has("total_tokens") ? chat.get("total_tokens").asLong() : input + output);
        if (chat.has("caravan_cost_usd")) {
            u.set("caravan_cost_usd", chat.get("caravan_cost_usd"));
        }
        return u;
    }

    /** The answer's turn as a canonical assistant message, for a follow-up that names this response. */
    public static ObjectNode assistantTurn(JsonNode response) {
        ObjectNode m = Json.object().put("role", "assistant");
        StringBuilder text = new StringBuilder();
        ArrayNode calls = null;
        for (JsonNode item : response.path("output")) {
            if ("message".equals(item.path("type").asText())) {
                item.path("content").forEach(p -> text.append(p.path("text").asText()));
            } else if ("function_call".equals(item.path("type").asText())) {
                if (calls == null) {
                    calls = Json.MAPPER.createArrayNode();
                }
                ObjectNode call = calls.addObject().put("id", item.path("call_id").asText()).put("type", "function");
                call.putObject("function").put("name", item.path("name").asText()).put("arguments", item.path("arguments").asText());
            }
        }
        if (text.length() > 0) {
            m.put("content", text.toString());
        } else {
            m.putNull("content");
        }
        if (calls != null) {
            m.set("tool_calls", calls);
        }
        return m;
    }
}
