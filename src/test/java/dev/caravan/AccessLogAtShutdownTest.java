package dev.caravan;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The access log is written in batches off the request path; a process stopped with SIGTERM right after its last
 * requests still writes their lines before it exits. Runs the gateway as its own process with the production
 * logging configuration, stdout to a file.
 */
class AccessLogAtShutdownTest {

    @Test
    void theLastRequestsLinesReachStdoutBeforeTheProcessExits() throws Exception {
        Path dir = Files.createTempDirectory("caravan-access");
        Path config = dir.resolve("gateway.yaml");
        Files.writeString(config, TestGateway.MOCK_CONFIG);
        Path out = dir.resolve("stdout.log");
        int port = TestGateway.freePort();
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=" + Path.of("src/main/resources/logback.xml").toAbsolutePath(),
                "-cp", System.getProperty("java.class.path"), "dev.caravan.Caravan");
        pb.environment().put("CARAVAN_CONFIG", config.toString());
        pb.environment().put("CARAVAN_PORT", Integer.toString(port));
        pb.environment().put("CARAVAN_MASTER_KEY", TestGateway.MASTER_KEY);
        pb.redirectOutput(out.toFile());
        pb.redirectError(dir.resolve("stderr.log").toFile());
        Process gateway = pb.start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + port;
            long deadline = System.currentTimeMillis() + 60_000;
            boolean ready = false;
            while (!ready && System.currentTimeMillis() < deadline && gateway.isAlive()) {
                try {
                    ready = http.send(HttpRequest.newBuilder(URI.create(base + "/health/ready")).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                } catch (java.io.IOException notYet) {
                    Thread.sleep(200);
                }
            }
            assertThat(ready).as(Files.readString(dir.resolve("stderr.log"))).isTrue();

            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                        .header("Authorization", "Bearer " + TestGateway.MASTER_KEY)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(
                                "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"line " + i + "\"}]}"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).isEqualTo(200);
                ids.add(r.headers().firstValue("x-caravan-request-id").orElseThrow());
            }
            // a stream still open at SIGTERM: the drain lets it finish, and its line is written as it ends, just
            // before the process exits
            var stream = http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                    .header("Authorization", "Bearer " + TestGateway.MASTER_KEY)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"mock-slow\",\"stream\":true,\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"last\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            Thread.sleep(300);
            gateway.destroy(); // SIGTERM, at once: the lines may still be queued
            HttpResponse<String> streamed = stream.get(30, TimeUnit.SECONDS);
            assertThat(streamed.body()).endsWith("data: [DONE]\n\n");
            ids.add(streamed.headers().firstValue("x-caravan-request-id").orElseThrow());
            assertThat(gateway.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String log = Files.readString(out);
            for (String id : ids) {
                assertThat(log).contains("\"request_id\":\"" + id + "\"");
            }
        } finally {
            gateway.destroyForcibly();
        }
    }
}
