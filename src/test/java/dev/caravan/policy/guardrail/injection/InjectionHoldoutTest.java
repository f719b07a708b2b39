package dev.caravan.policy.guardrail.injection;

import dev.caravan.policy.cache.semantic.MiniLmEmbedder;
import dev.caravan.work.CpuPool;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The blind holdout: {@code caravan/injection-holdout.tsv} was written by someone who never saw the detector, its
 * exemplars or its evaluation file, while the detector was being tuned without seeing it, and it is never used to
 * tune. So its rates are the estimate of what the detector does on text it was not written against; the README
 * quotes them beside the evaluation's. Written to {@code target/injection-holdout.md}.
 */
class InjectionHoldoutTest {

    /**
     * Regression floors under the first run's 68.1 % detection and 1.9 % false positives (119 attacks, 107 benign, 50
     * of them ordinary prompts: none flagged): a change that falls below them is a step back.
     */
    private static final double MIN_DETECTION = 0.60;
    private static final double MAX_FALSE_POSITIVES = 0.05;

    record Row(boolean attack, String category, String text) {
    }

    record Result(Row row, boolean rule, boolean flagged) {
    }

    static CpuPool cpu;
    static MiniLmEmbedder embedder;
    static final List<Result> results = new ArrayList<>();
    static final StringBuilder report = new StringBuilder();

    @BeforeAll
    static void runEveryRow() throws IOException {
        cpu = new CpuPool(2, 256, List.of(), new SimpleMeterRegistry());
        embedder = new MiniLmEmbedder(cpu);
        embedder.warm();
        InjectionDetector detector = new InjectionDetector(embedder);
        for (Row row : load()) {
            boolean rule = detector.rule(row.text()) != null;
            boolean flagged = detector.check(List.of(row.text()), InjectionDetector.DEFAULT_THRESHOLD)
                    .toCompletableFuture().join().attack();
            results.add(new Result(row, rule, flagged));
        }
    }

    @AfterAll
    static void writeTheReport() throws IOException {
        embedder.close();
        cpu.close();
        System.out.println(report);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target/injection-holdout.md"), report.toString());
    }

    static List<Row> load() throws IOException {
        List<Row> rows = new ArrayList<>();
        try (InputStream in = InjectionHoldoutTest.class.getClassLoader().getResourceAsStream("caravan/injection-holdout.tsv")) {
            assertThat(in).as("caravan/injection-holdout.tsv on the test class path").isNotNull();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t", 3);
                String text = f[2].replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r");
                rows.add(new Row(f[0].equals("attack"), f[1], text));
            }
        }
        return rows;
    }

    @Test
    void reportsDetectionAndFalsePositivesOnTextTheDetectorWasNotWrittenAgainst() {
        Map<String, int[]> byCategory = new TreeMap<>();
        int[] attacks = new int[3];
        int[] benign = new int[3];
        for (Result r : results) {
            int[] c = byCategory.computeIfAbsent((r.row().attack() ? "attack: " : "benign: ") + r.row().category(), k -> new int[3]);
            for (int[] t : List.of(c, r.row().attack() ? attacks : benign)) {
                t[0]++;
                t[1] += r.rule() ? 1 : 0;
                t[2] += r.flagged() ? 1 : 0;
            }
        }
        report.append("| holdout rows | rows | rules only | rules + semantic |\n|---|---|---|---|\n");
        byCategory.forEach((k, c) -> report.append(row(k, c)));
        report.append(row("**all attacks (detection)**", attacks)).append(row("**all benign (false positives)**", benign));
        double detection = attacks[2] / (double) attacks[0];
        double falsePositives = benign[2] / (double) benign[0];
        report.append(String.format(Locale.ROOT, "%nAt the default threshold %.2f: detection %.1f %%, false positives %.1f %%.%n",
                InjectionDetector.DEFAULT_THRESHOLD, 100 * detection, 100 * falsePositives));
        for (Result r : results) {
            if (r.row().attack() != r.flagged()) {
                report.append(r.row().attack() ? "missed: " : "false positive: ").append(r.row().category()).append(": ")
                        .append(r.row().text().replace("\n", " "), 0, Math.min(140, r.row().text().length())).append('\n');
            }
        }
        assertThat(attacks[0]).isGreaterThanOrEqualTo(80);
        assertThat(benign[0]).isGreaterThanOrEqualTo(80);
        assertThat(detection).as("holdout detection").isGreaterThanOrEqualTo(MIN_DETECTION);
        assertThat(falsePositives).as("holdout false positives").isLessThanOrEqualTo(MAX_FALSE_POSITIVES);
    }

    private static String row(String name, int[] c) {
        return String.format(Locale.ROOT, "| %s | %d | %.1f %% | %.1f %% |%n", name, c[0], 100.0 * c[1] / c[0], 100.0 * c[2] / c[0]);
    }
}
