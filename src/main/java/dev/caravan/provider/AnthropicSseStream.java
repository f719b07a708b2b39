package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * Anthropic's stream events as canonical chunks. Anthropic numbers content blocks (text, thinking, tool_use) in
 * one sequence; OpenAI numbers tool calls alone, so each tool_use block gets the next tool-call index. Usage arrives
 * in two halves (input at message_start, output at message_delta) and leaves as one usage-only chunk at the end.
 */
final class AnthropicSseStream extends SseChatStream {

    private final long created = System.currentTimeMillis() / 1000;
    // content block index -> tool-call index; one entry per tool_use block of one message
    private final Map<Integer, Integer> toolIndexOfBlock = new HashMap<>();
    // tool-call indexes whose arguments have started: a tool without parameters streams none, yet clients parse "{}"
    private final java.util.Set<Integer> toolsWithArguments = new java.util.HashSet<>();
    private String id = "";
    private String model = "";
    private ObjectNode usage = Json.object();
    private boolean finished;
    private boolean usageSent;

    AnthropicSseStream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call) {
        super(deployment, headers, call);
    }

    @Override
    protected void onEvent(String event, String data) {
        ObjectNode payload = Json.parseObjectOrNull(data);
        if (payload == null) {
            garbage("a stream event that is not JSON");
            return;
        }
        String type = payload.path("type").asText(event == null ? "" : event);
        switch (type) {
            case "message_start" -> {
                JsonNode message = payload.path("message");
                id = message.path("id").asText("");
                model = message.path("model").asText("");
                if (message.path("usage").isObject()) {
                    usage = (ObjectNode) message.get("usage");
                }
                ObjectNode delta = Json.object();
                delta.put("role", "assistant");
                delta.put("content", "");
                push(chunk(delta, null));
            }
            case "content_block_start" -> blockStart(payload.path("index").asInt(), payload.path("content_block"));
            case "content_block_delta" -> blockDelta(payload.path("index").asInt(), payload.path("delta"));
            case "message_delta" -> {
                // message_delta's usage is cumulative: its counts replace message_start's
                payload.path("usage").fields().forEachRemaining(f -> {
                    if (f.getValue().isNumber()) {
                        usage.set(f.getKey(), f.getValue());
                    }
                });
                String stopReason = payload.path("delta").path("stop_reason").asText(null);
                push(chunk(Json.object(), AnthropicTranslator.finishReason(stopReason)));
                finished = true;
                finishSeen();
            }
            case "message_stop" -> {
                pushUsage();
                done();
            }
            case "error" -> {
                String errorType = payload.path("error").path("type").asText(null);
                failAfterQueued(UpstreamErrors.fromStatus(deployment, UpstreamErrors.statusOfType(errorType),
                        data.getBytes(StandardCharsets.UTF_8), Map.of()));
            }
            case "content_block_stop" -> {
                Integer k = toolIndexOfBlock.get(payload.path("index").asInt());
                if (k != null && toolsWithArguments.add(k)) {
                    pushArguments(k, "{}");
                }
            }
            default -> {
                // ping, and event types added after this adapter was written
            }
        }
    }

    /** A body that ends after message_delta but without message_stop still reports its usage. */
    @Override
    protected void onUpstreamEnd() {
        if (finished) {
            pushUsage();
        }
    }

    private void blockStart(int index, JsonNode block) {
        switch (block.path("type").asText()) {
            case "tool_use" -> {
                int k = toolIndexOfBlock.size();
                toolIndexOfBlock.put(index, k);
                ObjectNode call = Json.object();
                call.put("index", k);
                call.put("id", block.path("id").asText());
                call.put("type", "function");
                ObjectNode function = call.putObject("function");
                function.put("name", block.path("name").asText());
                function.put("arguments", "");
                ObjectNode delta = Json.object();
                delta.putArray("tool_calls").add(call);
                push(chunk(delta, null));
            }
            case "text" -> {
                String text = block.path("text").asText("");
                if (!text.isEmpty()) {
                    push(chunk(Json.object().put("content", text), null));
                }
            }
            default -> {
                // thinking starts empty; redacted_thinking carries nothing readable
            }
        }
    }

    private void pushArguments(int k, String arguments) {
        ObjectNode call = Json.object();
        call.put("index", k);
        call.putObject("function").put("arguments", arguments);
        ObjectNode out = Json.object();
        out.putArray("tool_calls").add(call);
        push(chunk(out, null));
    }

    private void blockDelta(int index, JsonNode delta) {
        switch (delta.path("type").asText()) {
            case "text_delta" -> push(chunk(Json.object().put("content", delta.path("text").asText("")), null));
            case "thinking_delta" ->
                    push(chunk(Json.object().put("reasoning_content", delta.path("thinking").asText("")), null));
            case "input_json_delta" -> {
                String partial = delta.path("partial_json").asText("");
                Integer k = toolIndexOfBlock.get(index);
                if (k == null) {
                    garbage("tool input for a content block that is not a tool_use");
                    return;
                }
                if (partial.isEmpty()) {
                    return;
                }
                toolsWithArguments.add(k);
                pushArguments(k, partial);
            }
            default -> {
                // signature_delta, citations_delta: nothing the chat schema carries
            }
        }
    }

    private void pushUsage() {
        if (usageSent) {
            return;
        }
        usageSent = true;
        push(StreamChunks.usage(id, created, model, AnthropicTranslator.usage(usage)));
    }

    private ObjectNode chunk(ObjectNode delta, String finishReason) {
        return StreamChunks.delta(id, created, model, delta, finishReason);
    }
}
