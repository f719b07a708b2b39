package dev.caravan.config;

import dev.caravan.transport.http.StreamRegistry;
import dev.caravan.observe.GatewayMetrics;
import io.micrometer.core.instrument.Counter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A reload that fails while it is applied, whatever it throws, is a refused reload: the previous config is back
 * in place (listeners told again), the failure is counted, and the watcher thread takes the next edit.
 */
class ReloadWatcherTest {

    static String config(String model) {
        return """
                providers: { mock: { type: mock } }
                models: [ { name: %s, deployments: [ { provider: mock, model: m } ] } ]
                """.formatted(model);
    }

    final Path dir = temp();
    final Path file = dir.resolve("gateway.yaml");
    final ConfigLoader loader = new ConfigLoader(Map.<String, String>of()::get);
    final GatewayMetrics metrics = new GatewayMetrics(new StreamRegistry());
    final List<String> applied = new ArrayList<>();
    ConfigHolder holder;
    ReloadWatcher watcher;

    static Path temp() {
        try {
            Path dir = Files.createTempDirectory("caravan-reload");
            Files.createDirectories(dir.resolve("routes"));
            return dir;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    void setUp(String initial, RuntimeException onRuntime, Error onError) throws Exception {
        Files.writeString(file, config(initial));
        holder = new ConfigHolder(loader.load(file));
        holder.onChange(next -> {
            String name = next.models().keySet().iterator().next();
            applied.add(name);
            if (name.equals("explode") && onRuntime != null) {
                throw onRuntime;
            }
            if (name.equals("explode") && onError != null) {
                throw onError;
            }
        });
        watcher = new ReloadWatcher(null, holder, loader, file, dir.resolve("routes"), metrics::configReload, () -> { });
    }

    double failures() {
        Counter c = metrics.registry().find("caravan.config.reload").tags("kind", "config", "result", "failure").counter();
        return c == null ? 0 : c.count();
    }

    String live() {
        return holder.get().models().keySet().iterator().next();
    }

    @AfterEach
    void cleanUp() throws Exception {
        if (watcher != null) {
            watcher.stop();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void aListenerThatThrowsRollsTheSwapBackAndCountsAFailure() throws Exception {
        setUp("before", new IllegalStateException("cannot create the route of deployment x"), null);
        Files.writeString(file, config("explode"));
        assertThat(watcher.reloadConfig()).isFalse();
        assertThat(live()).isEqualTo("before");
        assertThat(applied).containsExactly("explode", "before"); // told again: the running state is the old one
        assertThat(failures()).isEqualTo(1);
        assertThat(holder.lastReload()).startsWith("failed: gateway.yaml at ");

        Files.writeString(file, config("after"));
        assertThat(watcher.reloadConfig()).isTrue();
        assertThat(live()).isEqualTo("after");
        assertThat(holder.lastReload()).isEqualTo("ok");
    }

    @Test
    void anErrorShortOfAVirtualMachineErrorIsARefusedReloadToo() throws Exception {
        setUp("before", null, new NoClassDefFoundError("some/Missing"));
        Files.writeString(file, config("explode"));
        assertThat(watcher.reloadConfig()).isFalse();
        assertThat(live()).isEqualTo("before");
        assertThat(failures()).isEqualTo(1);
    }

    @Test
    void theWatcherThreadOutlivesAFailedApplyAndTakesTheNextEdit() throws Exception {
        setUp("before", null, new AssertionError("boom"));
        watcher.start();
        Files.writeString(file, config("explode"));
        long deadline = System.currentTimeMillis() + 10_000;
        while (failures() < 1) {
            assertThat(System.currentTimeMillis()).as("the failure is counted").isLessThan(deadline);
            Thread.sleep(50);
        }
        Files.writeString(file, config("after"));
        while (!live().equals("after")) {
            assertThat(System.currentTimeMillis()).as("the next edit applies").isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    @Test
    void thePollRefusesABadFileOnceAndAppliesTheNextEditWithoutFileEvents() throws Exception {
        setUp("before", null, null);
        watcher.start(java.time.Duration.ofMillis(100), false);
        Files.writeString(file, config("before").replace("type: mock", "type: magic"));
        long deadline = System.currentTimeMillis() + 10_000;
        while (failures() < 1) {
            assertThat(System.currentTimeMillis()).as("the refusal is counted").isLessThan(deadline);
            Thread.sleep(50);
        }
        Thread.sleep(600); // six polls more of the same bad bytes
        assertThat(failures()).as("the same content is not refused again").isEqualTo(1);
        Files.writeString(file, config("after"));
        while (!live().equals("after")) {
            assertThat(System.currentTimeMillis()).as("the next edit applies").isLessThan(deadline);
            Thread.sleep(50);
        }
        assertThat(applied).containsExactly("after");
    }
}
