package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.PassThrough;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

/**
 * The answer to a text completion passed through to a server with {@code /completions}: the upstream's own text
 * choices (its text exactly, the prompt included when it echoed, its logprobs), whole and streamed. Where a policy
 * changed a choice's text in the canonical view (an output guardrail's redaction), that choice has the changed text
 * and no logprobs; a stream's usage, {@code [DONE]} and errors are OpenAI's as on chat ({@link OpenAiStreamEncoder}).
 */
public final class CompletionsPassThrough {

    private CompletionsPassThrough() {
    }

    /** The whole text completion for the client: the upstream's, unless a policy changed a choice's text. */
    public static JsonNode answer(JsonNode wire, ObjectNode view) {
        ObjectNode copy = null;
        JsonNode choices = wire.path("choices");
        for (int i = 0; i < choices.size(); i++) {
            JsonNode content = view.path("choices").path(i).path("message").path("content");
            if (content.isTextual() && !content.textValue().equals(choices.get(i).path("text").asText())) {
                copy = copy == null ? (ObjectNode) wire.deepCopy() : copy;
                ((ObjectNode) copy.path("choices").get(i)).put("text", content.textValue()).putNull("logprobs");
            }
        }
        return copy == null ? wire : copy;
    }

    /** The client's stream: each upstream chunk as it came, with a choice's text replaced where a policy changed it. */
    public static final class Encoder implements StreamEncoder {

        private final OpenAiStreamEncoder inner;

        public Encoder(OpenAiStreamEncoder inner) {
            this.inner = inner;
        }

        @Override
        public void chunk(ObjectNode chunk, ByteBuf out) {
            JsonNode raw = chunk.get(PassThrough.EVENT);
            if (raw == null) {
                inner.chunk(TextCompletions.chunkFromChat(chunk), out); // a policy's own: text it released at the end
                return;
            }
            ObjectNode upstream = (ObjectNode) raw.get("json");
            JsonNode choices = upstream.path("choices");
            ArrayNode kept = null;
            for (int i = 0; i < choices.size(); i++) {
                JsonNode choice = choices.get(i);
                JsonNode seen = seen(chunk, choice.path("index").asInt(0));
                String text = seen == null ? null : seen.path("delta").path("content").asText("");
                boolean same = text != null && text.equals(choice.path("text").asText())
                        && finish(seen).equals(finish(choice));
                if (same && kept == null) {
                    continue;
                }
                if (kept == null) {
                    upstream = upstream.deepCopy();
                    kept = upstream.putArray("choices");
                    for (int j = 0; j < i; j++) {
                        kept.add(choices.get(j));
                    }
                }
                if (same) {
                    kept.add(choice);
                } else if (seen != null) { // held back entirely by a policy: left out
                    ObjectNode changed = ((ObjectNode) choice.deepCopy()).put("text", text);
                    changed.set("finish_reason", seen.path("finish_reason"));
                    kept.add(changed.putNull("logprobs"));
                }
            }
            if (kept != null && kept.isEmpty() && !upstream.path("usage").isObject()) {
                return;
            }
            inner.chunk(upstream, out);
        }

        private static String finish(JsonNode choice) {
            return choice.path("finish_reason").asText("");
        }

        /** The canonical chunk's choice of that index, as the policies left it; null when they took it out. */
        private static JsonNode seen(ObjectNode chunk, int index) {
            for (JsonNode c : chunk.path("choices")) {
                if (c.path("index").asInt(0) == index) {
                    return c;
                }
            }
            return null;
        }

        @Override
        public void end(Usage usage, ByteBuf out) {
            inner.end(usage, out);
        }

        @Override
        public void error(GatewayException error, ByteBuf out) {
            inner.error(error, out);
        }
    }
}
