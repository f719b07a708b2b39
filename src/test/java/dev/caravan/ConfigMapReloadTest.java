package dev.caravan;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.caravan.config.ReloadWatcher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.io.IOException;
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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * config/ and routes/ mounted as Kubernetes ConfigMap volumes: the kubelet never writes gateway.yaml, it swaps a
 * {@code ..data} symlink, and the swap still reloads. Without file events (NFS), the content poll applies an edit.
 */
class ConfigMapReloadTest {

    static final String AUTH = "Bearer " + TestGateway.MASTER_KEY;
    static final String ROUTES_SUCCESSES = "caravan_config_reload_total{kind=\"routes\",result=\"success\"}";
    static final String CONFIG_SUCCESSES = "caravan_config_reload_total{kind=\"config\",result=\"success\"}";
    static final String CONFIG_FAILURES = "caravan_config_reload_total{kind=\"config\",result=\"failure\"}";
    static final ListAppender<ILoggingEvent> LOG = new ListAppender<>();

    static Gateway kube;
    static KubeletVolume configVolume;
    static KubeletVolume routesVolume;

    static String config(String extraModel) {
        return """
                providers: { mock: { type: mock } }
                models:
                  - name: assistant
                    deployments: [ { provider: mock, model: assistant } ]
                """ + (extraModel == null ? "" : """
                  - name: %s
                    deployments: [ { provider: mock, model: %s } ]
                """.formatted(extraModel, extraModel));
    }

    static String chat(String model) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    static Map<String, String> repoRoutes() throws IOException {
        Map<String, String> files = new LinkedHashMap<>();
        try (Stream<Path> list = Files.list(Path.of("routes"))) {
            for (Path f : list.sorted().toList()) {
                files.put(f.getFileName().toString(), Files.readString(f));
            }
        }
        return files;
    }

    @BeforeAll
    static void start() throws Exception {
        LOG.start();
        ((Logger) LoggerFactory.getLogger(ReloadWatcher.class)).addAppender(LOG);
        Path dir = Files.createTempDirectory("caravan-configmap");
        configVolume = KubeletVolume.create(dir.resolve("config"), Map.of("gateway.yaml", config(null)));
        routesVolume = KubeletVolume.create(dir.resolve("routes"), repoRoutes());
        kube = new Gateway(dir, configVolume.dir.resolve("gateway.yaml"), routesVolume.dir, Map.of());
    }

    @AfterAll
    static void stop() throws Exception {
        ((Logger) LoggerFactory.getLogger(ReloadWatcher.class)).detachAppender(LOG);
        if (kube != null) {
            kube.close();
        }
    }

    @Test
    void aConfigMapSwapOfGatewayYamlAppliesAndABadSwapIsRefusedWithTheOldConfigServing() throws Exception {
        assertThat(kube.post("/v1/chat/completions", chat("added")).statusCode()).isNotEqualTo(200);

        configVolume.update(Map.of("gateway.yaml", config("added")));
        TestGateway.eventually(() -> kube.post("/v1/chat/completions", chat("added")).statusCode() == 200,
                "the model added by the swap is callable");
        assertThat(kube.get("/health/ready").body()).contains("\"lastReload\":\"ok\"");

        double failures = kube.metric(CONFIG_FAILURES);
        configVolume.update(Map.of("gateway.yaml", config("added").replace("type: mock }", "type: magic }")));
        TestGateway.eventually(() -> kube.metric(CONFIG_FAILURES) == failures + 1, "the bad swap is refused");
        assertThat(LOG.list.stream().map(ILoggingEvent::getFormattedMessage))
                .anyMatch(line -> line.startsWith("Refused to reload gateway.yaml: the previous config keeps serving."));
        assertThat(kube.post("/v1/chat/completions", chat("added")).statusCode()).isEqualTo(200);
        assertThat(kube.get("/health/ready").body()).contains("\"lastReload\":\"failed: gateway.yaml at ");

        configVolume.update(Map.of("gateway.yaml", config(null)));
        TestGateway.eventually(() -> kube.post("/v1/chat/completions", chat("added")).statusCode() != 200,
                "a good swap after the bad one applies");
    }

    @Test
    void aConfigMapSwapOfRoutesReloadsEachChangedFileOnceNewOnesIncluded() throws Exception {
        Map<String, String> original = repoRoutes();
        String route = original.get("route.camel.yaml");
        String withProbe = route.replace("      steps:\n",
                "      steps:\n        - setHeader:\n            name: x-caravan-probe\n            constant: v2\n");
        assertThat(withProbe).isNotEqualTo(route);
        Map<String, String> next = new LinkedHashMap<>(original);
        next.put("route.camel.yaml", withProbe);
        next.put("extra.camel.yaml", """
                # a step added through the ConfigMap: answers direct:configmap-extra
                - route:
                    id: configmap-extra
                    from:
                      uri: direct:configmap-extra
                      steps:
                        - setBody: { constant: extra }
                """);
        double successes = kube.metric(ROUTES_SUCCESSES);

        routesVolume.update(next);
        TestGateway.eventually(() -> "v2".equals(kube.post("/v1/chat/completions", chat("assistant"))
                .headers().firstValue("x-caravan-probe").orElse(null)), "the route edited through the swap serves");
        TestGateway.eventually(() -> kube.caravan.context().getRoute("configmap-extra") != null,
                "the route file that arrived with the swap is loaded");
        Thread.sleep(1_000); // more events from the swap (the old folder deleted) and a poll: nothing reloads again
        assertThat(kube.metric(ROUTES_SUCCESSES)).as("exactly the two changed files").isEqualTo(successes + 2);

        routesVolume.update(original);
        TestGateway.eventually(() -> kube.post("/v1/chat/completions", chat("assistant"))
                .headers().firstValue("x-caravan-probe").isEmpty(), "the original route serves again");
    }

    @Test
    void withoutFileEventsThePollAppliesAnEditWithinItsIntervalAndATouchReloadsNothing() throws Exception {
        Path dir = Files.createTempDirectory("caravan-poll");
        Path configFile = dir.resolve("config/gateway.yaml");
        Files.createDirectories(configFile.getParent());
        Files.writeString(configFile, config(null));
        Path routes = dir.resolve("routes");
        Files.createDirectories(routes);
        for (Map.Entry<String, String> f : repoRoutes().entrySet()) {
            Files.writeString(routes.resolve(f.getKey()), f.getValue());
        }
        try (Gateway polled = new Gateway(dir, configFile, routes,
                Map.of("caravan.reloadEvents", "false", "caravan.reloadPoll", "500ms"))) {
            double successes = polled.metric(CONFIG_SUCCESSES);
            Files.writeString(configFile, config("polled"));
            long edited = System.nanoTime();
            TestGateway.eventually(() -> polled.post("/v1/chat/completions", chat("polled")).statusCode() == 200,
                    "the edit applies by polling");
            assertThat(Duration.ofNanos(System.nanoTime() - edited)).as("within the poll interval, plus a reload")
                    .isLessThan(Duration.ofMillis(2_500));
            assertThat(polled.metric(CONFIG_SUCCESSES)).isEqualTo(successes + 1);

            // an editor's touch: a new modification time, the same bytes
            Files.setLastModifiedTime(configFile, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5_000));
            Thread.sleep(1_500);
            assertThat(polled.metric(CONFIG_SUCCESSES)).as("the same content is not reloaded").isEqualTo(successes + 1);
        }
    }

    /**
     * A folder laid out the way the kubelet mounts a ConfigMap: {@code ..<timestamp>/} holds the files,
     * {@code ..data} links to it, and each visible name links into {@code ..data}. An update writes a new timestamped
     * folder, points {@code ..data_tmp} at it, renames that over {@code ..data} and deletes the old folder.
     */
    static final class KubeletVolume {
        final Path dir;
        private int version;
        private Path current;

        private KubeletVolume(Path dir) {
            this.dir = dir;
        }

        static KubeletVolume create(Path dir, Map<String, String> files) throws IOException {
            Files.createDirectories(dir);
            KubeletVolume volume = new KubeletVolume(dir);
            volume.update(files);
            return volume;
        }

        void update(Map<String, String> files) throws IOException {
            Path next = dir.resolve("..2026_12_02_10_00_%02d.%03d".formatted(version / 1000, version % 1000));
            version++;
            Files.createDirectory(next);
            for (Map.Entry<String, String> f : files.entrySet()) {
                Files.writeString(next.resolve(f.getKey()), f.getValue());
            }
            Path tmp = dir.resolve("..data_tmp");
            Files.createSymbolicLink(tmp, next.getFileName());
            Files.move(tmp, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE); // rename(2) over the old link
            for (String name : files.keySet()) {
                Path visible = dir.resolve(name);
                if (!Files.isSymbolicLink(visible)) {
                    Files.createSymbolicLink(visible, Path.of("..data", name));
                }
            }
            try (Stream<Path> list = Files.list(dir)) {
                for (Path visible : list.toList()) {
                    String name = visible.getFileName().toString();
                    if (!name.startsWith("..") && !files.containsKey(name)) {
                        Files.delete(visible);
                    }
                }
            }
            if (current != null) {
                deleteTree(current);
            }
            current = next;
        }
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** A gateway started on a given config file and routes folder (TestGateway copies its own). */
    static final class Gateway implements AutoCloseable {
        final Path dir;
        final int port = TestGateway.freePort();
        final Caravan caravan;
        final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

        Gateway(Path dir, Path configFile, Path routesDir, Map<String, String> properties) throws Exception {
            this.dir = dir;
            Properties overrides = new Properties();
            overrides.setProperty("caravan.host", "127.0.0.1");
            overrides.setProperty("caravan.port", Integer.toString(port));
            overrides.setProperty("caravan.shutdownGrace", "5s");
            overrides.setProperty("camel.main.shutdownTimeout", "5");
            overrides.setProperty("caravan.dataDir", dir.resolve("data").toString());
            overrides.putAll(properties);
            caravan = new Caravan(new Caravan.Options(configFile, Path.of("config/application.properties"), routesDir,
                    TestGateway.MASTER_KEY, overrides));
            caravan.start();
        }

        HttpResponse<String> get(String path) {
            return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("Authorization", AUTH)
                    .timeout(Duration.ofSeconds(20)).GET().build());
        }

        HttpResponse<String> post(String path, String body) {
            return send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("Authorization", AUTH)
                    .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body)).build());
        }

        double metric(String nameWithLabels) {
            for (String line : get("/metrics").body().split("\n")) {
                if (line.startsWith(nameWithLabels + " ")) {
                    return Double.parseDouble(line.substring(nameWithLabels.length() + 1).trim());
                }
            }
            return 0;
        }

        private HttpResponse<String> send(HttpRequest request) {
            try {
                return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() throws Exception {
            try {
                caravan.stop();
            } finally {
                deleteTree(dir);
            }
        }
    }
}
