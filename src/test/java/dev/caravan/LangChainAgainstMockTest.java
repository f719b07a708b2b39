package dev.caravan;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LangChain JS ({@code @langchain/openai}: bindTools, a tool round trip, streamed tool calls, withStructuredOutput)
 * against the built-in mock, through HTTP as an agent framework calls it. The script and its pinned dependencies
 * live in src/test/node; {@code npm ci} runs once into target/node-mock (again only when the lock file changes).
 * No Node or no npm registry fails the test: it never skips.
 */
class LangChainAgainstMockTest {

    static final Path SOURCE = Path.of("src/test/node");
    static final Path WORK = Path.of("target/node-mock");

    static TestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = TestGateway.start(TestGateway.MOCK_CONFIG);
    }

    @AfterAll
    static void stop() throws Exception {
        gateway.close();
    }

    @Test
    void langChainJsBindsToolsAndGetsStructuredOutputFromTheMock() throws Exception {
        runScript("langchain-mock.mjs", "ok   withStructuredOutputGivesAMatchingObject");
    }

    @Test
    void theOfficialNodeSdksResponsesCreateAndStreamWorkAgainstTheMock() throws Exception {
        runScript("openai-responses.mjs", "ok   streamAssemblesTheEventsIntoTheFinalResponse");
    }

    /** Runs one script of src/test/node against the gateway: it must exit 0, fail nothing, and say {@code last}. */
    static void runScript(String script, String last) throws Exception {
        installOnce();
        Files.copy(SOURCE.resolve(script), WORK.resolve(script), StandardCopyOption.REPLACE_EXISTING);

        Run run = run(List.of("node", script), Map.of("CARAVAN_BASE_URL", gateway.baseUrl() + "/v1",
                "CARAVAN_API_KEY", TestGateway.DEMO_KEY), 120);

        System.out.println("node " + script + " against the mock, " + run.millis() + " ms:\n" + run.output());
        assertThat(run.exitCode()).as("node %s said:\n%s", script, run.output()).isZero();
        assertThat(run.output()).doesNotContain("FAIL").contains(last);
    }

    /** npm ci into target/, skipped when the installed lock file is the committed one. */
    static void installOnce() throws Exception {
        Files.createDirectories(WORK);
        Path lock = SOURCE.resolve("package-lock.json");
        Path installed = WORK.resolve("node_modules/.caravan-installed-lock.json");
        if (Files.exists(installed) && Files.mismatch(installed, lock) == -1) {
            return;
        }
        Files.copy(SOURCE.resolve("package.json"), WORK.resolve("package.json"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(lock, WORK.resolve("package-lock.json"), StandardCopyOption.REPLACE_EXISTING);
        Run npm = run(List.of("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"), Map.of(), 300);
        System.out.println("npm ci into " + WORK + ": " + npm.millis() + " ms");
        assertThat(npm.exitCode()).as("npm ci said:\n%s", npm.output()).isZero();
        Files.copy(lock, installed, StandardCopyOption.REPLACE_EXISTING);
    }

    record Run(int exitCode, String output, long millis) {
    }

    static Run run(List<String> command, Map<String, String> env, long timeoutSeconds) throws IOException, InterruptedException {
        long started = System.nanoTime();
        Path log = Files.createTempFile("caravan-node", ".log");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).directory(WORK.toFile()).redirectErrorStream(true)
                    .redirectOutput(log.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " took over " + timeoutSeconds + " s:\n"
                        + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8), (System.nanoTime() - started) / 1_000_000);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
