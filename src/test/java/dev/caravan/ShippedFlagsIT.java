package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The packaged jar started the way operators start it ({@code sh bin/caravan}: its JVM flags, heap and all), run by
 * failsafe after {@code package}: one request at the documented 32 MiB limit, holding a 25 MB base64 image, is
 * answered; eight unauthenticated 31 MB uploads at once are refused from their headers and leave it serving.
 */
class ShippedFlagsIT {

    private static final String KEY = TestGateway.DEMO_KEY;
    private static GatewayProcess gateway;
    private static int port;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void start() throws Exception {
        assertThat(Path.of("target/caravan.jar")).exists();
        gateway = GatewayProcess.start(Files.createTempDirectory("caravan-it"), "shipped", TestGateway.MOCK_CONFIG, java.util.Map.of());
        port = gateway.port();
        System.out.println("bin/caravan idle RSS: " + gateway.rssKb() + " kB");
    }

    @AfterAll
    static void stop() throws Exception {
        if (gateway != null) {
            gateway.close(); // SIGTERM: drains and exits
        }
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> chat(byte[] body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + KEY)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A chat request of about 32 MiB: a 25 MB base64 image as a data URL, and a long text part. */
    private static byte[] bigChat() {
        byte[] image = new byte[18_750_000];
        new java.util.Random(7).nextBytes(image);
        String base64 = Base64.getEncoder().encodeToString(image); // 25,000,000 characters: one JSON string
        char[] text = new char[33_400_000 - base64.length()];
        Arrays.fill(text, 'a');
        String body = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"text\",\"text\":\"" + new String(text) + "\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64," + base64 + "\"}}]}]}";
        return body.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void binCaravanRunsFromAnyDirectoryWithTheJarConfigAndRoutesBesideIt() throws Exception {
        Path elsewhere = Files.createTempDirectory("caravan-elsewhere");
        String script = Path.of("bin/caravan").toAbsolutePath().toString();

        Process version = new ProcessBuilder("sh", script, "--version").directory(elsewhere.toFile())
                .redirectErrorStream(true).start();
        String printed = new String(version.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(version.waitFor()).as(printed).isZero();
        assertThat(printed).matches("caravan \\d+\\.\\d+\\.\\d+[-.\\w]*\\R");

        Process hash = new ProcessBuilder("sh", script, "key", "hash").directory(elsewhere.toFile()).start();
        hash.getOutputStream().write(KEY.getBytes(StandardCharsets.UTF_8));
        hash.getOutputStream().close();
        assertThat(new String(hash.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip())
                .isEqualTo("bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4"); // config/gateway.yaml's demo key
        assertThat(hash.waitFor()).isZero();

        // served from elsewhere with no CARAVAN_CONFIG or CARAVAN_ROUTES: the checkout's config/ and routes/
        int otherPort = TestGateway.freePort();
        Path log = elsewhere.resolve("caravan.log");
        ProcessBuilder pb = new ProcessBuilder("sh", script).directory(elsewhere.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        List.of("CARAVAN_CONFIG", "CARAVAN_PROPERTIES", "CARAVAN_ROUTES", "CARAVAN_JAR").forEach(pb.environment()::remove);
        pb.environment().put("JAVA_OPTS", "-Xmx160m"); // a second gateway beside the one above: keep it small
        pb.environment().put("CARAVAN_PORT", Integer.toString(otherPort));
        pb.environment().put("CARAVAN_DATA_DIR", elsewhere.resolve("data").toString());
        Process served = pb.start();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            HttpResponse<String> models = null;
            while (models == null) {
                try {
                    models = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + otherPort + "/v1/models"))
                            .header("Authorization", "Bearer " + KEY).timeout(Duration.ofSeconds(10)).build(),
                            HttpResponse.BodyHandlers.ofString());
                } catch (IOException e) {
                    assertThat(served.isAlive()).as(Files.readString(log)).isTrue();
                    assertThat(System.nanoTime()).as(Files.readString(log)).isLessThan(deadline);
                    Thread.sleep(200);
                }
            }
            assertThat(models.statusCode()).as(models.body()).isEqualTo(200);
            assertThat(models.body()).contains("mock-gpt");
            assertThat(Files.readString(log)).contains("Caravan listening on 0.0.0.0:" + otherPort + ": ");
        } finally {
            served.destroy();
            served.waitFor(60, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    @Test
    void requestAtTheDocumentedBodyLimitWithA25MegabyteImageIsAnswered() throws Exception {
        byte[] body = bigChat();
        assertThat(body.length).isBetween(33_000_000, 33_554_432);
        for (int i = 0; i < 2; i++) {
            HttpResponse<String> response = chat(body);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(response.body()).contains("chat.completion");
        }
        System.out.println("bin/caravan RSS after two 32 MiB requests: " + gateway.rssKb() + " kB");
    }

    @Test
    void eightUnauthenticatedUploadsAtOnceAreRefusedAndTheGatewayServesOn() throws Exception {
        byte[] upload = new byte[31_000_000];
        Arrays.fill(upload, (byte) 'a');
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                results.add(pool.submit(() -> {
                    try (RawHttp raw = new RawHttp(port)) {
                        raw.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                + "Content-Length: " + upload.length + "\r\n\r\n");
                        try {
                            raw.send(upload);
                        } catch (IOException e) {
                            // refused and closed while sending: the answer may still be readable
                        }
                        return raw.readResponse();
                    } catch (IOException e) {
                        return "closed";
                    }
                }));
            }
            for (Future<String> r : results) {
                assertThat(r.get()).satisfiesAnyOf(
                        s -> assertThat(s).startsWith("HTTP/1.1 401"),
                        s -> assertThat(s).isEqualTo("closed"));
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(gateway.isAlive()).isTrue();
        assertThat(get("/health/live").statusCode()).isEqualTo(200);
        String small = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"still there?\"}]}";
        assertThat(chat(small.getBytes(StandardCharsets.UTF_8)).statusCode()).isEqualTo(200);
    }
}
