package dev.caravan;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An unexpected exception while an attempt prepares the client's request (a translator's ClassCastException,
 * IllegalArgumentException...) is the request's fault: answered 400 at once, not retried on every deployment and
 * ended as a 500. The failure is injected where translation runs, in the deployment route, by a route edit.
 */
class TranslationFailureTest {

    static final String CHAT = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start("""
                providers:
                  a: { type: mock }
                  b: { type: mock }
                  c: { type: mock }
                models:
                  - name: m
                    strategy: ordered
                    deployments: [ { provider: a, model: m }, { provider: b, model: m }, { provider: c, model: m } ]
                    fallbacks: [n]
                  - name: n
                    deployments: [ { provider: a, model: n } ]
                routing:
                  retries: 2
                """);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    @Test
    void aTranslatorFailureOnTheRequestIs400AfterOneAttempt() throws Exception {
        assertThat(gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH).statusCode()).isEqualTo(200);
        Path template = gateway.routesDir().resolve("deployment.camel.yaml");
        Files.writeString(template, Files.readString(template).replace("          - process: { ref: upstreamCall }",
                "          - throwException:\n              exceptionType: java.lang.IllegalArgumentException\n"
                        + "              message: \"unexpected type in the request\"\n          - process: { ref: upstreamCall }"));
        long deadline = System.currentTimeMillis() + 10_000;
        HttpResponse<String> r = gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH);
        while (r.statusCode() == 200 && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
            r = gateway.post("/v1/chat/completions", CHAT, "Authorization", AUTH);
        }
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonNode error = new ObjectMapper().readTree(r.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.path("code").asText()).isEqualTo("invalid_request");
        assertThat(error.path("message").asText()).doesNotContain("unexpected type", "IllegalArgument");
        assertThat(r.headers().firstValue("x-caravan-attempts")).hasValue("1");
        assertThat(r.headers().firstValue("x-caravan-fallback")).isEmpty();
        // the deployment is not blamed
        assertThat(gateway.healthDeployments()).doesNotContain("\"state\":\"open\"").doesNotContain("lastError");
    }
}
