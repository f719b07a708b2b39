package dev.caravan;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The layering rules of docs/architecture.md, read off the sources: every reference to another Caravan package (an
 * import or a fully qualified name in the code, comments left out) counts. A package is a folder under dev/caravan
 * ({@code transport.http}, {@code dialect.anthropic}, ...); the composition root is {@code dev.caravan} itself.
 */
class LayeringTest {

    private static final Path SOURCES = Path.of("src/main/java/dev/caravan");
    private static final Pattern REFERENCE = Pattern.compile("\\bdev\\.caravan\\.((?:[a-z]\\w*\\.)*)([A-Z]\\w*)");

    /** package -> the other Caravan packages it refers to ("" is the composition root). */
    private static final Map<String, Set<String>> USES = new TreeMap<>();

    @BeforeAll
    static void read() throws IOException {
        try (Stream<Path> files = Files.walk(SOURCES)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                String pkg = SOURCES.relativize(file.getParent()).toString().replace('/', '.');
                String code = Files.readString(file).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\n]*", "");
                Set<String> uses = USES.computeIfAbsent(pkg, k -> new TreeSet<>());
                Matcher m = REFERENCE.matcher(code);
                while (m.find()) {
                    String target = m.group(1).isEmpty() ? "" : m.group(1).substring(0, m.group(1).length() - 1);
                    String cls = m.group(2);
                    if (!target.equals(pkg)) {
                        uses.add(target.isEmpty() && !cls.equals("Caravan") ? "?" + cls : target);
                    }
                }
            }
        }
    }

    @Test
    void theContractPackageImportsNoOtherCaravanPackage() {
        assertThat(USES.get("core")).isEmpty();
    }

    @Test
    void theRedisLinkImportsNoOtherCaravanPackage() {
        assertThat(USES.get("redis")).isEmpty();
    }

    @Test
    void nothingImportsTheCompositionRoot() {
        USES.forEach((pkg, uses) -> assertThat(uses).as("%s refers to dev.caravan", pkg).doesNotContain(""));
    }

    @Test
    void onlyTheCompositionRootLivesInTheRootPackage() {
        USES.forEach((pkg, uses) -> assertThat(uses).as("%s refers to a class in dev.caravan other than Caravan", pkg)
                .noneMatch(u -> u.startsWith("?")));
    }

    @Test
    void onlyTheCompositionRootUsesTheCommandLine() {
        USES.forEach((pkg, uses) -> {
            if (!pkg.isEmpty()) {
                assertThat(uses).as("%s refers to the command line", pkg).doesNotContain("cli");
            }
        });
    }

    @Test
    void onlyTheTransportsAndWhatObservesThemKnowATransport() {
        USES.forEach((pkg, uses) -> {
            if (pkg.startsWith("provider") || pkg.startsWith("dialect") || pkg.startsWith("stream")
                    || pkg.startsWith("policy") || pkg.startsWith("routing") || pkg.startsWith("auth")) {
                assertThat(uses).as("%s refers to a transport", pkg).noneMatch(u -> u.startsWith("transport"));
            }
        });
    }

    @Test
    void noPackageDependsOnItselfThroughOthers() {
        List<String> cycles = new ArrayList<>();
        for (String start : USES.keySet()) {
            if (!start.isEmpty() && reaches(start, start, new TreeSet<>())) {
                cycles.add(start);
            }
        }
        assertThat(cycles).as("packages on a dependency cycle: %s", USES).isEmpty();
    }

    private static boolean reaches(String from, String target, Set<String> seen) {
        for (String next : USES.getOrDefault(from, Set.of())) {
            if (next.equals(target)) {
                return true;
            }
            if (!next.isEmpty() && seen.add(next) && reaches(next, target, seen)) {
                return true;
            }
        }
        return false;
    }
}
