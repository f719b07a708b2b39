package dev.caravan.guardrail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;

/**
 * An OpenAI-compatible upstream for the guardrail tests, speaking OpenAI's wire format, that records every body it
 * receives (so a test sees exactly what a provider would) and answers with the pieces {@link #answer} makes from the
 * last user text: joined for a whole answer, one chunk per piece for a stream (so a test decides where the
 * upstream splits a placeholder or a card number).
 */
final class GuardUpstream implements AutoCloseable {

    final MockWebServer server = new MockWebServer();
    final ConcurrentLinkedQueue<String> received = new ConcurrentLinkedQueue<>();
    volatile Function<String, List<String>> answer = prompt -> List.of("You said: ", prompt);

    GuardUpstream() throws IOException {
        server.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                String body = request.getBody().readUtf8();
                received.add(body);
                return respond(Json.parseObjectOrNull(body), request.getPath());
            }
        });
        server.start();
    }

    String baseUrl() {
        return server.url("/v1").toString();
    }

    /** Everything the upstream has received so far, as one text. */
    String everything() {
        return String.join("\n", received);
    }

    private MockResponse respond(JsonNode body, String path) {
        if (path.endsWith("/embeddings")) {
            return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                    {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.5]}],
                     "model":"up-embed","usage":{"prompt_tokens":4,"total_tokens":4}}""");
        }
        JsonNode messages = body.path("messages");
        String prompt = messages.get(messages.size() - 1).path("content").asText();
        List<String> pieces = answer.apply(prompt);
        if (!body.path("stream").asBoolean(false)) {
            ObjectNode whole = Json.object().put("id", "chatcmpl-g1").put("object", "chat.completion")
                    .put("created", 1700000000).put("model", "up-model");
            ObjectNode choice = whole.putArray("choices").addObject().put("index", 0).put("finish_reason", "stop");
            choice.putObject("message").put("role", "assistant").put("content", String.join("", pieces));
            whole.putObject("usage").put("prompt_tokens", 10).put("completion_tokens", 5).put("total_tokens", 15);
            return new MockResponse().setHeader("Content-Type", "application/json").setBody(whole.toString());
        }
        StringBuilder sse = new StringBuilder();
        sse.append(event("{\"role\":\"assistant\",\"content\":\"\"}", null));
        for (String piece : pieces) {
            sse.append(event(Json.object().put("content", piece).toString(), null));
        }
        sse.append(event("{}", "stop"));
        sse.append("data: {\"id\":\"chatcmpl-g1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                + "\"model\":\"up-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,"
                + "\"total_tokens\":15}}\n\n");
        sse.append("data: [DONE]\n\n");
        return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse.toString());
    }

    private static String event(String delta, String finish) {
        return "data: {\"id\":\"chatcmpl-g1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                + "\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":"
                + (finish == null ? "null" : "\"" + finish + "\"") + "}]}\n\n";
    }

    /** {@code text} cut every {@code size} characters: the upstream splits whatever lies across a cut. */
    static List<String> pieces(String text, int size) {
        List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < text.length(); i += size) {
            out.add(text.substring(i, Math.min(text.length(), i + size)));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        server.shutdown();
    }
}
