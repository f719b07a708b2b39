package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Every malformed request gets the OpenAI error shape and the right status: never a stack trace, never empty. */
class BadInputTest {

    static TestGateway gateway;
    static final String AUTH = "Bearer " + TestGateway.DEMO_KEY;
    static final String GOOD = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    @BeforeAll
    static void start() throws Exception {
        // a small body limit so the 413 test sends little
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG, Map.of("caravan.maxBodyBytes", "4096"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    static void assertOpenAiError(HttpResponse<String> response, int status, String code) {
        assertThat(response.statusCode()).isEqualTo(status);
        assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        assertThat(response.body()).startsWith("{\"error\":{\"message\":");
        assertThat(response.body()).contains("\"type\":", "\"param\":", "\"code\":\"" + code + "\"");
        assertThat(response.body()).doesNotContain("Exception", "\tat ", "dev.caravan");
    }

    @Test
    void malformedJsonGets400() {
        assertOpenAiError(gateway.post("/v1/chat/completions", "{\"model\": \"mock-gpt\", \"messages\": [",
                "Authorization", AUTH, "Content-Type", "application/json"), 400, "invalid_json");
    }

    @Test
    void malformedJsonErrorDoesNotEchoTheBody() {
        HttpResponse<String> r = gateway.post("/v1/chat/completions", "{\"model\": \"mock-gpt\", \"secret prompt text\" oops}",
                "Authorization", AUTH, "Content-Type", "application/json");
        assertOpenAiError(r, 400, "invalid_json");
        assertThat(r.body()).doesNotContain("secret prompt text");
    }

    @Test
    void jsonBodySentAsFormIsStillUnderstood() {
        // curl -d sends application/x-www-form-urlencoded; the body is JSON all the same
        HttpResponse<String> r = gateway.post("/v1/chat/completions", GOOD,
                "Authorization", AUTH, "Content-Type", "application/x-www-form-urlencoded");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"object\":\"chat.completion\"");
    }

    @Test
    void nonJsonBodyWithAnotherContentTypeGets415() {
        assertOpenAiError(gateway.post("/v1/chat/completions", "model=mock-gpt&prompt=hi",
                "Authorization", AUTH, "Content-Type", "application/x-www-form-urlencoded"), 415, "unsupported_media_type");
    }

    @Test
    void missingModelOrMessagesGets400NamingTheParam() {
        HttpResponse<String> noModel = gateway.post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", AUTH, "Content-Type", "application/json");
        assertOpenAiError(noModel, 400, "missing_required_parameter");
        assertThat(noModel.body()).contains("\"param\":\"model\"");
        HttpResponse<String> noMessages = gateway.post("/v1/chat/completions", "{\"model\":\"mock-gpt\"}",
                "Authorization", AUTH, "Content-Type", "application/json");
        assertOpenAiError(noMessages, 400, "missing_required_parameter");
        assertThat(noMessages.body()).contains("\"param\":\"messages\"");
        assertOpenAiError(gateway.post("/v1/chat/completions", "[1,2]", "Authorization", AUTH), 400, "invalid_json");
        assertOpenAiError(gateway.post("/v1/chat/completions", "", "Authorization", AUTH), 400, "invalid_json");
    }

    static HttpResponse<String> chat(String body) {
        return gateway.post("/v1/chat/completions", body, "Authorization", AUTH, "Content-Type", "application/json");
    }

    static void assertNamesParam(HttpResponse<String> response, String code, String param) {
        assertOpenAiError(response, 400, code);
        assertThat(response.body()).contains("\"param\":\"" + param + "\"");
    }

    @Test
    void aModelThatIsNotAStringIsAWrongTypeNotAMissingModel() {
        assertNamesParam(chat("{\"model\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), "invalid_type", "model");
    }

    @Test
    void rolesPartTypesAndMessageShapesAreCheckedAtTheDoor() {
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}"),
                "invalid_value", "messages[0].role");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"system\",\"content\":"
                + "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x/y.png\"}}]}]}"), "invalid_value", "messages[0].content[0].type");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}"),
                "missing_required_parameter", "messages[0].content[0].text");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":\"x\"}]}]}"),
                "missing_required_parameter", "messages[0].content[0].image_url.url");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\"}]}"),
                "missing_required_parameter", "messages[0].content");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                + "{\"role\":\"tool\",\"content\":\"42\"}]}"), "missing_required_parameter", "messages[1].tool_call_id");
        // an assistant turn may carry tool calls instead of content
        assertThat(chat("{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"}]}")
                .statusCode()).isEqualTo(200);
    }

    @Test
    void numbersOutOfOpenAisRangesAre400NamingTheField() {
        String msgs = ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"temperature\":2.5" + msgs), "decimal_above_max_value", "temperature");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"temperature\":-1" + msgs), "integer_below_min_value", "temperature");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"top_p\":1.5" + msgs), "decimal_above_max_value", "top_p");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"presence_penalty\":3" + msgs), "integer_above_max_value", "presence_penalty");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"n\":500" + msgs), "integer_above_max_value", "n");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"max_tokens\":0" + msgs), "integer_below_min_value", "max_tokens");
        assertNamesParam(chat("{\"model\":\"mock-gpt\",\"temperature\":\"hot\"" + msgs), "invalid_type", "temperature");
        assertThat(chat("{\"model\":\"mock-gpt\",\"temperature\":2,\"top_p\":0" + msgs).statusCode()).isEqualTo(200);
    }

    @Test
    void unknownModelGets404() {
        assertOpenAiError(gateway.post("/v1/chat/completions", GOOD.replace("mock-gpt", "nope"),
                "Authorization", AUTH), 404, "model_not_found");
    }

    @Test
    void wrongMethodGets405WithAllow() {
        HttpResponse<String> r = gateway.send(gateway.request("/v1/chat/completions", "Authorization", AUTH).GET().build());
        assertOpenAiError(r, 405, "method_not_allowed");
        assertThat(r.headers().firstValue("allow")).hasValue("POST, OPTIONS");
        HttpResponse<String> d = gateway.send(gateway.request("/v1/models", "Authorization", AUTH)
                .method("DELETE", HttpRequest.BodyPublishers.noBody()).build());
        assertOpenAiError(d, 405, "method_not_allowed");
        assertThat(d.headers().firstValue("allow")).hasValue("GET, HEAD, OPTIONS");
    }

    @Test
    void unknownPathGets404() {
        assertOpenAiError(gateway.get("/v1/nothing-here", "Authorization", AUTH), 404, "not_found");
    }

    @Test
    void bodyOverTheLimitGets413InOpenAiShape() {
        String big = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(5000) + "\"}]}";
        assertOpenAiError(gateway.post("/v1/chat/completions", big, "Authorization", AUTH,
                "Content-Type", "application/json"), 413, "request_too_large");
        // and the gateway still answers afterwards
        assertThat(gateway.post("/v1/chat/completions", GOOD, "Authorization", AUTH).statusCode()).isEqualTo(200);
    }

    @Test
    void nonBooleanStreamGets400() {
        assertOpenAiError(gateway.post("/v1/chat/completions", GOOD.replace("{\"model\"", "{\"stream\":\"yes\",\"model\""),
                "Authorization", AUTH), 400, "invalid_type");
    }

    @Test
    void liveAndReadyNeedNoKeyMetricsNeedAnObserverKey() {
        HttpResponse<String> live = gateway.get("/health/live");
        assertThat(live.statusCode()).isEqualTo(200);
        assertThat(live.body()).contains("\"status\":\"UP\"");
        HttpResponse<String> ready = gateway.get("/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).contains("\"status\":\"UP\"");
        gateway.post("/v1/chat/completions", GOOD, "Authorization", AUTH);
        assertOpenAiError(gateway.get("/metrics"), 401, "invalid_api_key");
        HttpResponse<String> metrics = gateway.get("/metrics", "Authorization", "Bearer " + TestGateway.MASTER_KEY);
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        assertThat(metrics.body()).contains("caravan_requests_total{", "direction=\"input\"",
                "caravan_request_duration_seconds_count{", "caravan_overhead_seconds_count{");
        assertThat(metrics.body()).contains("status=\"200\"").doesNotContain("status=\"0\"");
        assertThat(metrics.body()).doesNotContain(TestGateway.DEMO_KEY, TestGateway.MASTER_KEY);
    }

    @Test
    void unknownModelNamesDoNotBecomeMetricLabels() {
        gateway.post("/v1/chat/completions", GOOD.replace("mock-gpt", "attacker-controlled-label"), "Authorization", AUTH);
        assertThat(gateway.metrics()).doesNotContain("attacker-controlled-label").contains("model=\"unknown\"");
    }

    @Test
    void withoutCorsConfiguredNoAccessControlHeaderIsEverSent() {
        HttpResponse<String> preflight = gateway.send(gateway.request("/v1/chat/completions", "Origin", "https://app.example.com",
                "Access-Control-Request-Method", "POST").method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
        assertThat(preflight.statusCode()).isEqualTo(204);
        assertThat(preflight.headers().firstValue("allow")).hasValue("POST, OPTIONS");
        HttpResponse<String> actual = gateway.post("/v1/chat/completions", GOOD, "Authorization", AUTH,
                "Origin", "https://app.example.com");
        assertThat(actual.statusCode()).isEqualTo(200);
        for (HttpResponse<String> r : java.util.List.of(preflight, actual)) {
            assertThat(r.headers().map().keySet()).noneMatch(h -> h.startsWith("access-control-") || h.equals("vary"));
        }
    }
}
