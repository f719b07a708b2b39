package dev.caravan;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * A real gateway for one test class: the repo's routes/ copied into a temp folder, the given gateway.yaml, a free
 * port on 127.0.0.1. Tests talk to it over HTTP only, as a user would.
 */
public final class TestGateway implements AutoCloseable {

    public static final String MASTER_KEY = "sk-test-master-key-0123456789";
    public static final String DEMO_KEY = "sk-caravan-demo";

    /**
     * A provider credential made up for one test run: its provider's prefix (so redaction patterns see the real
     * shape) and a random tail, never a literal in the source that a secret scanner would take for a real key.
     */
    public static String fakeProviderKey(String prefix) {
        return prefix + java.util.UUID.randomUUID().toString().replace("-", "");
    }

    /** Mock-only config: mock-gpt, a paced mock-slow, the demo key limited to mock-gpt. */
    public static final String MOCK_CONFIG = """
            providers:
              mock: { type: mock }
              mock-slow: { type: mock, latency: 50ms, chunkInterval: 200ms }
            models:
              - name: mock-gpt
                deployments: [ { provider: mock, model: mock-gpt } ]
              - name: mock-slow
                deployments: [ { provider: mock-slow, model: mock-slow } ]
            keys:
              - id: demo
                sha256: bd064c47a07f5e297c4d7198b05c97024eae96d2a4d18612def78da7f1307af4
                models: [mock-gpt]
            """;

    private final Path dir;
    private final Path configFile;
    private final Path routesDir;
    private final int port;
    private final Caravan caravan;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private TestGateway(String gatewayYaml, Map<String, String> properties) throws Exception {
        dir = Files.createTempDirectory("caravan-test");
        configFile = dir.resolve("config/gateway.yaml");
        routesDir = dir.resolve("routes");
        Files.createDirectories(configFile.getParent());
        Files.createDirectories(routesDir);
        Files.writeString(configFile, gatewayYaml);
        try (Stream<Path> files = Files.list(Path.of("routes"))) {
            for (Path f : files.toList()) {
                Files.copy(f, routesDir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        port = freePort();
        Properties overrides = new Properties();
        overrides.setProperty("caravan.host", "127.0.0.1");
        overrides.setProperty("caravan.port", Integer.toString(port));
        overrides.setProperty("caravan.shutdownGrace", "5s");
        overrides.setProperty("camel.main.shutdownTimeout", "5");
        overrides.setProperty("caravan.dataDir", dir.resolve("data").toString()); // the ledger's H2 file, per gateway
        overrides.putAll(properties);
        caravan = new Caravan(new Caravan.Options(configFile, Path.of("config/application.properties"), routesDir,
                MASTER_KEY, overrides));
        caravan.start();
    }

    public static TestGateway start(String gatewayYaml) throws Exception {
        return new TestGateway(gatewayYaml, Map.of());
    }

    public static TestGateway start(String gatewayYaml, Map<String, String> properties) throws Exception {
        return new TestGateway(gatewayYaml, properties);
    }

    public Caravan caravan() {
        return caravan;
    }

    public int port() {
        return port;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public Path configFile() {
        return configFile;
    }

    public Path routesDir() {
        return routesDir;
    }

    public OpenAIClient openai(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(baseUrl() + "/v1").apiKey(key).maxRetries(0)
                .timeout(Duration.ofSeconds(20)).build();
    }

    public HttpResponse<String> get(String path, String... headers) {
        return send(request(path, headers).GET().build());
    }

    public HttpResponse<String> post(String path, String body, String... headers) {
        return send(request(path, headers).POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    public HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public HttpRequest.Builder request(String path, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(20));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return b;
    }

    /** The Prometheus text of {@code GET /metrics} (on the API port it needs an admin or viewer key). */
    public String metrics() {
        return get("/metrics", "Authorization", "Bearer " + MASTER_KEY).body();
    }

    /** The body of {@code GET /health/deployments} (on the API port it needs an admin or viewer key). */
    public String healthDeployments() {
        return get("/health/deployments", "Authorization", "Bearer " + MASTER_KEY).body();
    }

    /** The value of one sample line, or 0 when absent. */
    public double metric(String nameWithLabels) {
        for (String line : metrics().split("\n")) {
            if (line.startsWith(nameWithLabels + " ")) {
                return Double.parseDouble(line.substring(nameWithLabels.length() + 1).trim());
            }
        }
        return 0;
    }

    /** Waits (up to 10 s, polling every 100 ms) until {@code condition} holds; fails naming {@code what}. */
    public static void eventually(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 10_000;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("waited 10 s for: " + what);
            }
            Thread.sleep(100);
        }
    }

    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            caravan.stop();
        } finally {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
