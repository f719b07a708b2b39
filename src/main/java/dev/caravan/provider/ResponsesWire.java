package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.core.Json;
import dev.caravan.core.PassThrough;
import dev.caravan.usage.Usage;

import java.util.Map;

/**
 * OpenAI's Responses API as the upstream writes it, for a request passed through ({@link PassThrough}): a whole
 * response read as a canonical chat completion (its message text the assistant's content, its function calls tool
 * calls, its usage in chat's terms), and its event stream as canonical chunks that each carry the event they were
 * read from. The view is what the policies and the meters read; the client gets the upstream's own.
 */
final class ResponsesWire {

    private ResponsesWire() {
    }

    /** A whole response's canonical view. */
    static ObjectNode view(ObjectNode response) {
        ObjectNode view = Json.object();
        view.put("id", response.path("id").asText("resp"));
        view.put("object", "chat.completion");
        view.put("created", response.path("created_at").asLong(System.currentTimeMillis() / 1000));
        view.set("model", response.path("model").isTextual() ? response.get("model") : view.nullNode());
        ObjectNode choice = view.putArray("choices").addObject().put("index", 0);
        ObjectNode message = choice.putObject("message").put("role", "assistant");
        StringBuilder text = new StringBuilder();
        ArrayNode calls = Json.MAPPER.createArrayNode();
        for (JsonNode item : response.path("output")) {
            switch (item.path("type").asText()) {
                case "message" -> {
                    for (JsonNode part : item.path("content")) {
                        if ("output_text".equals(part.path("type").asText())) {
                            text.append(part.path("text").asText(""));
                        }
                    }
                }
                case "function_call" -> {
                    ObjectNode call = calls.addObject().put("id", item.path("call_id").asText()).put("type", "function");
                    call.putObject("function").put("name", item.path("name").asText())
                            .put("arguments", item.path("arguments").asText(""));
                }
                default -> { } // hosted tools' items (web_search_call...) and reasoning: no chat equivalent
            }
        }
        if (text.isEmpty() && !calls.isEmpty()) {
            message.putNull("content");
        } else {
            message.put("content", text.toString());
        }
        if (!calls.isEmpty()) {
            message.set("tool_calls", calls);
        }
        choice.put("finish_reason", finish(response, !calls.isEmpty()));
        if (response.path("usage").isObject()) {
            view.set("usage", Usage.fromResponses(response.get("usage")).toOpenAi());
        }
        return view;
    }

    private static String finish(JsonNode response, boolean calls) {
        if ("incomplete".equals(response.path("status").asText())) {
            return "content_filter".equals(response.path("incomplete_details").path("reason").asText())
                    ? "content_filter" : "length";
        }
        return calls ? "tool_calls" : "stop";
    }

    /**
     * The upstream's Responses events, one canonical chunk each: an {@code output_text} delta is content, the end of
     * a text part finishes choice 0 (so a policy holding text back releases it before the part's {@code .done}
     * events), {@code response.completed} and {@code response.incomplete} carry the usage and end the stream,
     * {@code response.failed} and {@code error} end it with the upstream's error; every other event is a chunk with
     * no choices. Each chunk carries its event ({@link PassThrough#EVENT}).
     */
    static final class Stream extends SseChatStream {

        Stream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call) {
            super(deployment, headers, call);
        }

        @Override
        protected void onEvent(String event, String data) {
            ObjectNode e = Json.parseObjectOrNull(data);
            if (e == null) {
                garbage("a stream event that is not JSON");
                return;
            }
            String type = e.path("type").asText(event == null ? "" : event);
            ObjectNode chunk = Json.object().put("object", "chat.completion.chunk");
            ArrayNode choices = chunk.putArray("choices");
            chunk.set(PassThrough.EVENT, upstreamEvent(event, data, e));
            switch (type) {
                case "response.output_text.delta" -> delta(choices, "content", e.path("delta").asText(""));
                case "response.reasoning_summary_text.delta", "response.reasoning_text.delta" ->
                        delta(choices, "reasoning_content", e.path("delta").asText(""));
                case "response.output_text.done" -> choices.addObject().put("index", 0).put("finish_reason", "stop")
                        .putObject("delta");
                case "response.completed", "response.incomplete" -> {
                    usage(chunk, e);
                    finishSeen();
                    push(chunk);
                    done();
                    return;
                }
                case "response.failed", "error" -> {
                    usage(chunk, e);
                    push(chunk); // the client reads the upstream's own failure event
                    JsonNode error = type.equals("error") ? e : e.path("response").path("error");
                    ObjectNode body = Json.object();
                    body.putObject("error").put("message", error.path("message").asText("The response failed."))
                            .put("code", error.path("code").asText("server_error"));
                    failAfterQueued(UpstreamErrors.fromStatus(deployment, 500, Json.bytes(body), Map.of()));
                    return;
                }
                default -> { }
            }
            push(chunk);
        }

        private static void delta(ArrayNode choices, String field, String text) {
            ObjectNode choice = choices.addObject().put("index", 0);
            choice.putObject("delta").put(field, text);
            choice.putNull("finish_reason");
        }

        private static void usage(ObjectNode chunk, JsonNode event) {
            JsonNode usage = event.path("response").path("usage");
            if (usage.isObject()) {
                chunk.set("usage", Usage.fromResponses(usage).toOpenAi());
            }
        }
    }
}
