package dev.caravan.dialect;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

/**
 * Writes a canonical (OpenAI chunk) stream in the client's wire format: OpenAI's SSE on {@code /v1/chat/completions},
 * Anthropic's events on {@code /v1/messages}. One encoder per stream, called on its event loop only.
 */
public interface StreamEncoder {

    /** The SSE bytes for one canonical chunk; nothing when it translates to no event. */
    void chunk(ObjectNode chunk, ByteBuf out);

    /** The end of a stream that finished; {@code usage} is the upstream's, or the gateway's estimate. */
    void end(Usage usage, ByteBuf out);

    /** The end of a stream that failed after its first byte. */
    void error(GatewayException error, ByteBuf out);

    /** One {@code data:} line and the blank line that ends the event. */
    static void data(ByteBuf out, byte[] json) {
        out.writeBytes(DATA).writeBytes(json).writeByte('\n').writeByte('\n');
    }

    byte[] DATA = "data: ".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
}
