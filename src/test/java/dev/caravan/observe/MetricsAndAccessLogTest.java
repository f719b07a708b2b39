package dev.caravan.observe;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Metrics an operator can alert on (latency histograms, JVM and process metrics, an endpoint label, refusals at the
 * door counted) and an access log that tells what happened (the client, its user agent, attempts, the model asked
 * for and the one that answered, every refusal at the door), and a request id on every kind of answer.
 */
class MetricsAndAccessLogTest {

    static final String CONFIG = """
            providers:
              mock: { type: mock }
              down: { type: mock, failureRate: 1.0, failureStatus: 503 }
            routing:
              retries: 0
              backoff: { initial: 10ms, max: 20ms }
              breaker: { minimumCalls: 1000, window: 1000 }
            models:
              - name: mock-gpt
                deployments: [ { provider: mock, model: mock-gpt } ]
              - name: primary
                fallbacks: [backup]
                deployments: [ { id: primary-down, provider: down, model: p } ]
              - name: backup
                deployments: [ { id: backup-ok, provider: mock, model: b } ]
            keys:
              - id: demo
                sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4
                models: [mock-gpt]
            """;
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final ListAppender<ILoggingEvent> ACCESS = new ListAppender<>();
    /** Behind a proxy on 127.0.0.1, with a small body limit and a smaller budget of bodies in flight. */
    static TestGateway proxied;
    /** Reached directly: X-Forwarded-For is the client's own word. */
    static TestGateway direct;

    @BeforeAll
    static void start() throws Exception {
        ACCESS.start();
        ((Logger) LoggerFactory.getLogger("caravan.access")).addAppender(ACCESS);
        proxied = TestGateway.start(CONFIG, Map.of("caravan.trustedProxies", "10.0.0.0/8, 127.0.0.1",
                "caravan.maxBodyBytes", "4096", "caravan.maxBodyBytesInFlight", "2048"));
        direct = TestGateway.start(CONFIG);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            proxied.close();
            direct.close();
        } finally {
            ((Logger) LoggerFactory.getLogger("caravan.access")).detachAppender(ACCESS);
        }
    }

    static HttpResponse<String> chat(TestGateway gateway, String key, String model, String... headers) {
        String[] all = new String[headers.length + 4];
        all[0] = "Authorization";
        all[1] = "Bearer " + key;
        all[2] = "Content-Type";
        all[3] = "application/json";
        System.arraycopy(headers, 0, all, 4, headers.length);
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", all);
    }

    @Test
    void latencyIsAHistogramWithAnEndpointLabelBesideJvmAndProcessMetrics() throws Exception {
        assertThat(chat(direct, TestGateway.MASTER_KEY, "mock-gpt").statusCode()).isEqualTo(200);
        assertThat(direct.get("/health/live").statusCode()).isEqualTo(200);
        System.gc(); // a pause for jvm_gc_pause_seconds to time
        TestGateway.eventually(() -> direct.metrics().contains("jvm_gc_pause_seconds"), "a GC pause in the metrics");
        String metrics = direct.metrics();
        Pattern bucket = Pattern.compile("(?m)^caravan_request_duration_seconds_bucket\\{([^}]*)\\} ");
        Matcher m = bucket.matcher(metrics);
        List<String> chatBuckets = m.results().map(r -> r.group(1))
                .filter(l -> l.contains("endpoint=\"chat\"") && l.contains("model=\"mock-gpt\"")).toList();
        assertThat(chatBuckets).anyMatch(l -> l.contains("le=\"0.001\"")).anyMatch(l -> l.contains("le=\"60.0\""))
                .anyMatch(l -> l.contains("le=\"+Inf\"")).allMatch(l -> l.contains("status_class=\"2xx\""));
        assertThat(chatBuckets.size()).as("buckets per label set stay modest").isLessThanOrEqualTo(20);
        assertThat(metrics).contains("jvm_memory_used_bytes{", "process_cpu_usage", "jvm_threads_live_threads",
                "jvm_classes_loaded_classes", "process_uptime_seconds", "caravan_overhead_seconds_bucket{",
                "caravan_requests_total{deployment=\"mock-mock-gpt\",endpoint=\"chat\",",
                "endpoint=\"health\"");
    }

    @Test
    void aTooLargeBodyIsCountedAsADoorRefusalAndLogged() throws Exception {
        double before = proxied.metric("caravan_door_refusals_total{reason=\"too_large\"}");
        HttpResponse<String> r = proxied.post("/v1/chat/completions", "{\"model\":\"mock-gpt\",\"x\":\"" + "a".repeat(8000) + "\"}",
                "Authorization", AUTH, "Content-Type", "application/json");
        assertThat(r.statusCode()).isEqualTo(413);
        JsonNode line = accessLine(requestId(r));
        assertThat(line.path("status").asInt()).isEqualTo(413);
        assertThat(line.path("error_code").asText()).isEqualTo("request_too_large");
        assertThat(line.path("refused_by").asText()).isEqualTo("door");
        assertThat(line.path("endpoint").asText()).isEqualTo("chat");
        assertThat(proxied.metric("caravan_door_refusals_total{reason=\"too_large\"}")).isEqualTo(before + 1);
    }

    @Test
    void aBodyThatDoesNotFitTheBudgetIsAnOverloadedDoorRefusal() throws Exception {
        double before = proxied.metric("caravan_door_refusals_total{reason=\"overloaded\"}");
        HttpResponse<String> r = proxied.post("/v1/chat/completions", "{\"model\":\"mock-gpt\",\"x\":\"" + "a".repeat(3000) + "\"}",
                "Authorization", AUTH, "Content-Type", "application/json");
        assertThat(r.statusCode()).isEqualTo(503);
        JsonNode line = accessLine(requestId(r));
        assertThat(line.path("error_code").asText()).isEqualTo("overloaded");
        assertThat(line.path("refused_by").asText()).isEqualTo("door");
        assertThat(proxied.metric("caravan_door_refusals_total{reason=\"overloaded\"}")).isEqualTo(before + 1);
    }

    @Test
    void theAccessLineNamesTheClientItsAgentTheAttemptsAndTheModelThatAnswered() throws Exception {
        String agent = "caravan-test/1.0 " + "x".repeat(400);
        HttpResponse<String> r = chat(direct, TestGateway.MASTER_KEY, "primary", "User-Agent", agent);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-caravan-fallback")).hasValue("backup");
        JsonNode line = accessLine(requestId(r));
        assertThat(line.path("client").asText()).isEqualTo("127.0.0.1");
        assertThat(line.path("user_agent").asText()).hasSize(256).startsWith("caravan-test/1.0 x");
        assertThat(line.path("requested_model").asText()).isEqualTo("primary");
        assertThat(line.path("model").asText()).isEqualTo("backup");
        assertThat(line.path("fallback").asBoolean()).isTrue();
        assertThat(line.path("deployment").asText()).isEqualTo("backup-ok");
        assertThat(line.path("attempts").asInt()).isEqualTo(2);

        JsonNode plain = accessLine(requestId(chat(direct, TestGateway.MASTER_KEY, "mock-gpt")));
        assertThat(plain.path("model").asText()).isEqualTo("mock-gpt");
        assertThat(plain.has("fallback")).isFalse();
        assertThat(plain.path("attempts").asInt()).isEqualTo(1);
        assertThat(plain.path("ingress").asText()).isEqualTo("http");
        assertThat(line.path("ingress").asText()).isEqualTo("http");
    }

    @Test
    void forwardedForNamesTheClientOnlyBehindATrustedProxy() throws Exception {
        // a trusted proxy appended the address it saw; the client's own left-most claim is not believed
        HttpResponse<String> viaProxies = chat(proxied, TestGateway.MASTER_KEY, "mock-gpt",
                "X-Forwarded-For", "198.51.100.7, 203.0.113.9, 10.1.2.3");
        assertThat(accessLine(requestId(viaProxies)).path("client").asText()).isEqualTo("203.0.113.9");
        HttpResponse<String> withPort = chat(proxied, TestGateway.MASTER_KEY, "mock-gpt", "X-Forwarded-For", "203.0.113.10:5555");
        assertThat(accessLine(requestId(withPort)).path("client").asText()).isEqualTo("203.0.113.10");
        HttpResponse<String> garbage = chat(proxied, TestGateway.MASTER_KEY, "mock-gpt", "X-Forwarded-For", "not-an-address");
        assertThat(accessLine(requestId(garbage)).path("client").asText()).isEqualTo("127.0.0.1");

        HttpResponse<String> spoofed = chat(direct, TestGateway.MASTER_KEY, "mock-gpt", "X-Forwarded-For", "203.0.113.9");
        assertThat(accessLine(requestId(spoofed)).path("client").asText()).isEqualTo("127.0.0.1");
    }

    @Test
    void aForbiddenModelsLineNamesTheModelAskedFor() throws Exception {
        HttpResponse<String> r = chat(direct, TestGateway.DEMO_KEY, "primary");
        assertThat(r.statusCode()).isEqualTo(403);
        JsonNode line = accessLine(requestId(r));
        assertThat(line.path("error_code").asText()).isEqualTo("model_not_allowed");
        assertThat(line.path("requested_model").asText()).isEqualTo("primary");
        assertThat(line.path("key_id").asText()).isEqualTo("demo");
        assertThat(line.has("refused_by")).isFalse();
    }

    @Test
    void everyKindOfAnswerCarriesARequestId() throws Exception {
        Map<String, HttpResponse<String>> answers = new java.util.LinkedHashMap<>();
        answers.put("models list", direct.get("/v1/models", "Authorization", AUTH));
        answers.put("a model", direct.get("/v1/models/mock-gpt", "Authorization", AUTH));
        answers.put("health live", direct.get("/health/live"));
        answers.put("health ready", direct.get("/health/ready"));
        answers.put("health deployments", direct.get("/health/deployments", "Authorization", AUTH));
        answers.put("metrics", direct.get("/metrics", "Authorization", AUTH));
        answers.put("metrics without a key", direct.get("/metrics"));
        answers.put("options", direct.send(direct.request("/v1/chat/completions")
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build()));
        answers.put("admin", direct.get("/admin/keys", "Authorization", AUTH));
        answers.put("unknown path", direct.get("/nothing/here"));
        answers.put("wrong method", direct.post("/health/live", "{}"));
        answers.put("no key", direct.post("/v1/chat/completions", "{}"));
        answers.put("chat", chat(direct, TestGateway.MASTER_KEY, "mock-gpt"));
        answers.forEach((what, r) -> assertThat(r.headers().firstValue("x-caravan-request-id"))
                .as("%s (%d)", what, r.statusCode()).hasValueSatisfying(id -> assertThat(id).startsWith("req_")));
        assertThat(accessLine(requestId(answers.get("unknown path"))).path("status").asInt()).isEqualTo(404);
        assertThat(accessLine(requestId(answers.get("wrong method"))).path("status").asInt()).isEqualTo(405);
        assertThat(accessLine(requestId(answers.get("no key"))).path("refused_by").asText()).isEqualTo("door");
    }

    @Test
    void answersTheListenerWritesItselfCarryARequestIdAndAreCountedAndLogged() throws Exception {
        double before = direct.metric("caravan_door_refusals_total{reason=\"method_not_allowed\"}");
        // a method no endpoint has: refused by the listener before any route
        String odd = raw(direct.port(), "BREW /v1/chat/completions HTTP/1.1\r\nHost: x\r\nUser-Agent: teapot\r\n"
                + "Content-Length: 0\r\nConnection: close\r\n\r\n");
        assertThat(odd).startsWith("HTTP/1.1 405");
        String id = header(odd, "x-caravan-request-id");
        assertThat(id).startsWith("req_");
        JsonNode line = accessLine(id);
        assertThat(line.path("status").asInt()).isEqualTo(405);
        assertThat(line.path("method").asText()).isEqualTo("BREW");
        assertThat(line.path("user_agent").asText()).isEqualTo("teapot");
        assertThat(line.path("client").asText()).isEqualTo("127.0.0.1");
        assertThat(direct.metric("caravan_door_refusals_total{reason=\"method_not_allowed\"}")).isEqualTo(before + 1);

        // framing a proxy might read differently: 400 and close, with an id
        String smuggled = raw(direct.port(), "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        assertThat(smuggled).startsWith("HTTP/1.1 400");
        JsonNode framing = accessLine(header(smuggled, "x-caravan-request-id"));
        assertThat(framing.path("error_code").asText()).isEqualTo("invalid_http_request");
        assertThat(direct.metrics()).contains("caravan_door_refusals_total{reason=\"bad_http\"} ");
    }

    static String requestId(HttpResponse<String> r) {
        return r.headers().firstValue("x-caravan-request-id").orElseThrow(() -> new AssertionError("no request id: " + r));
    }

    static JsonNode accessLine(String requestId) throws InterruptedException {
        return dev.caravan.AccessLines.of(ACCESS, requestId);
    }

    static String raw(int port, String request) throws Exception {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            for (int n; (n = in.read(buf)) > 0; ) {
                got.write(buf, 0, n);
            }
            return got.toString(StandardCharsets.ISO_8859_1);
        }
    }

    static String header(String response, String name) {
        for (String line : response.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        throw new AssertionError("no " + name + " in " + response);
    }
}
