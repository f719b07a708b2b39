package dev.caravan;

import org.junit.jupiter.api.Test;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Many slow streams open at once, far more than the gateway has worker threads (a handful on 2 cores): if a stream
 * held a thread while it waited, they would queue behind each other and a plain request would wait behind them.
 */
class OpenStreamsHoldNoThreadsTest {

    @Test
    void hundredsOfSlowStreamsStayOpenTogetherAndOtherRequestsStillAnswer() throws Exception {
        int streams = 200;
        try (TestGateway gateway = TestGateway.start("""
                providers:
                  mock: { type: mock }
                  drip: { type: mock, chunkInterval: 250ms }
                models:
                  - name: mock-gpt
                    deployments: [ { provider: mock, model: mock-gpt } ]
                  - name: drip
                    deployments: [ { provider: drip, model: drip } ]
                """)) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            HttpClient client = HttpClient.newBuilder().executor(pool).build();
            String auth = "Bearer " + TestGateway.MASTER_KEY;
            List<CompletableFuture<HttpResponse<String>>> open = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                HttpRequest r = gateway.request("/v1/chat/completions", "Authorization", auth)
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"drip\",\"stream\":true,\"max_tokens\":8,"
                                + "\"messages\":[{\"role\":\"user\",\"content\":\"stream " + i + "\"}]}")).build();
                open.add(client.sendAsync(r, HttpResponse.BodyHandlers.ofString()));
            }
            long deadline = System.currentTimeMillis() + 10_000;
            int peak = 0;
            while (System.currentTimeMillis() < deadline && peak < streams) {
                peak = Math.max(peak, gateway.caravan().streams().openStreams());
                Thread.sleep(10);
            }
            assertThat(peak).as("streams open at the same time").isEqualTo(streams);

            long start = System.nanoTime();
            HttpResponse<String> plain = gateway.post("/v1/chat/completions",
                    "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"quick\"}]}", "Authorization", auth);
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(plain.statusCode()).isEqualTo(200);
            assertThat(millis).as("a plain request beside %d open streams", streams).isLessThan(1_000);

            for (CompletableFuture<HttpResponse<String>> f : open) {
                HttpResponse<String> r = f.get();
                assertThat(r.statusCode()).isEqualTo(200);
                assertThat(r.body()).endsWith("data: [DONE]\n\n");
                assertThat(r.body().split("\n\n")).hasSize(11); // role, 8 words, finish, [DONE]; usage not asked for
            }
            pool.shutdownNow();
        }
    }
}
