package dev.caravan;

import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Stopping (SIGTERM) lets open streams finish, refuses new work meanwhile, then exits. */
class ShutdownTest {

    @Test
    void openStreamsFinishWhileNewRequestsAreRefused() throws Exception {
        TestGateway gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
        String auth = "Bearer " + TestGateway.MASTER_KEY;
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest streaming = gateway.request("/v1/chat/completions", "Authorization", auth)
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"mock-slow\",\"stream\":true,\"max_tokens\":8,"
                        + "\"messages\":[{\"role\":\"user\",\"content\":\"long answer\"}]}")).build();
        CompletableFuture<HttpResponse<String>> stream = client.sendAsync(streaming, HttpResponse.BodyHandlers.ofString());
        long deadline = System.currentTimeMillis() + 5000;
        while (gateway.caravan().streams().openStreams() == 0 && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertThat(gateway.caravan().streams().openStreams()).isEqualTo(1);

        CompletableFuture<Void> stopping = CompletableFuture.runAsync(() -> {
            try {
                gateway.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(300);
        HttpResponse<String> refused = gateway.post("/v1/chat/completions",
                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "Authorization", auth);
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(refused.body()).contains("\"code\":\"shutting_down\"");
        assertThat(gateway.get("/health/ready").statusCode()).isEqualTo(503);

        HttpResponse<String> finished = stream.get();
        assertThat(finished.statusCode()).isEqualTo(200);
        assertThat(finished.body()).contains("\"finish_reason\":\"length\"").endsWith("data: [DONE]\n\n");
        stopping.get();
        assertThatThrownBy(() -> gateway.get("/health/live")).hasCauseInstanceOf(ConnectException.class);
    }
}
