package dev.caravan.cache;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.Json;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okhttp3.mockwebserver.SocketPolicy;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An OpenAI-compatible upstream for the cache tests, speaking OpenAI's wire format, whose every answer says which
 * call made it ({@code answer #N to: <prompt>}): a cached answer repeats its N, a fresh one does not. Words in the
 * last user turn script it: {@code SLOW} (answers after 700 ms), {@code FAIL} (500), {@code FILTER}
 * (finish_reason content_filter), {@code TOOL} (a tool call), {@code CUT} (a stream that stops without finishing).
 */
final class CacheUpstream implements AutoCloseable {

    final MockWebServer server = new MockWebServer();
    final AtomicInteger calls = new AtomicInteger();


    CacheUpstream() throws IOException {
        server.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                return answer(request);
            }
        });
        server.start();
    }

    String baseUrl() {
        return server.url("/v1").toString();
    }

    private MockResponse answer(RecordedRequest request) {
        int n = calls.incrementAndGet();

        JsonNode body = Json.parseObjectOrNull(request.getBody().readUtf8());
        if (request.getPath().endsWith("/embeddings")) {
            return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                    {"object":"list","data":[{"object":"embedding","index":0,"embedding":[%d.0,0.5]}],
                     "model":"up-embed","usage":{"prompt_tokens":4,"total_tokens":4}}""".formatted(n));
        }
        JsonNode messages = body.path("messages");
        String prompt = messages.get(messages.size() - 1).path("content").asText();
        String text = "answer #" + n + " to: " + prompt.replace("\"", "'");
        MockResponse response;
        if (prompt.contains("FAIL")) {
            response = new MockResponse().setResponseCode(500)
                    .setBody("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}");
        } else if (body.path("stream").asBoolean(false)) {
            response = stream(text, prompt);
        } else {
            String finish = prompt.contains("FILTER") ? "content_filter" : prompt.contains("TOOL") ? "tool_calls" : "stop";
            String message = prompt.contains("TOOL")
                    ? "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_" + n + "\",\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}}]}"
                    : "{\"role\":\"assistant\",\"content\":\"" + text + "\"}";
            response = new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                    {"id":"chatcmpl-up%d","object":"chat.completion","created":1700000000,"model":"up-model",
                     "choices":[{"index":0,"message":%s,"finish_reason":"%s"}],
                     "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}""".formatted(n, message, finish));
        }
        if (prompt.contains("SLOW")) {
            response.setHeadersDelay(700, TimeUnit.MILLISECONDS);
        }
        if (prompt.contains("DRIP")) { // a stream that takes about 1.5 s to tell
            response.throttleBody(100, 100, TimeUnit.MILLISECONDS);
        }
        return response;
    }

    private static MockResponse stream(String text, String prompt) {
        StringBuilder sse = new StringBuilder();
        String[] words = text.split(" ");
        for (int i = 0; i < words.length; i++) {
            String piece = (i == 0 ? "" : " ") + words[i];
            sse.append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,")
                    .append("\"model\":\"up-model\",\"choices\":[{\"index\":0,\"delta\":{")
                    .append(i == 0 ? "\"role\":\"assistant\"," : "")
                    .append("\"content\":\"").append(piece).append("\"},\"finish_reason\":null}]}\n\n");
        }
        if (prompt.contains("CUT")) {
            return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse.toString())
                    .setSocketPolicy(SocketPolicy.DISCONNECT_AT_END);
        }
        String finish = prompt.contains("FILTER") ? "content_filter" : "stop";
        sse.append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"up-model\",")
                .append("\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"").append(finish).append("\"}]}\n\n");
        sse.append("data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"up-model\",")
                .append("\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}\n\n");
        sse.append("data: [DONE]\n\n");
        return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse.toString());
    }

    @Override
    public void close() throws IOException {
        server.shutdown();
    }
}
