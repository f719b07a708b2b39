package dev.caravan.dialect.openai;

import dev.caravan.dialect.StreamEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.usage.Pricing;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;
import java.util.function.ToLongFunction;

/**
 * OpenAI's chat-completions stream: each chunk as a {@code data:} event, {@code [DONE]} at the end, an error event
 * for a failure after the first byte. Usage travels only if the client asked ({@code stream_options.include_usage});
 * an estimate made because the upstream sent none is added as the usage chunk OpenAI would have sent. Either way the
 * usage says what it cost: {@code usage.caravan_cost_usd}, in USD.
 */
public final class OpenAiStreamEncoder implements StreamEncoder {

    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final String COST_FIELD = "caravan_cost_usd";

    private final boolean clientWantsUsage;
    private final ToLongFunction<Usage> costNanos;
    private ObjectNode last;
    private boolean usageSent;

    /** @param costNanos what a usage costs at the answering deployment's price, in nano-dollars (1e-9 USD) */
    public OpenAiStreamEncoder(boolean clientWantsUsage, ToLongFunction<Usage> costNanos) {
        this.clientWantsUsage = clientWantsUsage;
        this.costNanos = costNanos;
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
        boolean hasUsage = u != null && u.isObject();
        usageSent |= hasUsage;
        StreamEncoder.data(out, Json.bytes(hasUsage ? costed(chunk, (ObjectNode) u) : chunk));
    }

    /** The usage chunk with its cost; a copy, for the chunk may be someone else's too (a cached answer's). */
    private ObjectNode costed(ObjectNode chunk, ObjectNode usage) {
        ObjectNode copy = chunk.deepCopy();
        ObjectNode u = usage.deepCopy();
        putCost(u, Usage.fromOpenAi(usage));
        copy.set("usage", u);
        return copy;
    }

    private void putCost(ObjectNode usageNode, Usage usage) {
        // written as the plain decimal (0.000123), not a double's 1.23E-4: exact to the nano-dollar
        usageNode.putRawValue(COST_FIELD, new RawValue(Pricing.usd(costNanos.applyAsLong(usage))));
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
            ObjectNode u = usage.toOpenAi();
            putCost(u, usage);
            chunk.set("usage", u);
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
