package dev.caravan;

import dev.caravan.core.Json;
import com.fasterxml.jackson.databind.JsonNode;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gemini takes no {@code $ref}, so the gateway inlines references; a small request must not become a huge upstream
 * body (a 581-byte self-referencing schema once became 157 MB and held an event loop for 12.7 s). Recursive, too
 * large or too deep schemas are refused with a 400 naming the field, fast, before anything is sent upstream.
 */
class GeminiSchemaBoundsTest {

    @RegisterExtension
    static final UpstreamFixture upstreams = new UpstreamFixture();
    static MockWebServer google;
    static Path keyFile;
    static TestGateway gateway;
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;

    static final String ANSWER = """
            {"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,"totalTokenCount":4},"modelVersion":"gemini-2.5-flash"}""";

    @BeforeAll
    static void start() throws Exception {
        google = upstreams.server(new Dispatcher() {
            @Override
            public MockResponse dispatch(RecordedRequest r) {
                return new MockResponse().setHeader("Content-Type", "application/json").setBody(ANSWER);
            }
        });
        keyFile = upstreams.keyFile("google", TestGateway.fakeProviderKey("AIzaSy") + "\n");
        gateway = upstreams.gateway("""
                providers:
                  google: { type: gemini, baseUrl: "%s", apiKey: "${file:%s}" }
                models:
                  - name: gemini-flash
                    deployments: [ { provider: google, model: gemini-2.5-flash } ]
                routing:
                  retries: 0
                """.formatted(UpstreamFixture.root(google), keyFile));
    }

    static HttpResponse<String> chat(String extra) {
        return gateway.post("/v1/chat/completions", "{\"model\":\"gemini-flash\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}]," + extra + "}", "Authorization", AUTH, "Content-Type", "application/json");
    }

    static String tool(String parameters) {
        return "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":" + parameters + "}}]";
    }

    /** A definition that refers to itself {@code fanOut} times: inlined, it never ends (or grows as fanOut^depth). */
    static String selfReferencing(int fanOut) {
        StringBuilder props = new StringBuilder();
        for (int i = 0; i < fanOut; i++) {
            props.append(i == 0 ? "" : ",").append("\"p").append(i).append("\":{\"$ref\":\"#/$defs/n\"}");
        }
        return "{\"type\":\"object\",\"properties\":{\"root\":{\"$ref\":\"#/$defs/n\"}},\"$defs\":{\"n\":"
                + "{\"type\":\"object\",\"properties\":{" + props + "}}}}";
    }

    static void assertRefused(HttpResponse<String> r, String code, String param) throws Exception {
        assertThat(r.statusCode()).isEqualTo(400);
        JsonNode error = Json.MAPPER.readTree(r.body()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
        assertThat(error.path("code").asText()).isEqualTo(code);
        assertThat(error.path("param").asText()).isEqualTo(param);
        assertThat(google.takeRequest(50, TimeUnit.MILLISECONDS)).as("nothing reached Gemini").isNull();
    }

    @Test
    void aSelfReferencingToolSchemaIsRefusedFastAndNothingIsSent() throws Exception {
        String body = tool(selfReferencing(6));
        assertThat(body.length()).isLessThan(600);
        long start = System.nanoTime();
        HttpResponse<String> r = chat(body);
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertRefused(r, "schema_recursive", "tools[0].function.parameters");
        assertThat(tookMs).isLessThan(1000);
    }

    @Test
    void aResponseFormatWhoseInliningExplodesIsRefusedNamingTheLimit() throws Exception {
        // no cycle, but every level refers to the next one four times: 4^12 copies once inlined
        StringBuilder defs = new StringBuilder();
        for (int level = 0; level < 12; level++) {
            String next = "{\"$ref\":\"#/$defs/l" + (level + 1) + "\"}";
            defs.append(level == 0 ? "" : ",").append("\"l").append(level).append("\":{\"type\":\"object\",\"properties\":{")
                    .append("\"a\":").append(next).append(",\"b\":").append(next).append(",\"c\":").append(next)
                    .append(",\"d\":").append(next).append("}}");
        }
        defs.append(",\"l12\":{\"type\":\"string\"}");
        String schema = "{\"$ref\":\"#/$defs/l0\",\"$defs\":{" + defs + "}}";
        long start = System.nanoTime();
        HttpResponse<String> r = chat("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":"
                + schema + "}}");
        assertRefused(r, "schema_too_large", "response_format.json_schema.schema");
        assertThat(r.body()).contains(Long.toString(4L * 1024 * 1024));
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(1000);
    }

    @Test
    void aSchemaNestedDeeperThanTheLimitIsRefused() throws Exception {
        String schema = "{\"type\":\"string\"}";
        for (int i = 0; i < 40; i++) {
            schema = "{\"type\":\"object\",\"properties\":{\"x\":" + schema + "}}";
        }
        assertRefused(chat(tool(schema)), "schema_too_deep", "tools[0].function.parameters");
    }

    @Test
    void aLegitimateNestedRefSchemaStillTranslates() throws Exception {
        String schema = """
                {"type":"object","properties":{"home":{"$ref":"#/$defs/address","description":"where they live"},
                 "work":{"$ref":"#/$defs/address"},"people":{"type":"array","items":{"$ref":"#/$defs/person"}}},
                 "$defs":{"address":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},
                          "person":{"type":"object","properties":{"name":{"type":"string"},"address":{"$ref":"#/$defs/address"}}}}}""";
        HttpResponse<String> r = chat(tool(schema));
        assertThat(r.statusCode()).isEqualTo(200);
        RecordedRequest sent = google.takeRequest(5, TimeUnit.SECONDS);
        JsonNode parameters = Json.MAPPER.readTree(sent.getBody().readUtf8())
                .path("tools").path(0).path("functionDeclarations").path(0).path("parameters");
        assertThat(parameters.toString()).doesNotContain("$ref").doesNotContain("$defs");
        assertThat(parameters.path("properties").path("home").path("properties").path("city").path("type").asText()).isEqualTo("string");
        assertThat(parameters.path("properties").path("home").path("description").asText()).isEqualTo("where they live");
        assertThat(parameters.path("properties").path("people").path("items").path("properties").path("address")
                .path("required").path(0).asText()).isEqualTo("city");
    }
}
