package dev.caravan.stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.provider.ChatResult;
import dev.caravan.provider.ChatStream;
import dev.caravan.provider.StreamSink;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A whole answer told as a stream, for a streaming client answered without a call (a policy's answer, a cache hit):
 * per choice one chunk with its whole message, then the finish chunk, then usage when there is some. At most
 * 2 x choices + 1 chunks, made up front; delivered as demand allows.
 */
public final class ResultStream implements ChatStream {

    private final Map<String, String> headers;
    private final List<ObjectNode> chunks = new ArrayList<>();
    private StreamSink sink;
    private int next;
    private boolean cancelled;

    public ResultStream(ChatResult result) {
        this.headers = result.headers();
        JsonNode body = result.body();
        ArrayNode finishes = Json.object().putArray("choices");
        for (JsonNode choice : body.path("choices")) {
            ObjectNode chunk = head(body);
            ObjectNode c = chunk.putArray("choices").addObject().put("index", choice.path("index").asInt());
            ObjectNode delta = c.putObject("delta");
            JsonNode message = choice.path("message");
            delta.put("role", message.path("role").asText("assistant"));
            for (String field : List.of("content", "reasoning_content", "refusal")) {
                if (message.hasNonNull(field)) {
                    delta.set(field, message.get(field));
                }
            }
            if (message.path("tool_calls").isArray()) {
                ArrayNode calls = delta.putArray("tool_calls");
                int index = 0;
                for (JsonNode call : message.get("tool_calls")) {
                    calls.add(((ObjectNode) call.deepCopy()).put("index", index++));
                }
            }
            c.putNull("finish_reason");
            chunks.add(chunk);
            finishes.addObject().put("index", choice.path("index").asInt()).<ObjectNode>putObject("delta");
            ((ObjectNode) finishes.get(finishes.size() - 1)).set("finish_reason", choice.path("finish_reason"));
        }
        ObjectNode finish = head(body);
        finish.set("choices", finishes);
        chunks.add(finish);
        if (!result.usage().isEmpty()) {
            ObjectNode usage = head(body);
            usage.putArray("choices");
            usage.set("usage", result.usage().toOpenAi());
            chunks.add(usage);
        }
    }

    private static ObjectNode head(JsonNode body) {
        ObjectNode chunk = Json.object();
        chunk.put("id", body.path("id").asText("chatcmpl-caravan"));
        chunk.put("object", "chat.completion.chunk");
        chunk.put("created", body.path("created").asLong(System.currentTimeMillis() / 1000));
        chunk.set("model", body.path("model"));
        return chunk;
    }

    @Override
    public Map<String, String> headers() {
        return headers;
    }

    @Override
    public void start(StreamSink sink) {
        this.sink = sink;
    }

    @Override
    public void request(long n) {
        for (long i = 0; i < n && !cancelled && next < chunks.size(); i++) {
            sink.onChunk(chunks.get(next++));
        }
        if (!cancelled && next == chunks.size()) {
            next++; // completes once
            sink.onComplete();
        }
    }

    @Override
    public void cancel() {
        cancelled = true;
    }
}
