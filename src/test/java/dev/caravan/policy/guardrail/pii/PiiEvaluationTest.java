package dev.caravan.policy.guardrail.pii;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The issue's evaluation: per entity, texts with one (recall: the exact expected substring is found as that
 * entity) and look-alikes (false positive: any finding of that entity). All entities are enabled at once, as a
 * policy would run them, so overlap resolution is part of what is measured.
 */
class PiiEvaluationTest {
    private static final double MIN_RECALL = 0.95;
    private static final double MAX_FALSE_POSITIVES = 0.02;

    private record Row(Entity entity, boolean expected, String text, String finding) {
    }

    private static final class Score {
        int positives;
        int found;
        int negatives;
        int falsePositives;
        final List<String> misses = new ArrayList<>();

        double recall() {
            return positives == 0 ? 0 : (double) found / positives;
        }

        double falsePositiveRate() {
            return negatives == 0 ? 1 : (double) falsePositives / negatives;
        }
    }

    @Test
    void everyEntityReachesNinetyFivePercentRecallWithAtMostTwoPercentFalsePositives() throws IOException {
        PiiDetector detector = new PiiDetector(Set.of());
        Map<Entity, Score> scores = new EnumMap<>(Entity.class);
        for (Entity e : Entity.values()) {
            scores.put(e, new Score());
        }
        for (Row row : rows()) {
            Score score = scores.get(row.entity());
            List<Finding> findings = detector.find(row.text(), EnumSet.allOf(Entity.class));
            if (row.expected()) {
                score.positives++;
                boolean hit = findings.stream().anyMatch(f -> f.entity() == row.entity()
                        && row.text().substring(f.start(), f.end()).equals(row.finding()));
                if (hit) {
                    score.found++;
                } else {
                    score.misses.add("missed: " + row.text() + "  got " + describe(row.text(), findings));
                }
            } else {
                score.negatives++;
                if (findings.stream().anyMatch(f -> f.entity() == row.entity())) {
                    score.falsePositives++;
                    score.misses.add("false positive: " + row.text() + "  got " + describe(row.text(), findings));
                }
            }
        }
        String table = table(scores);
        System.out.println(table);
        scores.values().forEach(s -> s.misses.forEach(System.out::println));
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target/pii-eval.md"), table);

        for (Map.Entry<Entity, Score> e : scores.entrySet()) {
            Score s = e.getValue();
            assertThat(s.positives).as(e.getKey() + " texts with one").isGreaterThanOrEqualTo(25);
            assertThat(s.negatives).as(e.getKey() + " look-alikes").isGreaterThanOrEqualTo(25);
            assertThat(s.recall()).as(e.getKey() + " recall; " + s.misses).isGreaterThanOrEqualTo(MIN_RECALL);
            assertThat(s.falsePositiveRate()).as(e.getKey() + " false positives; " + s.misses)
                    .isLessThanOrEqualTo(MAX_FALSE_POSITIVES);
        }
    }

    private static String table(Map<Entity, Score> scores) {
        StringBuilder b = new StringBuilder("| entity | with | found | recall | look-alikes | flagged | false positives |\n")
                .append("|---|---|---|---|---|---|---|\n");
        scores.forEach((e, s) -> b.append(String.format("| %s | %d | %d | %.1f %% | %d | %d | %.1f %% |%n",
                e.configName(), s.positives, s.found, 100 * s.recall(), s.negatives, s.falsePositives,
                100 * s.falsePositiveRate())));
        return b.toString();
    }

    private static String describe(String text, List<Finding> findings) {
        return findings.stream().map(f -> f.entity() + "/" + f.kind() + "'" + text.substring(f.start(), f.end()) + "'").toList()
                .toString();
    }

    private static List<Row> rows() throws IOException {
        List<Row> rows = new ArrayList<>();
        try (InputStream in = PiiEvaluationTest.class.getResourceAsStream("/caravan/pii-eval.tsv")) {
            String[] lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n");
            for (String line : lines) {
                if (line.isBlank() || line.startsWith("#") || line.startsWith("entity\t")) {
                    continue;
                }
                String[] c = line.split("\t", -1);
                int row = rows.size();
                rows.add(new Row(Entity.named(c[0]), c[1].equals("yes"), unescape(expand(c[2], row)),
                        c.length > 3 ? unescape(expand(c[3], row)) : ""));
            }
        }
        return rows;
    }

    private static final java.util.regex.Pattern RANDOM = java.util.regex.Pattern.compile("«([DHUM])(\\d+)#(\\d+)»");

    /**
     * The secrets' random parts: the file holds {@code «M40#2»} (class, length, id) instead of key-shaped literals
     * a secret scanner would take for real keys; each is made here, the same for the same row and id, so the
     * expected substring and the text agree. Classes: D digits, H lowercase hex, U upper case and digits, M mixed.
     */
    static String expand(String s, int row) {
        java.util.regex.Matcher m = RANDOM.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String alphabet = switch (m.group(1)) {
                case "D" -> "0123456789";
                case "H" -> "0123456789abcdef";
                case "U" -> "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
                default -> "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            };
            java.util.Random random = new java.util.Random(row * 1_000L + Integer.parseInt(m.group(3)));
            StringBuilder run = new StringBuilder();
            for (int i = 0; i < Integer.parseInt(m.group(2)); i++) {
                run.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            m.appendReplacement(out, run.toString());
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String unescape(String s) {
        return s.replace("\\n", "\n");
    }
}
