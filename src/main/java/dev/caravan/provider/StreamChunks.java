package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;

/** The canonical stream chunk every adapter emits: OpenAI's {@code chat.completion.chunk}. */
final class StreamChunks {

    private StreamChunks() {
    }

    /** id, object, created, model; the caller adds the choices. */
    static ObjectNode envelope(String id, long created, String model) {
        ObjectNode c = Json.object();
        c.put("id", id);
        c.put("object", "chat.completion.chunk");
        c.put("created", created);
        c.put("model", model);
        return c;
    }

    /** One answer's delta (choice 0) and, on its last chunk, why it finished; usage null as OpenAI sends it. */
    static ObjectNode delta(String id, long created, String model, ObjectNode delta, String finishReason) {
        ObjectNode c = envelope(id, created, model);
        ObjectNode choice = c.putArray("choices").addObject();
        choice.put("index", 0);
        choice.set("delta", delta);
        choice.putNull("logprobs");
        if (finishReason == null) {
            choice.putNull("finish_reason");
        } else {
            choice.put("finish_reason", finishReason);
        }
        c.putNull("usage");
        return c;
    }

    /** The last chunk of a stream with usage: no choices, the usage. */
    static ObjectNode usage(String id, long created, String model, JsonNode usage) {
        ObjectNode c = envelope(id, created, model);
        c.putArray("choices");
        c.set("usage", usage);
        return c;
    }
}
