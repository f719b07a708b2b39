package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.usage.Pricing;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.ToLongFunction;

/**
 * The Responses API's event stream over a canonical chat stream: {@code response.created},
 * {@code response.in_progress}, then per output item {@code response.output_item.added}, its deltas
 * ({@code response.output_text.delta} with {@code content_part.added/done}, or
 * {@code response.function_call_arguments.delta}) and {@code .done} events, and {@code response.completed} carrying
 * the whole response with its usage; each event numbered ({@code sequence_number}). One per stream, on its loop.
 */
public final class ResponsesStreamEncoder implements StreamEncoder {

    private final ResponsesRequest.Context context;
    private final String id;
    private final ToLongFunction<Usage> costNanos;
    private final Consumer<ObjectNode> completed;
    private int sequence;
    private boolean started;
    private long createdAt = System.currentTimeMillis() / 1000;
    private final List<ObjectNode> items = new ArrayList<>();   // output items in order, as they will be at the end
    private ObjectNode message;                                // the open message item, if any
    private final StringBuilder text = new StringBuilder();
    // tool call index -> its output item and arguments so far (bounded by the upstream's tool calls, which the
    // stream reader caps)
    private final List<ObjectNode> calls = new ArrayList<>();
    private final List<StringBuilder> arguments = new ArrayList<>();
    private String finish = "stop";

    /** @param completed told of the finished response (to keep it for a follow-up) */
    public ResponsesStreamEncoder(ResponsesRequest.Context context, String id, ToLongFunction<Usage> costNanos,
                                  Consumer<ObjectNode> completed) {
        this.context = context;
        this.id = id;
        this.costNanos = costNanos;
        this.completed = completed;
    }

    @Override
    public void chunk(ObjectNode chunk, ByteBuf out) {
        start(chunk, out);
        JsonNode choice = chunk.path("choices").path(0);
        if (choice.isMissingNode()) {
            return; // the usage chunk: its numbers arrive again in end()
        }
        JsonNode delta = choice.path("delta");
        String content = delta.path("content").isTextual() ? delta.get("content").asText() : "";
        if (!content.isEmpty()) {
            if (message == null) {
                message = ResponsesAnswer.messageItem(ResponsesAnswer.newId("msg_"), "", "in_progress");
                message.putArray("content");
                items.add(message);
                event(out, "response.output_item.added", Json.object().put("output_index", items.size() - 1)
                        .set("item", message.deepCopy()));
                event(out, "response.content_part.added", itemRef(message).put("content_index", 0)
                        .set("part", ResponsesAnswer.textPart("")));
            }
            text.append(content);
            event(out, "response.output_text.delta", itemRef(message).put("content_index", 0).put("delta", content));
        }
        for (JsonNode call : delta.path("tool_calls")) {
            int index = call.path("index").asInt(calls.size());
            while (calls.size() <= index) {
                ObjectNode item = ResponsesAnswer.functionCallItem(ResponsesAnswer.newId("fc_"), "", "", "", "in_progress");
                calls.add(item);
                arguments.add(new StringBuilder());
            }
            ObjectNode item = calls.get(index);
            if (call.path("id").isTextual()) {
                item.put("call_id", call.get("id").asText());
            }
            if (call.path("function").path("name").isTextual() && item.path("name").asText().isEmpty()) {
                item.put("name", call.path("function").get("name").asText());
            }
            if (!items.contains(item)) {
                items.add(item);
                event(out, "response.output_item.added", Json.object().put("output_index", items.size() - 1)
                        .set("item", item.deepCopy()));
            }
            String piece = call.path("function").path("arguments").asText("");
            if (!piece.isEmpty()) {
                arguments.get(index).append(piece);
                event(out, "response.function_call_arguments.delta", itemRef(item).put("delta", piece));
            }
        }
        if (choice.path("finish_reason").isTextual()) {
            finish = choice.get("finish_reason").asText();
        }
    }

    @Override
    public void end(Usage usage, ByteBuf out) {
        start(null, out);
        if (message != null) {
            String whole = text.toString();
            event(out, "response.output_text.done", itemRef(message).put("content_index", 0).put("text", whole));
            event(out, "response.content_part.done", itemRef(message).put("content_index", 0)
                    .set("part", ResponsesAnswer.textPart(whole)));
            message.put("status", "completed");
            ((ArrayNode) message.get("content")).add(ResponsesAnswer.textPart(whole));
            event(out, "response.output_item.done", Json.object().put("output_index", items.indexOf(message))
                    .set("item", message));
        }
        for (int i = 0; i < calls.size(); i++) {
            ObjectNode item = calls.get(i);
            item.put("arguments", arguments.get(i).toString()).put("status", "completed");
            event(out, "response.function_call_arguments.done", itemRef(item).put("arguments", item.get("arguments").asText()));
            event(out, "response.output_item.done", Json.object().put("output_index", items.indexOf(item)).set("item", item));
        }
        boolean incomplete = "length".equals(finish);
        ObjectNode response = ResponsesAnswer.shell(id, context, createdAt, incomplete ? "incomplete" : "completed");
        if (incomplete) {
            response.set("incomplete_details", Json.object().put("reason", "max_output_tokens"));
        }
        ArrayNode output = response.withArray("output");
        items.forEach(output::add);
        response.put("output_text", text.toString());
        ObjectNode u = ResponsesAnswer.usage(usage.toOpenAi());
        u.putRawValue("caravan_cost_usd", new RawValue(Pricing.usd(costNanos.applyAsLong(usage))));
        response.set("usage", u);
        event(out, incomplete ? "response.incomplete" : "response.completed", Json.object().set("response", response));
        completed.accept(response);
    }

    @Override
    public void error(GatewayException error, ByteBuf out) {
        start(null, out);
        ObjectNode response = ResponsesAnswer.shell(id, context, createdAt, "failed");
        response.set("error", Json.object().put("code", error.code() == null ? "server_error" : error.code())
                .put("message", error.getMessage()));
        event(out, "response.failed", Json.object().set("response", response));
    }

    private void start(ObjectNode chunk, ByteBuf out) {
        if (started) {
            return;
        }
        started = true;
        if (chunk != null && chunk.path("created").canConvertToLong()) {
            createdAt = chunk.get("created").asLong();
        }
        ObjectNode response = ResponsesAnswer.shell(id, context, createdAt, "in_progress");
        event(out, "response.created", Json.object().set("response", response));
        event(out, "response.in_progress", Json.object().set("response", response));
    }

    private static ObjectNode itemRef(ObjectNode item) {
        return Json.object().put("item_id", item.path("id").asText());
    }

    private void event(ByteBuf out, String type, ObjectNode body) {
        ObjectNode event = Json.object().put("type", type);
        body.fields().forEachRemaining(e -> event.set(e.getKey(), e.getValue()));
        if (body.has("item_id") || type.startsWith("response.output") || type.startsWith("response.content")
                || type.startsWith("response.function")) {
            int index = -1;
            for (int i = 0; i < items.size(); i++) {
                if (items.get(i).path("id").asText().equals(body.path("item_id").asText())) {
                    index = i;
                }
            }
            if (index >= 0 && !event.has("output_index")) {
                event.put("output_index", index);
            }
        }
        event.put("sequence_number", sequence++);
        out.writeBytes(("event: " + type + "\n").getBytes(StandardCharsets.US_ASCII));
        StreamEncoder.data(out, Json.bytes(event));
    }
}
