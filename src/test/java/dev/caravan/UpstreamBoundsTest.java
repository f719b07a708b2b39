package dev.caravan;

import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okio.Buffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every number and size an upstream controls is bounded: its Retry-After (parsed safely, capped by
 * {@code routing.maxRetryAfter}, and what the client is told capped the same way), the size of a whole answer, the
 * token counts it reports, and the choices and tool calls a stream may make the gateway hold.
 */
class UpstreamBoundsTest {

    static MockWebServer upstream;
    static TestGateway gateway;
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;

    static final String OK = """
            {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
             "message":{"role":"assistant","content":"%s"},"finish_reason":"stop"}],
             "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""";

    @BeforeAll
    static void start() throws Exception {
        upstream = new MockWebServer(); // answers in the order the tests enqueue them
        upstream.start();
        StringBuilder models = new StringBuilder();
        for (String name : new String[]{"ra-1", "ra-2", "ra-3", "ra-4", "ra-5", "ra-6", "ten-years", "far-date", "big",
                "big-chunked", "usage", "stream-index", "stream-choice"}) {
            models.append("  - { name: ").append(name).append(", deployments: [ { id: d-").append(name)
                    .append(", provider: up, model: m } ] }\n");
        }
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai, baseUrl: "%s" }
                routing:
                  retries: 0
                  maxRetryAfter: 2s
                  breaker: { minimumCalls: 1000, window: 1000 }
                models:
                %s""".formatted(upstream.url("/v1"), models), Map.of("caravan.maxUpstreamBodyBytes", "1048576"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.shutdown();
    }

    static HttpResponse<String> chat(String model) {
        return gateway.post("/v1/chat/completions",
                "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", AUTH, "Content-Type", "application/json");
    }

    static MockResponse rateLimited(String retryAfter) {
        return new MockResponse().setResponseCode(429).setHeader("Retry-After", retryAfter)
                .setHeader("Content-Type", "application/json")
                .setBody("{\"error\":{\"message\":\"slow down\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}");
    }

    static MockResponse ok(String content) {
        return new MockResponse().setHeader("Content-Type", "application/json").setBody(OK.formatted(content));
    }

    @ParameterizedTest
    @CsvSource({"ra-1,Infinity", "ra-2,-5", "ra-3,1e400", "ra-4,NaN", "ra-5,soon", "ra-6,1.5e3"})
    void anUnreadableRetryAfterIsARateLimitWithoutARetryAfterForTheClient(String model, String retryAfter) {
        upstream.enqueue(rateLimited(retryAfter));
        HttpResponse<String> r = chat(model);
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.body()).contains("rate_limit_error").doesNotContain(retryAfter);
        assertThat(r.headers().firstValue("retry-after")).isEmpty();
    }

    @Test
    void aTenYearRetryAfterCoolsTheDeploymentDownForTheCapOnly() throws Exception {
        upstream.enqueue(rateLimited("315360000"));
        upstream.enqueue(ok("back"));
        long start = System.nanoTime();
        HttpResponse<String> limited = chat("ten-years");
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("retry-after")).hasValue("2");
        HttpResponse<String> stillCooling = chat("ten-years");
        assertThat(stillCooling.statusCode()).isEqualTo(429);
        assertThat(Long.parseLong(stillCooling.headers().firstValue("retry-after").orElseThrow())).isBetween(1L, 2L);

        Thread.sleep(Math.max(0, 2_100 - (System.nanoTime() - start) / 1_000_000));
        HttpResponse<String> healed = chat("ten-years");
        assertThat(healed.statusCode()).isEqualTo(200);
        assertThat(healed.body()).contains("back");
    }

    @Test
    void anHttpDateRetryAfterFarInTheFutureIsCappedToo() {
        upstream.enqueue(rateLimited("Fri, 31 Dec 9999 23:59:59 GMT"));
        HttpResponse<String> r = chat("far-date");
        assertThat(r.statusCode()).isEqualTo(429);
        assertThat(r.headers().firstValue("retry-after")).hasValue("2");
    }

    @Test
    void aWholeAnswerLargerThanTheLimitIs502AndTheGatewayServesOn() {
        String huge = "x".repeat(2 * 1024 * 1024);
        upstream.enqueue(ok(huge)); // Content-Length says so up front
        HttpResponse<String> declared = chat("big");
        assertThat(declared.statusCode()).isEqualTo(502);
        assertThat(declared.body()).contains("upstream_response_too_large").doesNotContain("xxxx");

        upstream.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
                .setChunkedBody(new Buffer().writeUtf8(OK.formatted(huge)), 64 * 1024)); // found out as it arrives
        HttpResponse<String> chunked = chat("big-chunked");
        assertThat(chunked.statusCode()).isEqualTo(502);
        assertThat(chunked.body()).contains("upstream_response_too_large");

        upstream.enqueue(ok("fine"));
        assertThat(chat("big").statusCode()).isEqualTo(200);
    }

    @Test
    void absurdTokenCountsAreClampedNeverNegativeNorWrapped() throws Exception {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,
                 "message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":-5,"completion_tokens":99999999999999999999,"total_tokens":1e400}}"""));
        assertThat(chat("usage").statusCode()).isEqualTo(200);
        String labels = "deployment=\"d-usage\",direction=\"%s\",key=\"\",model=\"usage\",team=\"none\"";
        double in = gateway.metric("caravan_tokens_total{" + labels.formatted("input") + "}");
        double out = gateway.metric("caravan_tokens_total{" + labels.formatted("output") + "}");
        assertThat(in).isZero();
        assertThat(out).isBetween(0.0, 1e9);
    }

    static String sse(String... chunks) {
        StringBuilder s = new StringBuilder();
        for (String c : chunks) {
            s.append("data: ").append(c).append("\n\n");
        }
        return s.append("data: [DONE]\n\n").toString();
    }

    static HttpResponse<String> stream(String model) {
        return gateway.post("/v1/chat/completions", "{\"model\":\"" + model
                        + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "Authorization", AUTH, "Content-Type", "application/json");
    }

    @Test
    void aStreamedToolCallIndexPastTheBoundEndsTheStreamWithAnError() {
        String chunk = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}";
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse(
                chunk.formatted("{\"role\":\"assistant\",\"content\":\"ok\"}"),
                chunk.formatted("{\"tool_calls\":[{\"index\":2000000000,\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}"))));
        HttpResponse<String> r = stream("stream-index");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("upstream_bad_response").doesNotContain("2000000000");
    }

    @Test
    void aStreamedChoiceIndexPastTheBoundEndsTheStreamWithAnError() {
        upstream.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(sse(
                "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":999999,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}]}")));
        HttpResponse<String> r = stream("stream-choice");
        assertThat(r.body()).contains("upstream_bad_response").doesNotContain("999999");
    }
}
