package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.core.Json;
import dev.caravan.core.PassThrough;

import java.util.Map;

/**
 * OpenAI's legacy text completions as a server with {@code /completions} writes them, for a request passed through
 * ({@link PassThrough}): a whole answer read as a canonical chat completion (each choice's {@code text} its message
 * content), and its stream as canonical chunks that each carry the event they were read from. The client gets the
 * upstream's own text choices.
 */
final class CompletionsWire {

    private CompletionsWire() {
    }

    /** A whole text completion's canonical view. */
    static ObjectNode view(ObjectNode completion) {
        ObjectNode view = head(completion, "chat.completion");
        ArrayNode choices = view.putArray("choices");
        for (JsonNode c : completion.path("choices")) {
            ObjectNode choice = choices.addObject().put("index", c.path("index").asInt(choices.size() - 1));
            choice.putObject("message").put("role", "assistant").put("content", c.path("text").asText(""));
            choice.set("finish_reason", c.hasNonNull("finish_reason") ? c.get("finish_reason") : choice.nullNode());
        }
        if (completion.has("usage")) {
            view.set("usage", completion.get("usage"));
        }
        return view;
    }

    private static ObjectNode head(JsonNode completion, String object) {
        ObjectNode view = Json.object();
        view.put("id", completion.path("id").asText("cmpl"));
        view.put("object", object);
        view.put("created", completion.path("created").asLong(System.currentTimeMillis() / 1000));
        view.set("model", completion.path("model").isTextual() ? completion.get("model") : view.nullNode());
        return view;
    }

    /** A text-completion stream's chunks as canonical ones ({@code text} as {@code delta.content}), {@code [DONE]} its end. */
    static final class Stream extends SseChatStream {

        Stream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call) {
            super(deployment, headers, call);
        }

        @Override
        protected void onEvent(String event, String data) {
            if (data.equals("[DONE]")) {
                done();
                return;
            }
            ObjectNode upstream = Json.parseObjectOrNull(data);
            if (upstream == null) {
                garbage("a stream event that is not JSON");
                return;
            }
            if (upstream.has("error")) {
                failAfterQueued(UpstreamErrors.fromStatus(deployment, 500, Json.bytes(upstream), Map.of()));
                return;
            }
            ObjectNode chunk = head(upstream, "chat.completion.chunk");
            ArrayNode choices = chunk.putArray("choices");
            for (JsonNode c : upstream.path("choices")) {
                ObjectNode choice = choices.addObject().put("index", c.path("index").asInt(0));
                choice.putObject("delta").put("content", c.path("text").asText(""));
                choice.set("finish_reason", c.hasNonNull("finish_reason") ? c.get("finish_reason") : choice.nullNode());
                if (c.hasNonNull("finish_reason")) {
                    finishSeen();
                }
            }
            if (upstream.path("usage").isObject()) {
                chunk.set("usage", upstream.get("usage"));
            }
            chunk.set(PassThrough.EVENT, upstreamEvent(event, data, upstream));
            push(chunk);
        }
    }
}
