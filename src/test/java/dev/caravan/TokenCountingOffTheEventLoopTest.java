package dev.caravan;

import dev.caravan.core.Json;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Counting the tokens of a large prompt is CPU work of up to seconds (1 MiB of text without spaces takes the
 * tokenizer ~2 s here; a count_tokens of it used to hold the event loop that long). It runs on the caravan-cpu pool: with one event loop, small requests answer quickly while
 * big counts run, and a full pool answers 503 with Retry-After rather than queueing without end.
 */
class TokenCountingOffTheEventLoopTest {

    /** {@code chars} random letters: one long "word", the tokenizer's slowest case. */
    static String bigCountBody(int chars) {
        Random random = new Random(7);
        StringBuilder text = new StringBuilder(chars);
        while (text.length() < chars) {
            text.append((char) ('a' + random.nextInt(26)));
        }
        return "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
    }

    static HttpResponse<String> count(TestGateway gateway, String body) {
        return gateway.post("/v1/messages/count_tokens", body, "x-api-key", TestGateway.MASTER_KEY,
                "content-type", "application/json");
    }

    @Test
    void smallRequestsAnswerQuicklyWhileBigCountsRunOnOneEventLoop() throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(2);
        try (TestGateway gateway = TestGateway.start(TestGateway.MOCK_CONFIG, Map.of("caravan.ioThreads", "1"))) {
            String big = bigCountBody(512 * 1024); // ~1 s of tokenizing each
            assertThat(gateway.get("/v1/models", "Authorization", "Bearer " + TestGateway.MASTER_KEY).statusCode())
                    .isEqualTo(200); // warm
            AtomicLong lastCountDone = new AtomicLong();
            List<CompletableFuture<HttpResponse<String>>> counts = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                counts.add(CompletableFuture.supplyAsync(() -> {
                    HttpResponse<String> r = count(gateway, big);
                    lastCountDone.accumulateAndGet(System.nanoTime(), Math::max);
                    return r;
                }, clients));
            }
            Thread.sleep(150); // both bodies are in and being counted

            List<Long> millis = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                long start = System.nanoTime();
                HttpResponse<String> small = gateway.get("/v1/models", "Authorization", "Bearer " + TestGateway.MASTER_KEY);
                millis.add((System.nanoTime() - start) / 1_000_000);
                assertThat(small.statusCode()).isEqualTo(200);
            }
            long smallDone = System.nanoTime();
            Collections.sort(millis);
            assertThat(millis.get(millis.size() / 2)).as("p50 of small requests, ms: " + millis).isLessThan(50);

            for (CompletableFuture<HttpResponse<String>> c : counts) {
                HttpResponse<String> r = c.join();
                assertThat(r.statusCode()).isEqualTo(200);
                JsonNode answer = Json.MAPPER.readTree(r.body());
                assertThat(answer.path("input_tokens").asLong()).isGreaterThan(150_000);
                assertThat(answer.path("caravan_estimated").asBoolean()).isTrue();
            }
            assertThat(lastCountDone.get()).as("the big counts were still running").isGreaterThan(smallDone);
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void aFullPoolAnswers503WithRetryAfterInAnthropicsShape() throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(4);
        try (TestGateway gateway = TestGateway.start(TestGateway.MOCK_CONFIG,
                Map.of("caravan.cpuThreads", "1", "caravan.cpuQueue", "1"))) {
            String big = bigCountBody(256 * 1024); // ~0.4 s each: the four arrive while the first is counted
            List<CompletableFuture<HttpResponse<String>>> counts = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                counts.add(CompletableFuture.supplyAsync(() -> count(gateway, big), clients));
            }
            List<HttpResponse<String>> refused = new ArrayList<>();
            int counted = 0;
            for (CompletableFuture<HttpResponse<String>> c : counts) {
                HttpResponse<String> r = c.join();
                if (r.statusCode() == 200) {
                    counted++;
                } else {
                    refused.add(r);
                }
            }
            assertThat(counted).isBetween(1, 2); // one running, one queued
            assertThat(refused).isNotEmpty().allSatisfy(r -> {
                assertThat(r.statusCode()).isEqualTo(503);
                assertThat(r.headers().firstValue("retry-after")).hasValue("1");
                JsonNode error = Json.MAPPER.readTree(r.body());
                assertThat(error.path("type").asText()).isEqualTo("error");
                assertThat(error.path("error").path("type").asText()).isEqualTo("overloaded_error");
            });
            assertThat(gateway.metric("caravan_cpu_rejected_total")).isEqualTo(refused.size());
        } finally {
            clients.shutdownNow();
        }
    }
}
