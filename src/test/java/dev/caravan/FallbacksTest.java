package dev.caravan;

import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** When a model's deployments are all down, too small or too slow: fallbacks, deadlines, and what the client is told. */
class FallbacksTest {

    static MockWebServer small;
    static MockWebServer hanging;
    static TestGateway gateway;
    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;

    static String config(String extraDeployment) {
        return """
                providers:
                  ok: { type: mock }
                  down: { type: mock, failureRate: 1.0, failureStatus: 503 }
                  small: { type: openai, baseUrl: "%s" }
                  hanging: { type: openai, baseUrl: "%s" }
                routing:
                  retries: 1
                  backoff: { initial: 10ms, max: 20ms }
                  breaker: { minimumCalls: 1000, window: 1000 }   # attempt counts below stay exact whatever ran before
                models:
                  - name: primary
                    fallbacks: [secondary, tertiary]
                    deployments: [ { id: primary-down, provider: down, model: p } ]
                  - name: secondary
                    deployments: [ { id: secondary-down, provider: down, model: s } ]
                  - name: tertiary
                    deployments: [ { id: tertiary-ok, provider: ok, model: t } ]
                  - name: short-context
                    retries: 0
                    contextWindowFallbacks: [long-context]
                    deployments: [ { id: small, provider: small, model: small } ]
                  - name: long-context
                    deployments: [ { id: long, provider: ok, model: long } ]
                  - name: slow
                    timeout: 400ms
                    deadline: 1s
                    retries: 5
                    deployments: [ { id: hang-1, provider: hanging, model: h }, { id: hang-2, provider: hanging, model: h } ]
                  - name: limited
                    retries: 1
                    deadline: 3s
                    deployments: [ { id: limited, provider: small, model: l } ]
                  - name: busy
                    deployments:
                      - { id: steady, provider: ok, model: b }
                %s
                """.formatted(small.url("/v1"), hanging.url("/v1"), extraDeployment);
    }

    @BeforeAll
    static void start() throws Exception {
        small = new MockWebServer();
        small.start();
        hanging = new MockWebServer();
        hanging.start();
        gateway = TestGateway.start(config("      - { id: leaving, provider: ok, model: b }"));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        small.shutdown();
        hanging.shutdown();
    }

    static HttpResponse<String> chat(String model, String... headers) {
        return chatBody("{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", headers);
    }

    static HttpResponse<String> chatBody(String body, String... headers) {
        String[] all = new String[headers.length + 2];
        all[0] = "Authorization";
        all[1] = AUTH;
        System.arraycopy(headers, 0, all, 2, headers.length);
        return gateway.post("/v1/chat/completions", body, all);
    }

    @Test
    void modelFallbackChainAnswersAndSaysSo() {
        HttpResponse<String> r = chat("primary");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-caravan-fallback")).hasValue("tertiary");
        assertThat(r.headers().firstValue("x-caravan-deployment")).hasValue("tertiary-ok");
        assertThat(r.headers().firstValue("x-caravan-attempts")).hasValue("5"); // 2 on primary, 2 on secondary, 1 ok
        assertThat(gateway.metrics()).contains("caravan_fallbacks_total{from=\"primary\",to=\"secondary\"}",
                "caravan_fallbacks_total{from=\"secondary\",to=\"tertiary\"}", "caravan_retries_total{model=\"primary\"}");
    }

    @Test
    void callerCanTurnFallbacksOffOrChooseThem() {
        HttpResponse<String> none = chat("primary", "x-caravan-fallbacks", "none");
        assertThat(none.statusCode()).isEqualTo(503);
        assertThat(none.body()).contains("\"code\":\"upstream_unavailable\"", "2 attempts");
        assertThat(none.headers().firstValue("x-caravan-attempts")).hasValue("2");

        HttpResponse<String> chosen = chat("primary", "x-caravan-fallbacks", "tertiary");
        assertThat(chosen.headers().firstValue("x-caravan-fallback")).hasValue("tertiary");
        assertThat(chosen.headers().firstValue("x-caravan-attempts")).hasValue("3");

        HttpResponse<String> inBody = chatBody("{\"model\":\"primary\",\"caravan\":{\"fallbacks\":[\"tertiary\"]},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertThat(inBody.statusCode()).isEqualTo(200);
        assertThat(inBody.headers().firstValue("x-caravan-fallback")).hasValue("tertiary");

        HttpResponse<String> unknown = chat("primary", "x-caravan-fallbacks", "no-such-model");
        assertThat(unknown.statusCode()).isEqualTo(400);
        assertThat(unknown.body()).contains("\"code\":\"invalid_fallbacks\"");
    }

    @Test
    void tooLongForTheModelGoesToItsContextWindowFallback() throws Exception {
        small.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json").setBody(
                "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens.\",\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}"));
        HttpResponse<String> r = chat("short-context");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-caravan-fallback")).hasValue("long-context");
        assertThat(small.takeRequest(1, TimeUnit.SECONDS)).isNotNull();
    }

    @Test
    void requestCausedErrorsAreNotRetried() throws Exception {
        small.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json").setBody(
                "{\"error\":{\"message\":\"Invalid 'temperature'\",\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":\"invalid_value\"}}"));
        int before = small.getRequestCount();
        HttpResponse<String> r = chat("short-context");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("\"code\":\"invalid_value\"");
        assertThat(small.getRequestCount()).isEqualTo(before + 1);
        assertThat(r.headers().firstValue("x-caravan-fallback")).isEmpty();
    }

    @Test
    void retryAfterIsHonouredWhenItFitsInTheDeadline() throws Exception {
        small.enqueue(new MockResponse().setResponseCode(429).setHeader("Retry-After", "1")
                .setBody("{\"error\":{\"message\":\"slow down\",\"code\":\"rate_limit_exceeded\"}}"));
        small.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("""
                {"id":"c","object":"chat.completion","created":1,"model":"l","choices":[{"index":0,
                 "message":{"role":"assistant","content":"after waiting"},"finish_reason":"stop"}]}"""));
        long start = System.nanoTime();
        HttpResponse<String> r = chat("limited");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.body()).contains("after waiting");
        assertThat(r.headers().firstValue("x-caravan-attempts")).hasValue("2");
        assertThat(millis).as("waited for Retry-After").isGreaterThanOrEqualTo(950);

        // a Retry-After longer than what is left of the deadline is not waited for: the 429 is the answer
        small.enqueue(new MockResponse().setResponseCode(429).setHeader("Retry-After", "30")
                .setBody("{\"error\":{\"message\":\"slow down\",\"code\":\"rate_limit_exceeded\"}}"));
        start = System.nanoTime();
        HttpResponse<String> tooLong = chat("limited");
        assertThat(tooLong.statusCode()).isEqualTo(429);
        assertThat(tooLong.headers().firstValue("retry-after")).hasValue("30");
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(900);
        // while it cools down, callers hear 429 with what is left of the wait, and the provider hears nothing
        int calls = small.getRequestCount();
        HttpResponse<String> cooling = chat("limited");
        assertThat(cooling.statusCode()).isEqualTo(429);
        assertThat(cooling.headers().firstValue("retry-after")).hasValueSatisfying(v -> assertThat(Integer.parseInt(v)).isBetween(28, 30));
        assertThat(small.getRequestCount()).isEqualTo(calls);
        Thread.sleep(50);
        while (small.takeRequest(10, TimeUnit.MILLISECONDS) != null) {
            // leave the queue clean for the other tests
        }
    }

    @Test
    void deadlineEndsTheAttemptsWith504ListingThem() {
        for (int i = 0; i < 10; i++) {
            hanging.enqueue(new MockResponse().setHeadersDelay(3, TimeUnit.SECONDS).setBody("late"));
        }
        long start = System.nanoTime();
        HttpResponse<String> r = chat("slow");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(r.body()).contains("deadline passed after", "hang-1 504 upstream_timeout", "hang-2 504 upstream_timeout");
        assertThat(millis).isBetween(900L, 2000L);
    }

    @Test
    void aReloadThatRemovesADeploymentUnderLoadLosesNoRequest() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<HttpResponse<String>>> results = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            results.add(pool.submit(() -> chat("busy")));
            if (i == 50) {
                Files.writeString(gateway.configFile(), config(""));
            }
        }
        for (Future<HttpResponse<String>> f : results) {
            assertThat(f.get().statusCode()).as(f.get().body()).isEqualTo(200);
        }
        pool.shutdown();
        long deadline = System.currentTimeMillis() + 5000;
        while (gateway.caravan().context().getRoute("deployment-leaving") != null && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertThat(gateway.caravan().context().getRoute("deployment-leaving")).as("its route is gone").isNull();
        for (int i = 0; i < 20; i++) {
            assertThat(chat("busy").headers().firstValue("x-caravan-deployment")).hasValue("steady");
        }
    }
}
