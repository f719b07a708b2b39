package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okhttp3.mockwebserver.SocketPolicy;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Caravan in front of OpenAI-compatible servers that speak the real wire format, errors and streams included. */
class OpenAiUpstreamTest {

    static final String PROVIDER_KEY = "sk-provider-secret-0123456789abcdef";
    static final ObjectMapper JSON = new ObjectMapper();
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer upstream;
    static MockWebServer stalling; // its own server: a throttled body keeps writing long after the test
    static ScriptedSseUpstream scripted;
    static StaleConnectionUpstream stale;
    static Path keyFile;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        upstream = upstreams.server();
        stalling = upstreams.server();
        scripted = upstreams.own(new ScriptedSseUpstream());
        stale = upstreams.own(new StaleConnectionUpstream());
        keyFile = upstreams.keyFile("provider", PROVIDER_KEY + "\n");
        int closedPort = TestGateway.freePort();
        gateway = upstreams.gateway("""
                providers:
                  upstream: { type: openai, baseUrl: "%s", apiKey: "${file:%s}" }
                  scripted: { type: openai, baseUrl: "%s" }
                  stale: { type: openai, baseUrl: "%s" }
                  dead: { type: openai, baseUrl: "http://127.0.0.1:%d/v1" }
                  stalling: { type: openai, baseUrl: "%s" }
                models:
                  - name: gpt-stall
                    timeout: 500ms
                    deployments: [ { provider: stalling, model: s } ]
                  - name: gpt-test
                    timeout: 500ms
                    deployments: [ { provider: upstream, model: gpt-upstream } ]
                  - name: rate-limited            # its own deployment: a 429 cools it down, not gpt-test
                    deployments: [ { id: limited, provider: upstream, model: gpt-upstream } ]
                  - name: scripted
                    streamIdleTimeout: 700ms
                    deployments: [ { provider: scripted, model: scripted } ]
                  - name: stale
                    deployments: [ { provider: stale, model: stale } ]
                  - name: dead
                    deployments: [ { provider: dead, model: dead } ]
                routing:
                  retries: 0                      # this class is about one attempt's mapping; failover has its own tests
                  breaker: { minimumCalls: 1000, window: 1000 }
                """.formatted(upstream.url("/v1"), keyFile, scripted.baseUrl(), stale.baseUrl(), closedPort, stalling.url("/v1")),
                java.util.Map.of("caravan.sseKeepAlive", "250ms"));
    }

    static MockResponse completion(String content) {
        return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-upstream-2024",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14}}""".formatted(content));
    }

    static MockResponse sse(String... events) {
        StringBuilder body = new StringBuilder();
        for (String e : events) {
            body.append("data: ").append(e).append("\n\n");
        }
        return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(body.toString());
    }

    static String chunk(String content, String finish) {
        return "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-upstream\",\"choices\":[{\"index\":0,"
                + "\"delta\":{" + (content == null ? "" : "\"content\":\"" + content + "\"") + "},\"finish_reason\":"
                + (finish == null ? "null" : "\"" + finish + "\"") + "}],\"usage\":null}";
    }

    static String usageChunk() {
        return "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-upstream\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}";
    }

    static String userMessage(String model, String content) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + content + "\"}]}";
    }

    @Test
    void fieldsTheGatewayDoesNotModelReachTheUpstreamUntouched() throws Exception {
        upstream.enqueue(completion("hi"));
        String body = """
                {"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"low","seed":42,
                 "metadata":{"team":"search"},"x_vendor_extension":{"a":[1,2,3]},"temperature":0.2,
                 "caravan":{"cache":"no-store"}}""";
        HttpResponse<String> r = gateway.post("/v1/chat/completions", body, "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(200);

        JsonNode sent = JSON.readTree(upstream.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
        JsonNode original = JSON.readTree(body);
        assertThat(sent.get("model").asText()).isEqualTo("gpt-upstream");
        assertThat(sent.has("caravan")).as("caravan's own controls are removed").isFalse();
        for (String field : List.of("messages", "reasoning_effort", "seed", "metadata", "x_vendor_extension", "temperature")) {
            assertThat(sent.get(field)).as(field).isEqualTo(original.get(field));
        }
        assertThat(JSON.readTree(r.body()).get("model").asText()).isEqualTo("gpt-upstream-2024");
    }

    @Test
    void clientHeadersNeverReachTheUpstreamAndUpstreamHeadersNeverReachTheClient() throws Exception {
        upstream.enqueue(completion("hi")
                .setHeader("x-request-id", "upstream-req-1")
                .setHeader("x-ratelimit-remaining-requests", "99")
                .setHeader("set-cookie", "session=upstream-session")
                .setHeader("openai-organization", "org-upstream-secret")
                .setHeader("x-internal-debug", "upstream-internal"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"),
                "Authorization", AUTH, "x-api-key", "client-x-api-key", "Cookie", "client-cookie=1",
                "X-Custom-Secret", "client-custom", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "User-Agent", "my-app/1.0");
        assertThat(r.statusCode()).isEqualTo(200);

        RecordedRequest sent = upstream.takeRequest(1, TimeUnit.SECONDS);
        assertThat(sent.getHeader("Authorization")).isEqualTo("Bearer " + PROVIDER_KEY);
        assertThat(sent.getHeader("traceparent")).isEqualTo("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        assertThat(sent.getHeader("User-Agent")).startsWith("caravan/").endsWith("my-app/1.0");
        String upstreamSaw = sent.getHeaders().toString() + sent.getBody().readUtf8();
        assertThat(upstreamSaw).doesNotContain(TestGateway.MASTER_KEY, "client-x-api-key", "client-cookie", "client-custom");

        assertThat(r.headers().firstValue("x-request-id")).hasValue("upstream-req-1");
        assertThat(r.headers().firstValue("x-ratelimit-remaining-requests")).hasValue("99");
        assertThat(r.headers().map().keySet()).noneMatch(h -> h.equalsIgnoreCase("set-cookie")
                || h.equalsIgnoreCase("openai-organization") || h.equalsIgnoreCase("x-internal-debug")
                || h.equalsIgnoreCase("authorization") || h.equalsIgnoreCase("x-api-key") || h.equalsIgnoreCase("cookie")
                || h.equalsIgnoreCase("x-custom-secret"));
        String clientSaw = r.headers().map().toString() + r.body();
        assertThat(clientSaw).doesNotContain(PROVIDER_KEY, TestGateway.MASTER_KEY, "client-cookie", "upstream-session");
    }

    @Test
    void streamIsRelayedWithUsageCountedButHiddenWhenNotAsked() throws Exception {
        double before = gateway.metric("caravan_tokens_total{deployment=\"upstream-gpt-upstream\",direction=\"output\",key=\"\",model=\"gpt-test\",team=\"none\"}");
        upstream.enqueue(sse(chunk("Hel", null), chunk("lo", null), chunk(null, "stop"), usageChunk(), "[DONE]"));
        StringBuilder text = new StringBuilder();
        int[] usageChunks = {0};
        try (StreamResponse<ChatCompletionChunk> stream = gateway.openai(TestGateway.MASTER_KEY).chat().completions()
                .createStreaming(ChatCompletionCreateParams.builder().model("gpt-test").addUserMessage("hi").build())) {
            stream.stream().forEach(c -> {
                c.choices().forEach(ch -> ch.delta().content().ifPresent(text::append));
                if (c.usage().isPresent()) {
                    usageChunks[0]++;
                }
            });
        }
        assertThat(text.toString()).isEqualTo("Hello");
        assertThat(usageChunks[0]).isZero();
        JsonNode sent = JSON.readTree(upstream.takeRequest(1, TimeUnit.SECONDS).getBody().readUtf8());
        assertThat(sent.get("stream").asBoolean()).isTrue();
        assertThat(sent.at("/stream_options/include_usage").asBoolean()).as("usage asked of the upstream").isTrue();
        // post-processing runs when the stream ends: the two completion tokens are counted
        long deadline = System.currentTimeMillis() + 2000;
        double after;
        do {
            after = gateway.metric("caravan_tokens_total{deployment=\"upstream-gpt-upstream\",direction=\"output\",key=\"\",model=\"gpt-test\",team=\"none\"}");
        } while (after < before + 2 && System.currentTimeMillis() < deadline);
        assertThat(after - before).isEqualTo(2.0);
    }

    @Test
    void upstreamRateLimitPassesThroughWithRetryAfter() {
        upstream.enqueue(new MockResponse().setResponseCode(429).setHeader("Retry-After", "7")
                .setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"message\":\"Rate limit reached for requests\",\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("rate-limited", "hi"), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("retry-after")).hasValue("7");
        assertThat(r.body()).contains("\"code\":\"rate_limit_exceeded\"", "Rate limit reached");
    }

    @Test
    void upstreamAuthFailureIsTheGatewaysFaultAndTheKeyIsRedacted() {
        upstream.enqueue(new MockResponse().setResponseCode(401).setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"message\":\"Incorrect API key provided: " + PROVIDER_KEY
                        + ". You can find your API key at https://platform.openai.com/account/api-keys.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.body()).contains("\"code\":\"upstream_auth_failed\"", "[redacted]").doesNotContain(PROVIDER_KEY, "sk-provider");
    }

    @Test
    void requestCausedUpstreamErrorKeepsItsStatusAndCode() {
        upstream.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"message\":\"This model's maximum context length is 128000 tokens.\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"code\":\"context_length_exceeded\"", "\"param\":\"messages\"", "maximum context length");
    }

    @Test
    void upstreamServerErrorsBecome502Or503() {
        upstream.enqueue(new MockResponse().setResponseCode(500).setBody("{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}"));
        upstream.enqueue(new MockResponse().setResponseCode(503).setBody("overloaded"));
        HttpResponse<String> first = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"), "Authorization", AUTH);
        assertThat(first.statusCode()).isEqualTo(502);
        assertThat(first.body()).contains("\"code\":\"upstream_error\"", "boom");
        HttpResponse<String> second = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"), "Authorization", AUTH);
        assertThat(second.statusCode()).isEqualTo(503);
        assertThat(second.body()).contains("\"code\":\"upstream_unavailable\"");
    }

    @Test
    void upstreamGarbageGets502() {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/html").setBody("<html>502 bad gateway</html>"));
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.body()).contains("\"code\":\"upstream_bad_response\"");

        upstream.enqueue(completion("not a stream")); // JSON where an event stream was asked for
        HttpResponse<String> s = gateway.post("/v1/chat/completions",
                userMessage("gpt-test", "hi").replace("{\"model\"", "{\"stream\":true,\"model\""), "Authorization", AUTH);
        assertThat(s.statusCode()).isEqualTo(502);
        assertThat(s.body()).contains("\"code\":\"upstream_bad_response\"");
    }

    @Test
    void upstreamSlowerThanTheTimeoutGets504Promptly() {
        upstream.enqueue(completion("late").setHeadersDelay(3, TimeUnit.SECONDS));
        long start = System.nanoTime();
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("gpt-test", "hi"), "Authorization", AUTH);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(r.body()).contains("\"code\":\"upstream_timeout\"");
        assertThat(millis).isLessThan(2_500);
    }

    @Test
    void upstreamThatStallsAfterItsHeadersGets504Promptly() {
        stalling.enqueue(completion("slow body").throttleBody(8, 1, TimeUnit.SECONDS)); // 8 bytes a second
        long start = System.nanoTime();
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("gpt-stall", "hi"), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(r.body()).contains("\"code\":\"upstream_timeout\"");
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(3_000);
    }

    @Test
    void streamWithNothingButDoneEndsCleanly() {
        upstream.enqueue(sse("[DONE]"));
        long start = System.nanoTime();
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                userMessage("gpt-test", "hi").replace("{\"model\"", "{\"stream\":true,\"model\""), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("data: [DONE]\n\n");
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(2_000);
    }

    @Test
    void unreachableUpstreamGets502() {
        HttpResponse<String> r = gateway.post("/v1/chat/completions", userMessage("dead", "hi"), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(r.body()).contains("\"code\":\"upstream_unreachable\"");
    }

    @Test
    void streamThatDiesMidwayEndsWithAnErrorEventNotAHang() {
        upstream.enqueue(sse(chunk("one", null), chunk("two", null), chunk("three", null))
                .setSocketPolicy(SocketPolicy.DISCONNECT_AT_END));
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                userMessage("gpt-test", "hi").replace("{\"model\"", "{\"stream\":true,\"model\""), "Authorization", AUTH);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"content\":\"one\"", "\"content\":\"two\"", "\"content\":\"three\"");
        assertThat(r.body()).contains("data: {\"error\":").contains("\"code\":\"upstream_stream_broken\"");
        assertThat(r.body()).doesNotContain("[DONE]");
    }

    @Test
    void silentUpstreamStreamIsEndedAtTheIdleTimeoutWithKeepAlivesBefore() {
        // two chunks, then 3 s of silence; idle timeout 700 ms, keep-alive every 250 ms
        HttpResponse<String> r = gateway.post("/v1/chat/completions",
                userMessage("scripted", "stall 2 3000").replace("{\"model\"", "{\"stream\":true,\"model\""), "Authorization", AUTH);
        assertThat(r.body()).contains("\"content\":\"w0 \"", "\"content\":\"w1 \"", ": keep-alive");
        assertThat(r.body()).contains("\"code\":\"upstream_timeout\"");
    }

    @Test
    void clientDisconnectCancelsTheUpstreamCall() throws Exception {
        HttpClient client = HttpClient.newHttpClient();
        var request = gateway.request("/v1/chat/completions", "Authorization", AUTH)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        userMessage("scripted", "pace 100 100").replace("{\"model\"", "{\"stream\":true,\"model\"")))
                .build();
        HttpResponse<InputStream> r = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            byte[] first = in.readNBytes(200); // a chunk or two
            assertThat(new String(first, StandardCharsets.UTF_8)).startsWith("data: ");
        } // closing the body hangs up on the gateway
        assertThat(scripted.sawDisconnect.await(5, TimeUnit.SECONDS))
                .as("the upstream saw its connection closed").isTrue();
        assertThat(scripted.chunksWritten.get()).isLessThan(60);
        long deadline = System.currentTimeMillis() + 3000;
        while (gateway.caravan().streams().openStreams() > 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertThat(gateway.caravan().streams().openStreams()).isZero();
    }

    @Test
    void requestOnAPooledConnectionTheUpstreamClosedIsRetriedInvisibly() {
        HttpResponse<String> first = gateway.post("/v1/chat/completions", userMessage("stale", "one"), "Authorization", AUTH);
        HttpResponse<String> second = gateway.post("/v1/chat/completions", userMessage("stale", "two"), "Authorization", AUTH);
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(second.statusCode()).as(second.body()).isEqualTo(200);
        assertThat(stale.connections.get()).as("the retry used a fresh connection").isEqualTo(2);
        assertThat(stale.requests.get()).isEqualTo(3);
    }
}
