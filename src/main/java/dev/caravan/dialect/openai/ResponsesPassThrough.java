package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.core.PassThrough;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.usage.Pricing;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * The answer to a Responses request passed through to OpenAI (one with a hosted tool): the upstream's own response,
 * and its own events in its order, as it wrote them; a stream's {@code response.completed} also says what it cost
 * ({@code usage.caravan_cost_usd}). Where a policy changed the text of the canonical view (an output guardrail's
 * redaction), the message text is the changed one, its annotations (whose offsets no longer hold) and logprobs
 * dropped; text a policy held back goes out, as one more delta, before the event that ends its part.
 */
public final class ResponsesPassThrough {

    private ResponsesPassThrough() {
    }

    /** The whole response for the client: the upstream's, unless a policy changed the view's text. */
    public static JsonNode answer(JsonNode wire, ObjectNode view) {
        JsonNode content = view.path("choices").path(0).path("message").path("content");
        if (!content.isTextual() || content.textValue().equals(outputText(wire))) {
            return wire;
        }
        ObjectNode copy = (ObjectNode) wire.deepCopy();
        String changed = content.textValue();
        boolean first = true;
        for (JsonNode item : copy.path("output")) {
            if ("message".equals(item.path("type").asText())) {
                for (JsonNode part : item.path("content")) {
                    if (part instanceof ObjectNode p && "output_text".equals(p.path("type").asText())) {
                        rewrite(p, first ? changed : "");
                        first = false;
                    }
                }
            }
        }
        if (copy.has("output_text")) {
            copy.put("output_text", changed);
        }
        return copy;
    }

    /** The text of a response's message items, in order. */
    private static String outputText(JsonNode response) {
        StringBuilder text = new StringBuilder();
        for (JsonNode item : response.path("output")) {
            if ("message".equals(item.path("type").asText())) {
                for (JsonNode part : item.path("content")) {
                    if ("output_text".equals(part.path("type").asText())) {
                        text.append(part.path("text").asText(""));
                    }
                }
            }
        }
        return text.toString();
    }

    private static void rewrite(ObjectNode part, String text) {
        part.put("text", text);
        part.putArray("annotations");
        if (part.has("logprobs")) {
            part.putArray("logprobs");
        }
    }

    /**
     * The client's stream: each upstream event as it came, unless a policy changed its chunk's text. Text written is
     * kept per part (item id and content index: one entry per text part, together the size of the answer's text) so
     * that a part's {@code .done} events, the item's and {@code response.completed} say what the client was sent.
     */
    public static final class Encoder implements StreamEncoder {

        private static final byte[] EVENT = "event: ".getBytes(StandardCharsets.US_ASCII);

        private final ToLongFunction<Usage> costNanos;
        private final Map<String, StringBuilder> written = new HashMap<>();
        private boolean changed;       // some text the client got is not the upstream's
        private int inserted;          // events of the gateway's own so far: later sequence numbers move by this
        private long lastSequence = -1;
        private ObjectNode lastPart;   // where the last text went: a released delta goes there too
        private boolean terminalWritten;

        /** @param costNanos what a usage costs at the answering deployment's price, in nano-dollars (1e-9 USD) */
        public Encoder(ToLongFunction<Usage> costNanos) {
            this.costNanos = costNanos;
        }

        @Override
        public void chunk(ObjectNode chunk, ByteBuf out) {
            JsonNode raw = chunk.get(PassThrough.EVENT);
            String content = content(chunk);
            if (raw == null) { // a policy's own chunk: text it held back, released at the end
                if (content != null && lastPart != null) {
                    insertDelta(lastPart, content, lastSequence + 1, out);
                }
                return;
            }
            ObjectNode event = (ObjectNode) raw.get("json");
            String type = event.path("type").asText();
            long sequence = event.path("sequence_number").asLong(lastSequence + 1);
            lastSequence = sequence;
            boolean rewrite = inserted > 0;
            switch (type) {
                case "response.output_text.delta" -> {
                    lastPart = location(event);
                    if (content == null) {
                        changed |= !event.path("delta").asText("").isEmpty();
                        return; // held back by a policy: it goes out later, or never
                    }
                    written(event).append(content);
                    if (!content.equals(event.path("delta").asText())) {
                        changed = true;
                        event = event.deepCopy();
                        event.put("delta", content);
                        event.remove("logprobs");
                        rewrite = true;
                    }
                }
                case "response.output_text.done" -> {
                    lastPart = location(event);
                    if (content != null) {
                        insertDelta(lastPart, content, sequence, out); // before the event that ends its part
                        rewrite = true;
                    }
                    StringBuilder sent = written.get(key(event.path("item_id").asText(), event.path("content_index").asInt()));
                    String text = sent == null ? null : sent.toString(); // null: no delta came, nothing to say otherwise
                    if (text != null && !text.equals(event.path("text").asText())) {
                        changed = true;
                        event = event.deepCopy();
                        event.put("text", text);
                        event.remove("logprobs");
                        rewrite = true;
                    }
                }
                case "response.content_part.done" -> {
                    if (changed && event.get("part") instanceof ObjectNode) {
                        event = event.deepCopy();
                        rewrite |= patch((ObjectNode) event.get("part"), key(event.path("item_id").asText(),
                                event.path("content_index").asInt()));
                    }
                }
                case "response.output_item.done" -> {
                    if (changed) {
                        event = event.deepCopy();
                        rewrite |= patchItem(event.path("item"));
                    }
                }
                case "response.completed", "response.incomplete", "response.failed" -> {
                    event = event.deepCopy();
                    rewrite = true;
                    terminalWritten = true;
                    if (changed) {
                        for (JsonNode item : event.path("response").path("output")) {
                            patchItem(item);
                        }
                    }
                    if (chunk.path("usage").isObject() && event.path("response").get("usage") instanceof ObjectNode u) {
                        u.putRawValue("caravan_cost_usd",
                                new RawValue(Pricing.usd(costNanos.applyAsLong(Usage.fromOpenAi(chunk.get("usage"))))));
                    }
                }
                case "error" -> terminalWritten = true;
                default -> { }
            }
            String name = raw.path("event").isTextual() ? raw.get("event").asText() : null;
            if (rewrite) {
                if (event.path("sequence_number").canConvertToLong()) {
                    event.put("sequence_number", event.get("sequence_number").asLong() + inserted);
                }
                write(out, name, Json.string(event));
            } else {
                write(out, name, raw.path("data").asText());
            }
        }

        /**
         * One more {@code output_text.delta} of the gateway's, for text released by a policy, numbered {@code at}
         * (moved by the gateway's events before it): the events after it move by one more.
         */
        private void insertDelta(ObjectNode part, String content, long at, ByteBuf out) {
            changed = true;
            written(part).append(content);
            ObjectNode event = Json.object().put("type", "response.output_text.delta");
            event.setAll(part);
            event.put("delta", content).putArray("logprobs");
            event.put("sequence_number", at + inserted);
            inserted++;
            write(out, "response.output_text.delta", Json.string(event));
        }

        /** A message item's text parts as the client got them; true when one changed. */
        private boolean patchItem(JsonNode item) {
            boolean any = false;
            if ("message".equals(item.path("type").asText())) {
                int index = 0;
                for (JsonNode part : item.path("content")) {
                    if (part instanceof ObjectNode p) {
                        any |= patch(p, key(item.path("id").asText(), index));
                    }
                    index++;
                }
            }
            return any;
        }

        private boolean patch(ObjectNode part, String key) {
            StringBuilder text = written.get(key);
            if (text == null || !"output_text".equals(part.path("type").asText())
                    || text.toString().equals(part.path("text").asText())) {
                return false;
            }
            rewrite(part, text.toString());
            return true;
        }

        private StringBuilder written(JsonNode event) {
            return written.computeIfAbsent(key(event.path("item_id").asText(), event.path("content_index").asInt()),
                    k -> new StringBuilder());
        }

        private static String key(String item, int contentIndex) {
            return item + '#' + contentIndex;
        }

        private static ObjectNode location(JsonNode event) {
            ObjectNode at = Json.object().put("item_id", event.path("item_id").asText());
            at.set("output_index", event.path("output_index"));
            return at.put("content_index", event.path("content_index").asInt());
        }

        private static String content(ObjectNode chunk) {
            JsonNode content = chunk.path("choices").path(0).path("delta").path("content");
            return content.isTextual() && !content.textValue().isEmpty() ? content.textValue() : null;
        }

        @Override
        public void end(Usage usage, ByteBuf out) {
            // response.completed was the upstream's last word, and the client has it
        }

        @Override
        public void error(GatewayException error, ByteBuf out) {
            if (terminalWritten) {
                return; // the upstream's response.failed or error event said it
            }
            ObjectNode event = Json.object().put("type", "error")
                    .put("code", error.code() == null ? "server_error" : error.code())
                    .put("message", error.getMessage());
            event.set("param", error.param() == null ? event.nullNode() : event.textNode(error.param()));
            event.put("sequence_number", lastSequence + 1 + inserted);
            write(out, "error", Json.string(event));
        }

        private static void write(ByteBuf out, String name, String data) {
            if (name != null) {
                out.writeBytes(EVENT).writeBytes(name.getBytes(StandardCharsets.UTF_8)).writeByte('\n');
            }
            for (String line : data.split("\n", -1)) {
                out.writeBytes(DATA).writeBytes(line.getBytes(StandardCharsets.UTF_8)).writeByte('\n');
            }
            out.writeByte('\n');
        }
    }
}
