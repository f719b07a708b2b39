package dev.caravan;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** No key, provider credential or prompt text reaches a log line; each request leaves one access line. */
class SecretsStayOutOfLogsTest {

    static final String PROVIDER_KEY = "sk-provider-logs-0123456789abcdef";
    static final String PROMPT = "my-very-private-prompt-text";
    static MockWebServer upstream;
    static TestGateway gateway;
    static ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        logs.start();
        root.addAppender(logs);
        upstream = new MockWebServer();
        upstream.start();
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai, baseUrl: "%s", apiKey: "${env:CARAVAN_TEST_PROVIDER_KEY}" }
                  mock: { type: mock }
                models:
                  - name: up
                    deployments: [ { provider: up, model: up } ]
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                routing: { retries: 0 }
                """.formatted(upstream.url("/v1")).replace("${env:CARAVAN_TEST_PROVIDER_KEY}", "${file:" + keyFile() + "}"),
                Map.of());
    }

    static String keyFile() throws Exception {
        java.nio.file.Path f = java.nio.file.Files.createTempFile("k", ".key");
        java.nio.file.Files.writeString(f, PROVIDER_KEY);
        f.toFile().deleteOnExit();
        return f.toString();
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.shutdown();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    static String chat(String model, boolean stream) {
        return "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + PROMPT + "\"}]}";
    }

    @Test
    void logsHoldNoKeyNoCredentialNoPrompt() throws Exception {
        String auth = "Bearer " + TestGateway.MASTER_KEY;
        assertThat(gateway.post("/v1/chat/completions", chat("mock-gpt", false), "Authorization", auth).statusCode()).isEqualTo(200);
        assertThat(gateway.post("/v1/chat/completions", chat("mock-gpt", true), "Authorization", auth).statusCode()).isEqualTo(200);
        gateway.post("/v1/chat/completions", "{\"model\":\"mock-gpt\",\"messages\":[" + PROMPT, "Authorization", auth);
        gateway.post("/v1/chat/completions", chat("mock-gpt", false), "Authorization", "Bearer sk-wrong-" + PROMPT);
        upstream.enqueue(new MockResponse().setResponseCode(401).setBody(
                "{\"error\":{\"message\":\"Incorrect API key provided: " + PROVIDER_KEY + " for " + PROMPT + "\"}}"));
        assertThat(gateway.post("/v1/chat/completions", chat("up", false), "Authorization", auth).statusCode()).isEqualTo(502);
        upstream.enqueue(new MockResponse().setBody("not json " + PROMPT));
        gateway.post("/v1/chat/completions", chat("up", false), "Authorization", auth);
        Thread.sleep(300); // stream post-processing and the async access log

        List<String> lines = logs.list.stream().map(e -> e.getFormattedMessage()
                + (e.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(e.getThrowableProxy()))).toList();
        String all = String.join("\n", lines);
        assertThat(all).doesNotContain(TestGateway.MASTER_KEY, PROVIDER_KEY, PROMPT, "sk-wrong");

        List<JsonNode> access = logs.list.stream().filter(e -> e.getLoggerName().equals("caravan.access"))
                .map(e -> parse(e.getFormattedMessage())).collect(Collectors.toList());
        assertThat(access).hasSizeGreaterThanOrEqualTo(6);
        JsonNode ok = access.get(0);
        assertThat(ok.get("key_id").asText()).isEqualTo("master");
        assertThat(ok.get("model").asText()).isEqualTo("mock-gpt");
        assertThat(ok.get("deployment").asText()).isEqualTo("mock-mock-gpt");
        assertThat(ok.get("status").asInt()).isEqualTo(200);
        assertThat(ok.get("total_tokens").asLong()).isPositive();
        assertThat(ok.has("request_id") && ok.has("latency_ms") && ok.has("upstream_ms")).isTrue();
        assertThat(access).anySatisfy(a -> {
            assertThat(a.get("stream").asBoolean()).isTrue();
            assertThat(a.get("outcome").asText()).isEqualTo("completed");
            assertThat(a.get("completion_tokens").asLong()).isPositive();
        });
        assertThat(access).anySatisfy(a -> assertThat(a.get("status").asInt()).isEqualTo(401));
    }

    static JsonNode parse(String line) {
        try {
            return new ObjectMapper().readTree(line);
        } catch (Exception e) {
            throw new AssertionError("access log line is not JSON: " + line, e);
        }
    }
}
