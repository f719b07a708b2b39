package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.caravan.auth.KeyAuthenticator;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the door accepts and what anonymous callers see: wrong-typed fields are the client's 400 (never a 500 after
 * every deployment tried), errors quote no body and only bounded client text, OPTIONS/HEAD/405 tell the truth, CORS
 * only when configured, operator views behind a role or on the management port, and an empty model list means none.
 */
class DoorHardeningTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String MASTER = "Bearer " + TestGateway.MASTER_KEY;
    static final String USER_KEY = "sk-door-user-" + System.nanoTime();
    static final String VIEWER_KEY = "sk-door-viewer-" + System.nanoTime();
    static final String NONE_KEY = "sk-door-none-" + System.nanoTime();
    static final String ORIGIN = "https://app.example.com";

    static MockWebServer upstream;
    static TestGateway gateway;
    static int managementPort;

    @BeforeAll
    static void start() throws Exception {
        upstream = new MockWebServer();
        upstream.setDispatcher(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest request) {
                if (request.getPath().endsWith("/embeddings")) {
                    return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                            {"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],
                             "model":"e","usage":{"prompt_tokens":1,"total_tokens":1}}""");
                }
                if (request.getBody().snapshot().utf8().contains("\"stream\":true")) {
                    return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody("""
                            data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"u","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}

                            data: [DONE]

                            """);
                }
                return new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"u",
                         "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
                         "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}""");
            }
        });
        upstream.start();
        managementPort = TestGateway.freePort();
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai, baseUrl: "%s" }
                  up2: { type: openai, baseUrl: "%s" }
                models:
                  - name: gpt
                    deployments: [ { provider: up, model: u }, { provider: up2, model: u } ]
                  - name: other
                    deployments: [ { provider: up, model: o } ]
                  - name: embed
                    deployments: [ { provider: up, model: e } ]
                teams:
                  ops: {}
                keys:
                  - { id: everything, sha256: "%s" }
                  - { id: watcher, sha256: "%s", role: viewer, team: ops }
                  - { id: nothing, sha256: "%s", models: [] }
                routing:
                  retries: 2
                """.formatted(upstream.url("/v1"), upstream.url("/v1"), sha(USER_KEY), sha(VIEWER_KEY), sha(NONE_KEY)),
                Map.of("caravan.managementPort", Integer.toString(managementPort),
                        "caravan.cors.allowedOrigins", ORIGIN + ", https://other.example.com"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.shutdown();
    }

    static String sha(String key) {
        return HexFormat.of().formatHex(KeyAuthenticator.sha256(key));
    }

    static HttpResponse<String> chat(String body) {
        return gateway.post("/v1/chat/completions", body, "Authorization", "Bearer " + USER_KEY,
                "Content-Type", "application/json");
    }

    static JsonNode error(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).path("error");
    }

    static String withField(String field) {
        return "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]," + field + "}";
    }

    // 1. client errors are 4xx at the door, never a 500 after every deployment was tried

    @Test
    void wrongTypedFieldsGet400NamingTheFieldAndNeverReachAnUpstream() throws Exception {
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("\"stream\":true,\"stream_options\":\"yes\"", "stream_options");
        cases.put("\"stream_options\":{\"include_usage\":\"yes\"}", "stream_options.include_usage");
        cases.put("\"max_tokens\":\"10\"", "max_tokens");
        cases.put("\"max_completion_tokens\":0", "max_completion_tokens");
        cases.put("\"n\":1.5", "n");
        cases.put("\"temperature\":\"hot\"", "temperature");
        cases.put("\"stop\":5", "stop");
        cases.put("\"tools\":\"search\"", "tools");
        cases.put("\"tools\":[{\"type\":\"function\"}]", "tools[0].function.name");
        cases.put("\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":\"x\"}}]", "tools[0].function.parameters");
        cases.put("\"tool_choice\":5", "tool_choice");
        cases.put("\"response_format\":\"json\"", "response_format");
        cases.put("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":[1]}}", "response_format.json_schema.schema");
        cases.put("\"metadata\":\"x\"", "metadata");
        cases.put("\"parallel_tool_calls\":\"no\"", "parallel_tool_calls");
        cases.put("\"caravan\":\"no-cache\"", "caravan");
        int before = upstream.getRequestCount();
        for (var c : cases.entrySet()) {
            HttpResponse<String> r = chat(withField(c.getKey()));
            assertThat(r.statusCode()).as(c.getKey()).isEqualTo(400);
            assertThat(error(r).path("type").asText()).as(c.getKey()).isEqualTo("invalid_request_error");
            assertThat(error(r).path("param").asText()).as(c.getKey()).isEqualTo(c.getValue());
        }
        HttpResponse<String> content = chat("{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":5}]}");
        assertThat(content.statusCode()).isEqualTo(400);
        assertThat(error(content).path("param").asText()).isEqualTo("messages[0].content");
        assertThat(error(content).path("message").asText()).isEqualTo(
                "Invalid type for 'messages[0].content': expected a string, an array of content parts or null, but got an integer instead.");
        assertThat(upstream.getRequestCount()).isEqualTo(before);
        // and the well-typed request goes through
        assertThat(chat(withField("\"stream_options\":null,\"max_tokens\":5,\"temperature\":0.2")).statusCode()).isEqualTo(200);
    }

    @Test
    void wrongTypedEmbeddingsInputGets400() throws Exception {
        for (String body : List.of("{\"model\":\"embed\",\"input\":[\"a\",1]}", "{\"model\":\"embed\",\"input\":[[1,\"x\"]]}",
                "{\"model\":\"embed\",\"input\":{\"text\":\"a\"}}")) {
            HttpResponse<String> r = gateway.post("/v1/embeddings", body, "Authorization", "Bearer " + USER_KEY);
            assertThat(r.statusCode()).as(body).isEqualTo(400);
            assertThat(error(r).path("param").asText()).isEqualTo("input");
        }
        HttpResponse<String> dims = gateway.post("/v1/embeddings", "{\"model\":\"embed\",\"input\":\"a\",\"dimensions\":\"8\"}",
                "Authorization", "Bearer " + USER_KEY);
        assertThat(dims.statusCode()).isEqualTo(400);
        assertThat(error(dims).path("param").asText()).isEqualTo("dimensions");
        assertThat(gateway.post("/v1/embeddings", "{\"model\":\"embed\",\"input\":[[1,2],[3]]}",
                "Authorization", "Bearer " + USER_KEY).statusCode()).isEqualTo(200);
    }

    @Test
    void wrongTypedAnthropicFieldsGet400InAnthropicShape() throws Exception {
        String base = "\"model\":\"gpt\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
        Map<String, String> cases = Map.of(
                "{" + base + ",\"system\":5}", "system",
                "{" + base + ",\"tools\":\"x\"}", "tools",
                "{" + base + ",\"tool_choice\":\"auto\"}", "tool_choice",
                "{" + base + ",\"temperature\":\"warm\"}", "temperature",
                "{" + base + ",\"stop_sequences\":\"END\"}", "stop_sequences",
                "{" + base + ",\"metadata\":{\"user_id\":7}}", "metadata.user_id",
                "{\"model\":\"gpt\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":[5]}]}", "messages.0.content.0",
                "{\"model\":\"gpt\",\"max_tokens\":\"16\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "max_tokens");
        int before = upstream.getRequestCount();
        for (var c : cases.entrySet()) {
            HttpResponse<String> r = gateway.post("/v1/messages", c.getKey(), "x-api-key", USER_KEY,
                    "anthropic-version", "2023-06-01");
            assertThat(r.statusCode()).as(c.getKey()).isEqualTo(400);
            JsonNode body = JSON.readTree(r.body());
            assertThat(body.path("type").asText()).isEqualTo("error");
            assertThat(body.path("error").path("type").asText()).isEqualTo("invalid_request_error");
            assertThat(body.path("error").path("message").asText()).as(c.getKey()).startsWith(c.getValue());
        }
        assertThat(upstream.getRequestCount()).isEqualTo(before);
    }

    // 2. nothing from the body is echoed back

    @Test
    void invalidJsonReportsWhereNotWhat() throws Exception {
        HttpResponse<String> r = chat("{\"model\": My_Password_Is_Hunter2}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(error(r).path("message").asText()).matches("The request body is not valid JSON \\(line 1, column \\d+\\)\\.");
        assertThat(r.body()).doesNotContain("Hunter2", "My_Password");
    }

    @Test
    void clientStringsInErrorsAreCutShortAndStrippedOfControlCharacters() throws Exception {
        String model = "evil\\u001b[31m\\nmodel-" + "x".repeat(500);
        HttpResponse<String> r = chat("{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(r.statusCode()).isEqualTo(404);
        String message = error(r).path("message").asText();
        assertThat(message).contains("evil[31mmodel-xxx", "...").doesNotContain("\u001b", "\n", "x".repeat(100));
        assertThat(message.length()).isLessThan(200);
        HttpResponse<String> path = gateway.get("/v1/" + "p".repeat(1000), "Authorization", "Bearer " + USER_KEY);
        assertThat(path.statusCode()).isEqualTo(404);
        assertThat(error(path).path("message").asText()).doesNotContain("p".repeat(100)).contains("...");
        HttpResponse<String> type = gateway.post("/v1/chat/completions", "not json", "Authorization", "Bearer " + USER_KEY,
                "Content-Type", "text/" + "t".repeat(500));
        assertThat(type.statusCode()).isEqualTo(415);
        assertThat(type.body()).doesNotContain("t".repeat(100));
    }

    // 3. HTTP hygiene

    @Test
    void optionsAnswersTheMethodsEachPathHas() {
        assertThat(options("/v1/chat/completions").statusCode()).isEqualTo(204);
        assertThat(options("/v1/chat/completions").headers().firstValue("allow")).hasValue("POST, OPTIONS");
        assertThat(options("/v1/messages").headers().firstValue("allow")).hasValue("POST, OPTIONS");
        assertThat(options("/v1/models").headers().firstValue("allow")).hasValue("GET, HEAD, OPTIONS");
        assertThat(options("/v1/models/gpt").headers().firstValue("allow")).hasValue("GET, HEAD, OPTIONS");
        assertThat(options("/health/live").headers().firstValue("allow")).hasValue("GET, HEAD, OPTIONS");
        assertThat(options("/v1/nothing").statusCode()).isEqualTo(404);
        // without an Origin header no CORS header, even with CORS on
        assertThat(options("/v1/chat/completions").headers().map().keySet()).noneMatch(h -> h.startsWith("access-control-"));
    }

    @Test
    void healthAnswersGetAndHeadOnlyAndUnknownMethodsGet405WithAllow() throws Exception {
        HttpResponse<String> post = gateway.post("/health/live", "{}");
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("allow")).hasValue("GET, HEAD, OPTIONS");
        HttpResponse<String> delete = gateway.send(gateway.request("/health/ready").DELETE().build());
        assertThat(delete.statusCode()).isEqualTo(405);
        // on a raw socket: the head of the GET answer, and no body bytes after it
        String head = raw(gateway.port(), "HEAD /health/live HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", "");
        assertThat(head).startsWith("HTTP/1.1 200").endsWith("\r\n\r\n").containsIgnoringCase("content-type: application/json");
        String models = raw(gateway.port(), "HEAD /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + USER_KEY
                + "\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", "");
        assertThat(models).startsWith("HTTP/1.1 200").endsWith("\r\n\r\n");
        // a HEAD that fails: its error body is followed by the connection's close, never by another answer
        String refused = raw(gateway.port(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", "");
        assertThat(refused).startsWith("HTTP/1.1 401").containsIgnoringCase("connection: close");
        HttpResponse<String> put = gateway.send(gateway.request("/v1/embeddings", "Authorization", "Bearer " + USER_KEY)
                .PUT(HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(put.statusCode()).isEqualTo(405);
        assertThat(put.headers().firstValue("allow")).hasValue("POST, OPTIONS");
        HttpResponse<String> patch = gateway.send(gateway.request("/v1/models", "Authorization", "Bearer " + USER_KEY)
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(patch.statusCode()).isEqualTo(405);
        assertThat(patch.headers().firstValue("allow")).hasValue("GET, HEAD, OPTIONS");
        // a method no endpoint has is refused by the listener itself, still in OpenAI's error shape
        String odd = raw(gateway.port(), "BREW /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", "");
        assertThat(odd).startsWith("HTTP/1.1 405").contains("\"code\":\"method_not_allowed\"");
    }

    @Test
    void corsPreflightFromAnAllowedOriginIsAnswered() {
        HttpResponse<String> r = gateway.send(gateway.request("/v1/chat/completions", "Origin", ORIGIN,
                        "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type, x-stainless-os")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
        assertThat(r.statusCode()).isEqualTo(204);
        assertThat(r.headers().firstValue("access-control-allow-origin")).hasValue(ORIGIN);
        assertThat(r.headers().firstValue("access-control-allow-methods")).hasValue("POST, OPTIONS");
        assertThat(r.headers().firstValue("access-control-allow-headers")).hasValue("authorization, content-type, x-stainless-os");
        assertThat(r.headers().firstValue("access-control-max-age")).hasValue("600");
        assertThat(r.headers().firstValue("vary")).hasValue("Origin");

        HttpResponse<String> stranger = gateway.send(gateway.request("/v1/chat/completions", "Origin", "https://evil.example.net",
                "Access-Control-Request-Method", "POST").method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
        assertThat(stranger.headers().map().keySet()).noneMatch(h -> h.startsWith("access-control-"));
    }

    @Test
    void corsHeadersOnAnswersToAllowedOriginsOnly() throws Exception {
        HttpResponse<String> ok = gateway.post("/v1/chat/completions", withField("\"max_tokens\":5"),
                "Authorization", "Bearer " + USER_KEY, "Origin", ORIGIN);
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().firstValue("access-control-allow-origin")).hasValue(ORIGIN);
        assertThat(ok.headers().firstValue("vary")).hasValue("Origin");
        assertThat(ok.headers().firstValue("access-control-expose-headers")).hasValueSatisfying(v -> assertThat(v).contains(
                "x-caravan-request-id", "x-caravan-cost-usd", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"));
        assertThat(ok.headers().firstValue("x-caravan-cost-usd")).isPresent(); // a browser may read what it cost
        HttpResponse<String> stream = gateway.post("/v1/chat/completions", withField("\"stream\":true"),
                "Authorization", "Bearer " + USER_KEY, "Origin", ORIGIN);
        assertThat(stream.body()).contains("data: [DONE]");
        assertThat(stream.headers().firstValue("access-control-allow-origin")).hasValue(ORIGIN);
        HttpResponse<String> refused = gateway.post("/v1/chat/completions", withField("\"max_tokens\":5"), "Origin", ORIGIN);
        assertThat(refused.statusCode()).isEqualTo(401);
        assertThat(refused.headers().firstValue("access-control-allow-origin")).hasValue(ORIGIN);
        HttpResponse<String> stranger = gateway.post("/v1/chat/completions", withField("\"max_tokens\":5"),
                "Authorization", "Bearer " + USER_KEY, "Origin", "https://evil.example.net");
        assertThat(stranger.statusCode()).isEqualTo(200);
        assertThat(stranger.headers().map().keySet()).noneMatch(h -> h.startsWith("access-control-"));
    }

    // 4. less for anonymous eyes

    @Test
    void operatorViewsNeedAnAdminOrViewerKeyOnTheApiPort() throws Exception {
        chat(withField("\"max_tokens\":5"));
        for (String path : List.of("/health/deployments", "/metrics")) {
            HttpResponse<String> anonymous = gateway.get(path);
            assertThat(anonymous.statusCode()).as(path).isEqualTo(401);
            assertThat(anonymous.body()).doesNotContain("everything", "\"u\"", "up-u");
            assertThat(error(anonymous).path("code").asText()).isEqualTo("invalid_api_key");
            HttpResponse<String> user = gateway.get(path, "Authorization", "Bearer " + USER_KEY);
            assertThat(user.statusCode()).as(path).isEqualTo(403);
            assertThat(error(user).path("type").asText()).isEqualTo("permission_error");
            assertThat(gateway.get(path, "Authorization", "Bearer " + VIEWER_KEY).statusCode()).as(path).isEqualTo(200);
            assertThat(gateway.get(path, "Authorization", MASTER).statusCode()).as(path).isEqualTo(200);
        }
        // keys are no labels unless metrics.keyLabels says so: the viewer reads the request meters without them
        assertThat(gateway.get("/metrics", "Authorization", "Bearer " + VIEWER_KEY).body()).contains("caravan_requests_total{")
                .doesNotContain("key=\"everything\"");
        assertThat(gateway.get("/health/live").statusCode()).isEqualTo(200);
        assertThat(gateway.get("/health/ready").statusCode()).isEqualTo(200);
    }

    @Test
    void theManagementPortServesHealthAndMetricsWithoutAKeyAndNothingElse() throws Exception {
        for (String path : List.of("/health/live", "/health/ready", "/health/deployments", "/metrics")) {
            assertThat(management(path).statusCode()).as(path).isEqualTo(200);
        }
        assertThat(management("/health/deployments").body()).contains("\"id\":\"up-u\"");
        assertThat(management("/v1/models").statusCode()).isEqualTo(404);
        HttpResponse<String> post = gateway.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort
                + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers.ofString(withField("\"n\":1"))).build());
        assertThat(post.statusCode()).isEqualTo(404);
    }

    // 5. fail closed on access

    @Test
    void anEmptyModelListMeansNoModelAndAnAbsentOneMeansEvery() throws Exception {
        HttpResponse<String> none = gateway.post("/v1/chat/completions", withField("\"n\":1"), "Authorization", "Bearer " + NONE_KEY);
        assertThat(none.statusCode()).isEqualTo(403);
        assertThat(error(none).path("code").asText()).isEqualTo("model_not_allowed");
        HttpResponse<String> list = gateway.get("/v1/models", "Authorization", "Bearer " + NONE_KEY);
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(list.body()).path("data")).isEmpty();
        assertThat(gateway.get("/v1/models/gpt", "Authorization", "Bearer " + NONE_KEY).statusCode()).isEqualTo(404);
        JsonNode all = JSON.readTree(gateway.get("/v1/models", "Authorization", "Bearer " + USER_KEY).body()).path("data");
        assertThat(all).extracting(m -> m.path("id").asText()).containsExactlyInAnyOrder("gpt", "other", "embed");
        assertThat(chat(withField("\"n\":1")).statusCode()).isEqualTo(200);
    }

    static HttpResponse<String> options(String path) {
        return gateway.send(gateway.request(path).method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
    }

    static HttpResponse<String> management(String path) {
        return gateway.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + managementPort + path))
                .timeout(Duration.ofSeconds(5)).GET().build());
    }

    /** One request on a raw socket, the whole answer (the request says Connection: close). */
    static String raw(int port, String template, String body) throws Exception {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(template.formatted(bytes.length, body).getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
