package dev.caravan.dialect.openai;

import dev.caravan.dialect.StreamEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/**
 * OpenAI's chat-completions stream: each chunk as a {@code data:} event, {@code [DONE]} at the end, an error event
 * for a failure after the first byte. Usage travels only if the client asked ({@code stream_options.include_usage});
 * an estimate made because the upstream sent none is added as the usage chunk OpenAI would have sent.
 */
public final class OpenAiStreamEncoder implements StreamEncoder {

    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final boolean clientWantsUsage;
    private ObjectNode last;
    private boolean usageSent;

    public OpenAiStreamEncoder(boolean clientWantsUsage) {
        this.clientWantsUsage = clientWantsUsage;
    }

    @Override
    public void chunk(ObjectNode chunk, ByteBuf out) {
        last = chunk;
        JsonNode u = chunk.get("usage");
        if (u != null && !clientWantsUsage) {
            if (chunk.path("choices").isEmpty()) {
                return; // the usage-only chunk the client did not ask for
            }
            chunk.remove("usage");
        }
        usageSent |= u != null && u.isObject();
        StreamEncoder.data(out, Json.bytes(chunk));
    }

    @Override
    public void end(Usage usage, ByteBuf out) {
        if (clientWantsUsage && !usageSent && !usage.isEmpty()) {
            ObjectNode chunk = Json.object();
            chunk.put("id", last == null ? "chatcmpl-caravan" : last.path("id").asText("chatcmpl-caravan"));
            chunk.put("object", "chat.completion.chunk");
            chunk.put("created", last == null ? System.currentTimeMillis() / 1000 : last.path("created").asLong());
            if (last != null && last.has("model")) {
                chunk.set("model", last.get("model"));
            }
            chunk.putArray("choices");
            chunk.set("usage", usage.toOpenAi());
            StreamEncoder.data(out, Json.bytes(chunk));
        }
        out.writeBytes(DONE);
    }

    @Override
    public void error(GatewayException error, ByteBuf out) {
        // OpenAI's convention for a failure after the first byte: an error event, then the end of the body
        StreamEncoder.data(out, OpenAiErrors.bytes(error));
    }
}
