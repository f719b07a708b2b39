package dev.caravan;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The packaged gateway as operators run it ({@code sh bin/caravan}, its JVM flags), in its own process: for tests
 * about what only a process shows (SIGTERM, two replicas). Its output goes to a log file in {@code dir}.
 */
public final class GatewayProcess implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private final Process process;
    private final int port;
    private final Path log;

    private GatewayProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts the jar with {@code gatewayYaml} and {@code env} (CARAVAN_* settings), and waits until it is ready. */
    public static GatewayProcess start(Path dir, String name, String gatewayYaml, Map<String, String> env) throws Exception {
        Files.createDirectories(dir);
        Path config = dir.resolve(name + ".yaml");
        Files.writeString(config, gatewayYaml);
        int port = TestGateway.freePort();
        Path log = dir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder("sh", "bin/caravan").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().remove("JAVA_OPTS");
        pb.environment().put("CARAVAN_PORT", Integer.toString(port));
        pb.environment().put("CARAVAN_CONFIG", config.toString());
        pb.environment().put("CARAVAN_MASTER_KEY", TestGateway.MASTER_KEY);
        pb.environment().put("CARAVAN_DATA_DIR", dir.resolve(name + "-data").toString());
        pb.environment().putAll(env);
        GatewayProcess gateway = new GatewayProcess(pb.start(), port, log);
        gateway.awaitReady();
        return gateway;
    }

    private void awaitReady() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                if (get("/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            if (!process.isAlive()) {
                throw new AssertionError("bin/caravan exited with " + process.exitValue() + ": " + Files.readString(log));
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("bin/caravan not ready within 60 s: " + Files.readString(log));
            }
            Thread.sleep(200);
        }
    }

    public int port() {
        return port;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Resident memory of the process, as {@code ps} reports it (kB). */
    public String rssKb() throws IOException {
        Process ps = new ProcessBuilder("ps", "-o", "rss=", "-p", Long.toString(process.pid())).start();
        return new String(ps.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> post(String path, String body, String key) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> delete(String path, String key) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl() + path)).timeout(Duration.ofSeconds(10))
                .header("Authorization", "Bearer " + key).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    }

    public Path log() {
        return log;
    }

    /** SIGTERM, then waits for the exit (the drain included); returns the exit code. */
    public int terminate() throws Exception {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("bin/caravan did not exit within 60 s of SIGTERM");
        }
        return process.exitValue();
    }

    /** SIGKILL (no drain, no shutdown hook: a crash), then waits for the exit. */
    public void kill() throws Exception {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("bin/caravan did not exit within 30 s of SIGKILL");
        }
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            terminate();
        }
    }
}
