package dev.caravan.dialect.openai;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;

/**
 * The {@code /v1/completions} stream: OpenAI's chat encoder (usage, cost, {@code [DONE]}, error events) writing each
 * canonical chunk as a text-completion chunk; with {@code echo}, the prompt goes first, in a chunk of its own.
 */
public final class TextCompletionStreamEncoder implements StreamEncoder {

    private final OpenAiStreamEncoder inner;
    private String echo;

    public TextCompletionStreamEncoder(OpenAiStreamEncoder inner, String echo) {
        this.inner = inner;
        this.echo = echo;
    }

    @Override
    public void chunk(ObjectNode chunk, ByteBuf out) {
        ObjectNode text = TextCompletions.chunkFromChat(chunk);
        if (echo != null && text.path("choices").size() > 0) {
            ObjectNode first = text.deepCopy();
            first.withArray("choices").forEach(c -> ((ObjectNode) c).put("text", echo).putNull("finish_reason"));
            first.remove("usage");
            inner.chunk(first, out);
            echo = null;
        }
        inner.chunk(text, out);
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
