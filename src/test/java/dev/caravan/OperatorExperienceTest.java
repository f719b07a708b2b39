package dev.caravan;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What an operator sees on the command line: {@code java dev.caravan.Caravan} in a child JVM with the shipped
 * logging, as {@code java -jar caravan.jar} runs it (--help, --version, key new and key hash, the start line, the
 * one-line start failures).
 */
class OperatorExperienceTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    record Run(int exitCode, String stdout, String stderr) {
        List<String> errorLines() {
            return stderr.lines().filter(l -> l.contains("ERROR")).toList();
        }
    }

    private final Path dir = createTempDir();
    private Process serving;

    private static Path createTempDir() {
        try {
            return Files.createTempDirectory("caravan-operator");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (serving != null && serving.isAlive()) {
            serving.destroy();
            if (!serving.waitFor(60, TimeUnit.SECONDS)) {
                serving.destroyForcibly();
            }
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private ProcessBuilder caravan(Map<String, String> env, String... args) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                // the shipped logging, not the tests': what an operator sees
                "-Dlogback.configurationFile=" + Path.of("src/main/resources/logback.xml").toAbsolutePath(),
                Caravan.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("CARAVAN_MASTER_KEY");
        pb.environment().put("CARAVAN_DATA_DIR", Files.createDirectories(dir.resolve("data")).toString());
        pb.environment().putAll(env);
        return pb;
    }

    /** Runs a command (or a start that fails) to its end; stdin gets {@code input}. */
    private Run run(Map<String, String> env, String input, String... args) throws Exception {
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process p = caravan(env, args).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("still running after 60 s: " + Files.readString(err));
        }
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private Map<String, String> configured(String gatewayYaml, int port) throws IOException {
        Path config = dir.resolve("gateway.yaml");
        Files.writeString(config, gatewayYaml);
        return Map.of("CARAVAN_CONFIG", config.toString(), "CARAVAN_PORT", Integer.toString(port));
    }

    /** Starts the gateway and waits until it is ready; its log is returned by {@link #log()}. */
    private int serve(String gatewayYaml) throws Exception {
        int port = TestGateway.freePort();
        serving = caravan(configured(gatewayYaml, port)).redirectErrorStream(true)
                .redirectOutput(dir.resolve("serving.log").toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                if (get(port, "/health/ready", null).statusCode() == 200 && log().contains("Caravan listening")) {
                    return port;
                }
            } catch (IOException e) {
                // not listening yet
            }
            assertThat(serving.isAlive()).as(log()).isTrue();
            assertThat(System.nanoTime()).as("not ready within 60 s: %s", log()).isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private String log() throws IOException {
        return Files.readString(dir.resolve("serving.log"));
    }

    private static HttpResponse<String> get(int port, String path, String key) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String sha256(String text) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static final String ONE_MODEL = """
            providers:
              mock: { type: mock }
            models:
              - name: m
                deployments: [ { provider: mock, model: m } ]
            """;

    @Test
    void helpAndVersionPrintToStdoutAndExitZero() throws Exception {
        Run help = run(Map.of(), "", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.stdout()).startsWith("Usage: caravan").contains("key new", "key hash", "audit verify",
                "--version", "Exit codes");
        assertThat(help.stderr()).isEmpty();

        Run version = run(Map.of(), "", "--version");
        assertThat(version.exitCode()).isZero();
        assertThat(version.stdout()).matches("caravan \\d+\\.\\d+\\.\\d+[-.\\w]*\\R");

        Run unknown = run(Map.of(), "", "--no-such-flag");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.stderr().strip()).isEqualTo("caravan: unknown argument '--no-such-flag' (see caravan --help)");
    }

    @Test
    void keyNewPrintsAKeyItsSha256AndAConfigLineThatLetsTheKeyCallTheGateway() throws Exception {
        Run made = run(Map.of(), "", "key", "new", "ci-bot");
        assertThat(made.exitCode()).as(made.stderr()).isZero();
        Matcher key = Pattern.compile("(?m)^key: +(sk-cvn-[0-9A-Za-z]{32})$").matcher(made.stdout());
        Matcher hash = Pattern.compile("(?m)^sha256: +([0-9a-f]{64})$").matcher(made.stdout());
        Matcher line = Pattern.compile("(?m)^(  - \\{ id: ci-bot, sha256: ([0-9a-f]{64}), role: user })$").matcher(made.stdout());
        assertThat(key.find() && hash.find() && line.find()).as(made.stdout()).isTrue();
        assertThat(hash.group(1)).isEqualTo(sha256(key.group(1))).isEqualTo(line.group(2));
        assertThat(run(Map.of(), "", "key", "new").stdout()).doesNotContain(key.group(1)); // a new key each time

        int port = serve(ONE_MODEL + "keys:\n" + line.group(1) + "\n");
        assertThat(get(port, "/v1/models", key.group(1)).statusCode()).isEqualTo(200);
        assertThat(get(port, "/v1/models", "sk-cvn-" + "x".repeat(32)).statusCode()).isEqualTo(401);
        assertThat(log()).contains("Caravan listening on 0.0.0.0:" + port + ": 1 model, 1 deployment, 1 key; reload on")
                .doesNotContain("no key can call");
    }

    @Test
    void keyHashPrintsTheSha256OfTheKeyOnStdinOrGiven() throws Exception {
        String demoHash = sha256(TestGateway.DEMO_KEY);
        Run piped = run(Map.of(), TestGateway.DEMO_KEY + "\n", "key", "hash"); // echo's line break is not the key's
        assertThat(piped.exitCode()).isZero();
        assertThat(piped.stdout()).isEqualTo(demoHash + System.lineSeparator());
        assertThat(run(Map.of(), "", "key", "hash", TestGateway.DEMO_KEY).stdout().strip()).isEqualTo(demoHash);

        Run nothing = run(Map.of(), "", "key", "hash");
        assertThat(nothing.exitCode()).isEqualTo(2);
        assertThat(nothing.stderr()).contains("no key on stdin");
    }

    @Test
    void startLineCountsModelsDistinctDeploymentsAndKeysAndAGatewayNoOneCanCallSaysSo() throws Exception {
        int port = serve("""
                providers:
                  mock: { type: mock }
                models:
                  - name: a
                    deployments: [ { id: shared, provider: mock, model: m }, { provider: mock, model: other } ]
                  - name: b
                    deployments: [ { id: shared, provider: mock, model: m } ]
                """);
        String log = log();
        assertThat(log.lines().filter(l -> l.contains("Caravan listening"))).singleElement().asString()
                .endsWith("INFO  [main] dev.caravan.Caravan - Caravan listening on 0.0.0.0:" + port
                        + ": 2 models, 2 deployments, 0 keys; reload on");
        assertThat(log.lines().filter(l -> l.contains(" WARN ")))
                .anyMatch(l -> l.endsWith("no key can call this gateway: add keys to config/gateway.yaml or set CARAVAN_MASTER_KEY"));
        // quiet: no Netty bootstrap dump, no list of routes or properties, no placeholder lines
        assertThat(log).doesNotContain("BootstrapFactory", "bootstrap configuration", "Started ingress-http",
                "Routes startup", "summary", "[LocalProperties]", "deploymentId =", "\tat ");
        assertThat(log.lines().count()).as(log).isLessThanOrEqualTo(8);
    }

    @Test
    void aPortInUseStopsStartWithOneLineNamingItAndExitCode1() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("0.0.0.0", 0));
            Run run = run(configured(ONE_MODEL, taken.getLocalPort()), "");
            assertThat(run.exitCode()).as(run.stderr()).isEqualTo(1);
            assertThat(run.stderr()).doesNotContain("\tat ").doesNotContain("Exception");
            assertThat(run.errorLines()).as(run.stderr()).singleElement().asString().endsWith(
                    "Caravan cannot start: port " + taken.getLocalPort() + " on 0.0.0.0 is already in use (caravan.port)");
        }
    }

    @Test
    void aYamlSyntaxErrorStopsStartNamingItsLineAndColumn() throws Exception {
        Run run = run(configured("""
                providers:
                  mock: { type: mock }
                models:
                  - name: m
                   deployments: [ { provider: mock, model: m } ]
                """, TestGateway.freePort()), "");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.errorLines()).as(run.stderr()).singleElement().asString()
                .contains("Caravan cannot start: ", "gateway.yaml is invalid: not valid YAML at line 5, column 4: ");
    }

    @Test
    void aRouteFileThatIsNotYamlStopsStartNamingTheFileLineAndColumn() throws Exception {
        Path routes = Files.createDirectories(dir.resolve("routes"));
        try (Stream<Path> files = Files.list(Path.of("routes"))) {
            for (Path f : files.toList()) {
                Files.copy(f, routes.resolve(f.getFileName()));
            }
        }
        Files.writeString(routes.resolve("broken.camel.yaml"), """
                - route:
                    id: broken
                    from:
                      uri: direct:broken
                     steps: []
                """);
        Map<String, String> env = new java.util.HashMap<>(configured(ONE_MODEL, TestGateway.freePort()));
        env.put("CARAVAN_ROUTES", routes.toString());
        Run run = run(env, "");
        assertThat(run.exitCode()).as(run.stderr()).isEqualTo(2);
        assertThat(run.stderr()).doesNotContain("\tat ");
        assertThat(run.errorLines()).as(run.stderr()).singleElement().asString().contains("Caravan cannot start: "
                + routes.resolve("broken.camel.yaml") + ": not valid YAML at line 5, column 6: ");
    }

    @Test
    void aLiteralApiKeyIsRefusedInWordsNotWithTheSchemasRegex() throws Exception {
        Run run = run(configured("""
                providers:
                  openai: { type: openai, apiKey: sk-proj-written-into-the-file }
                models:
                  - name: m
                    deployments: [ { provider: openai, model: gpt-4o-mini } ]
                """, TestGateway.freePort()), "");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.errorLines()).as(run.stderr()).singleElement().asString()
                .contains("$.providers.openai.apiKey: literal secrets are refused; write ${env:NAME}")
                .doesNotContain("regex").doesNotContain("sk-proj-written-into-the-file");
    }
}
