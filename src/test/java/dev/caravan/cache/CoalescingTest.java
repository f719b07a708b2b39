package dev.caravan.cache;

import dev.caravan.TestGateway;
import dev.caravan.core.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Concurrent identical requests make one upstream call, and every caller gets the answer, whole or streamed; a
 * leader whose client leaves still answers its followers; a leader that fails lets each follower call on its own.
 */
class CoalescingTest {

    static CacheUpstream upstream;
    static TestGateway gateway;
    static final String KEY = "sk-coal-" + UUID.randomUUID();
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws Exception {
        upstream = new CacheUpstream();
        gateway = TestGateway.start("""
                providers:
                  up: { type: openai-compatible, baseUrl: "%s" }
                models:
                  - name: gpt-test
                    retries: 0
                    deployments: [ { provider: up, model: up-model, price: { input: 2.0, output: 8.0 } } ]
                keys:
                  - { id: coal, sha256: %s }
                routing:
                  breaker: { minimumCalls: 1000, window: 1000 }   # the failures these tests provoke open no breaker
                cache:
                  exact: { ttl: 10m }
                  coalesce: { timeout: 10s }
                """.formatted(upstream.baseUrl(), ExactCacheTest.sha(KEY)));
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
        upstream.close();
    }

    static String body(String prompt, boolean stream) {
        return "{\"model\":\"gpt-test\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]}";
    }

    static CompletableFuture<HttpResponse<String>> send(String prompt, boolean stream) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + KEY)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body(prompt, stream))).build();
        return HTTP.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

    /** The answer's text, from a whole answer or from the content deltas of an SSE stream that ended with [DONE]. */
    static String text(HttpResponse<String> r) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        if (!r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream")) {
            return Json.parseObjectOrNull(r.body()).at("/choices/0/message/content").asText();
        }
        assertThat(r.body().trim()).endsWith("data: [DONE]");
        StringBuilder text = new StringBuilder();
        for (String line : r.body().split("\n")) {
            if (line.startsWith("data: {")) {
                text.append(Json.parseObjectOrNull(line.substring(6)).at("/choices/0/delta/content").asText(""));
            }
        }
        return text.toString();
    }

    @Test
    void twentyConcurrentIdenticalRequestsMakeOneUpstreamCallAndAllGetTheAnswer() throws Exception {
        String prompt = "SLOW crowd " + UUID.randomUUID();
        int before = upstream.calls.get();
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            all.add(send(prompt, i % 2 == 1)); // half of them stream: a follower of either kind gets its own shape
        }
        List<String> texts = all.stream().map(CompletableFuture::join).map(CoalescingTest::text).toList();

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(texts).hasSize(20).allMatch(t -> t.equals(texts.get(0)));
        assertThat(texts.get(0)).startsWith("answer #").endsWith(prompt);
        assertThat(gateway.metric("caravan_cache_total{result=\"coalesced\"}")).isGreaterThanOrEqualTo(19);
    }

    @Test
    void followersOfAStreamedLeaderGetTheirOwnStreams() throws Exception {
        String prompt = "DRIP story " + UUID.randomUUID();
        int before = upstream.calls.get();
        CompletableFuture<HttpResponse<String>> leader = send(prompt, true);
        Thread.sleep(200);
        List<CompletableFuture<HttpResponse<String>>> followers = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            followers.add(send(prompt, true));
        }
        String led = text(leader.join());
        List<String> followed = followers.stream().map(CompletableFuture::join).map(CoalescingTest::text).toList();

        assertThat(upstream.calls.get() - before).isEqualTo(1);
        assertThat(followed).allMatch(led::equals);
    }

    @Test
    void whenTheLeadersClientLeavesMidStreamTheFollowersStillGetTheWholeAnswer() throws Exception {
        String prompt = "DRIP abandoned " + UUID.randomUUID();
        int before = upstream.calls.get();
        try (Socket leader = new Socket("127.0.0.1", gateway.port())) {
            byte[] request = body(prompt, true).getBytes(StandardCharsets.UTF_8);
            OutputStream out = leader.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + request.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(request);
            out.flush();
            InputStream in = leader.getInputStream();
            in.read(new byte[256]); // the stream has begun
            List<CompletableFuture<HttpResponse<String>>> followers = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                followers.add(send(prompt, i == 0));
            }
            Thread.sleep(100);
            leader.close(); // the leader's client leaves mid-stream

            List<String> texts = followers.stream().map(f -> f.orTimeout(20, TimeUnit.SECONDS).join())
                    .map(CoalescingTest::text).toList();
            assertThat(texts).allMatch(t -> t.startsWith("answer #") && t.endsWith(prompt));
            assertThat(texts).allMatch(texts.get(0)::equals);
        }
        assertThat(upstream.calls.get() - before).isEqualTo(1);
    }

    @Test
    void whenTheLeadersClientLeavesBeforeAWholeAnswerTheFollowersStillGetIt() throws Exception {
        String prompt = "SLOW impatient " + UUID.randomUUID();
        int before = upstream.calls.get();
        HttpRequest impatient = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
                .timeout(Duration.ofMillis(300)).header("Authorization", "Bearer " + KEY)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body(prompt, false))).build();
        CompletableFuture<HttpResponse<String>> leader = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                .sendAsync(impatient, HttpResponse.BodyHandlers.ofString());
        Thread.sleep(100);
        List<CompletableFuture<HttpResponse<String>>> followers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            followers.add(send(prompt, i % 2 == 0));
        }
        assertThat(leader).failsWithin(Duration.ofSeconds(5)); // its client gave up at 300 ms

        List<String> texts = followers.stream().map(CompletableFuture::join).map(CoalescingTest::text).toList();
        assertThat(texts).allMatch(t -> t.endsWith(prompt) && t.equals(texts.get(0)));
        assertThat(upstream.calls.get() - before).isEqualTo(1);
    }

    @Test
    void whenTheLeaderFailsEachFollowerCallsOnItsOwnAndNoneHangs() throws Exception {
        String prompt = "SLOW FAIL " + UUID.randomUUID();
        int before = upstream.calls.get();
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            all.add(send(prompt, i % 2 == 1));
        }
        List<Integer> statuses = all.stream().map(f -> f.orTimeout(20, TimeUnit.SECONDS).join().statusCode()).toList();

        assertThat(statuses).allMatch(s -> s >= 500);
        assertThat(upstream.calls.get() - before).isEqualTo(5); // the leader's call, then each follower's own
    }

    static String joined(List<String> texts) {
        return texts.stream().collect(Collectors.joining("|"));
    }
}
