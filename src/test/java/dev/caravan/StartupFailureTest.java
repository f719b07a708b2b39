package dev.caravan;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** A config that cannot serve stops {@code java dev.caravan.Caravan} with one line that says why and exit code 2. */
class StartupFailureTest {

    record Run(int exitCode, String output) {
        List<String> errorLines() {
            return output.lines().filter(l -> l.contains("ERROR")).toList();
        }
    }

    private final Path dir = createTempDir();

    private static Path createTempDir() {
        try {
            return Files.createTempDirectory("caravan-startup");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterEach
    void cleanUp() throws Exception {
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    Run start(String gatewayYaml, Path routes) throws Exception {
        Path config = dir.resolve("gateway.yaml");
        Files.writeString(config, gatewayYaml);
        Path out = dir.resolve("out.txt");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                // the shipped logging, not the tests': what an operator sees
                "-Dlogback.configurationFile=" + Path.of("src/main/resources/logback.xml").toAbsolutePath(),
                Caravan.class.getName())
                .redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().put("CARAVAN_CONFIG", config.toString());
        pb.environment().put("CARAVAN_PORT", Integer.toString(TestGateway.freePort()));
        pb.environment().put("CARAVAN_ROUTES", routes.toString());
        pb.environment().remove("CARAVAN_MASTER_KEY");
        Process p = pb.start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("still running after 30 s: " + Files.readString(out, StandardCharsets.UTF_8));
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    static String config(String modelLines) {
        return """
                providers:
                  mock: { type: mock }
                models:
                  - name: m
                    %s
                    deployments: [ { provider: mock, model: m } ]
                """.formatted(modelLines);
    }

    static void assertOneLineNaming(Run run, String... words) {
        assertThat(run.exitCode()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).as(run.output()).doesNotContain("\tat ").doesNotContain("Exception in thread");
        assertThat(run.errorLines()).as(run.output()).singleElement().asString()
                .contains("Caravan cannot start").contains(words);
    }

    @Test
    void aValueThatPassesTheSchemaButCannotBeUsedStopsStartWithOneLineAndExitCode2() throws Exception {
        assertOneLineNaming(start(config("timeout: 99999999999999999999s"), Path.of("routes")),
                "models[0].timeout", "too large");
        assertOneLineNaming(start("""
                providers:
                  local: { type: openai-compatible, baseUrl: "http://gpu box:8000/v1" }
                models:
                  - name: m
                    deployments: [ { provider: local, model: "llama?x" } ]
                """, Path.of("routes")), "providers.local.baseUrl", "models[0].deployments[0].model");
    }

    @Test
    void aDeploymentTemplateThatCannotBeStampedStopsStartWithOneLineAndExitCode2() throws Exception {
        Path routes = Files.createDirectories(dir.resolve("routes"));
        try (Stream<Path> files = Files.list(Path.of("routes"))) {
            for (Path f : files.toList()) {
                Files.copy(f, routes.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path template = routes.resolve("deployment.camel.yaml");
        Files.writeString(template, Files.readString(template).replace("uri: \"direct:deployment-{{deploymentId}}\"",
                "uri: \"direct:deployment-{{deploymentId}}?noSuchOption=true\""));
        assertOneLineNaming(start(config("timeout: 5s"), routes), "deployment", "noSuchOption");
    }
}
