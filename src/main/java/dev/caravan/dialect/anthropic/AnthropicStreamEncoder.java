package dev.caravan.dialect.anthropic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * Canonical chunks as Anthropic's stream events: {@code message_start}, then per content block
 * {@code content_block_start} / {@code content_block_delta} (text, thinking, or a tool's {@code input_json_delta}
 * in the order the arguments arrived) / {@code content_block_stop}, and at the end {@code message_delta} (stop reason
 * and usage, which OpenAI-wire upstreams send last) and {@code message_stop}.
 * <p>
 * Anthropic streams one block at a time, while OpenAI may interleave the fragments of parallel tool calls. The
 * first tool call streams live; any other is held (id, name, arguments so far) and sent whole, in index order, when
 * the answer ends. Held calls are bounded by the answer itself.
 */
public final class AnthropicStreamEncoder implements StreamEncoder {

    private enum Block { NONE, TEXT, THINKING, TOOL }

    /** One OpenAI tool call as it accumulates. */
    private static final class ToolCall {
        String id;
        String name;
        final StringBuilder arguments = new StringBuilder();
        boolean sent; // streamed live or flushed: it has its block
    }

    private boolean started;
    private Block open = Block.NONE;
    private int blockIndex = -1;
    private int liveTool = -1;
    private final Map<Integer, ToolCall> tools = new TreeMap<>();
    private String finishReason;
    private boolean refused;

    @Override
    public void chunk(ObjectNode chunk, ByteBuf out) {
        start(chunk, out);
        for (JsonNode choice : chunk.path("choices")) {
            if (choice.path("index").asInt(0) != 0) {
                continue; // an Anthropic message has one answer
            }
            JsonNode delta = choice.path("delta");
            String reasoning = delta.path("reasoning_content").asText("");
            if (!reasoning.isEmpty()) {
                openBlock(out, Block.THINKING, Json.object().put("type", "thinking").put("thinking", "").put("signature", ""));
                blockDelta(out, Json.object().put("type", "thinking_delta").put("thinking", reasoning));
            }
            String text = delta.path("content").asText("") + delta.path("refusal").asText("");
            refused |= !delta.path("refusal").asText("").isEmpty();
            if (!text.isEmpty()) {
                openBlock(out, Block.TEXT, Json.object().put("type", "text").put("text", ""));
                blockDelta(out, Json.object().put("type", "text_delta").put("text", text));
            }
            for (JsonNode fragment : delta.path("tool_calls")) {
                toolFragment(fragment, out);
            }
            if (choice.hasNonNull("finish_reason")) {
                finishReason = choice.get("finish_reason").asText();
            }
        }
    }

    private void start(ObjectNode chunk, ByteBuf out) {
        if (started) {
            return;
        }
        started = true;
        ObjectNode message = Json.object();
        message.put("id", MessagesTranslator.messageId(chunk.path("id").asText("")));
        message.put("type", "message");
        message.put("role", "assistant");
        message.put("model", chunk.path("model").asText(""));
        message.putArray("content");
        message.putNull("stop_reason");
        message.putNull("stop_sequence");
        message.putObject("usage").put("input_tokens", 0).put("output_tokens", 0);
        ObjectNode start = Json.object().put("type", "message_start");
        start.set("message", message);
        event(out, "message_start", start);
    }

    private void toolFragment(JsonNode fragment, ByteBuf out) {
        int index = fragment.path("index").asInt(0);
        ToolCall call = tools.computeIfAbsent(index, k -> new ToolCall());
        if (fragment.path("id").isTextual() && !fragment.path("id").asText().isEmpty()) {
            call.id = fragment.get("id").asText();
        }
        JsonNode name = fragment.path("function").path("name");
        if (name.isTextual() && !name.asText().isEmpty()) {
            call.name = name.asText();
        }
        String arguments = fragment.path("function").path("arguments").asText("");
        if (index == liveTool && open == Block.TOOL) {
            if (!arguments.isEmpty()) {
                blockDelta(out, Json.object().put("type", "input_json_delta").put("partial_json", arguments));
            }
            return;
        }
        call.arguments.append(arguments);
        if (liveTool < 0 && call.name != null && !call.sent) {
            // the first tool call streams as it comes
            liveTool = index;
            openTool(out, index, call);
            if (!call.arguments.isEmpty()) {
                blockDelta(out, Json.object().put("type", "input_json_delta").put("partial_json", call.arguments.toString()));
                call.arguments.setLength(0);
            }
        }
    }

    private void openTool(ByteBuf out, int index, ToolCall call) {
        ObjectNode use = Json.object().put("type", "tool_use");
        use.put("id", call.id != null ? call.id : "toolu_caravan_" + index);
        use.put("name", call.name != null ? call.name : "");
        use.putObject("input");
        closeBlock(out);
        openBlock(out, Block.TOOL, use);
        call.sent = true;
    }

    @Override
    public void end(Usage usage, ByteBuf out) {
        if (!started) {
            start(Json.object(), out); // an upstream that sent nothing but its end: still a well-formed message
        }
        closeBlock(out);
        for (Map.Entry<Integer, ToolCall> held : tools.entrySet()) {
            ToolCall call = held.getValue();
            if (!call.sent) {
                openTool(out, held.getKey(), call);
                if (!call.arguments.isEmpty()) {
                    blockDelta(out, Json.object().put("type", "input_json_delta").put("partial_json", call.arguments.toString()));
                }
                closeBlock(out);
            }
        }
        ObjectNode delta = Json.object().put("type", "message_delta");
        delta.putObject("delta").put("stop_reason", refused ? "refusal" : MessagesTranslator.stopReason(finishReason))
                .putNull("stop_sequence");
        delta.set("usage", MessagesTranslator.usage(usage.toOpenAi()));
        event(out, "message_delta", delta);
        event(out, "message_stop", Json.object().put("type", "message_stop"));
    }

    @Override
    public void error(GatewayException error, ByteBuf out) {
        if (started && "content_filter".equals(finishReason)) {
            // a guardrail stopped the answer: the message ends as a refusal (a whole message the SDK's accumulator
            // accepts), then the error event says why
            closeBlock(out);
            ObjectNode delta = Json.object().put("type", "message_delta");
            delta.putObject("delta").put("stop_reason", "refusal").putNull("stop_sequence");
            delta.set("usage", MessagesTranslator.usage(Json.object()));
            event(out, "message_delta", delta);
            event(out, "message_stop", Json.object().put("type", "message_stop"));
        }
        event(out, "error", AnthropicErrors.body(error));
    }

    private void openBlock(ByteBuf out, Block kind, ObjectNode contentBlock) {
        if (open == kind && kind != Block.TOOL) {
            return;
        }
        closeBlock(out);
        blockIndex++;
        open = kind;
        ObjectNode start = Json.object().put("type", "content_block_start").put("index", blockIndex);
        start.set("content_block", contentBlock);
        event(out, "content_block_start", start);
    }

    private void blockDelta(ByteBuf out, ObjectNode delta) {
        ObjectNode event = Json.object().put("type", "content_block_delta").put("index", blockIndex);
        event.set("delta", delta);
        event(out, "content_block_delta", event);
    }

    private void closeBlock(ByteBuf out) {
        if (open != Block.NONE) {
            event(out, "content_block_stop", Json.object().put("type", "content_block_stop").put("index", blockIndex));
            open = Block.NONE;
        }
    }

    private static void event(ByteBuf out, String name, ObjectNode data) {
        out.writeBytes(("event: " + name + "\n").getBytes(StandardCharsets.US_ASCII));
        StreamEncoder.data(out, Json.bytes(data));
    }
}
