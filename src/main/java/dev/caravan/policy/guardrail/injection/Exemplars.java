package dev.caravan.policy.guardrail.injection;

import dev.caravan.policy.cache.semantic.Embedder;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The semantic detector's reference points: attack and benign prompts from {@code caravan/injection-exemplars.tsv}
 * (label TAB text, {@code \n} and {@code \t} escaped, {@code #} comments), embedded once. A window's
 * {@link Nearest} is its highest cosine to an attack exemplar and to a benign one.
 *
 * <p>The benign exemplars are the look-alikes (security questions, prompts that quote attacks, "ignore the typos",
 * harmless role-play): without them every question about prompt injection would sit close to an attack.
 *
 * <p>Bounded: at most {@link #MAX_ROWS} rows (the shipped file has 239): 384 floats each, so at most 3 MB (about 370 KB
 * for the shipped rows).
 */
final class Exemplars {

    static final String RESOURCE = "caravan/injection-exemplars.tsv";
    static final int MAX_ROWS = 2_000;
    /** Embeds in flight while the exemplars are embedded: one per CPU-pool thread on this 2-core machine. */
    private static final int IN_FLIGHT = 2;

    record Row(boolean attack, String text) {
    }

    /**
     * A window's highest cosine to an attack exemplar and to a benign one. Its {@link #score} is the attack cosine,
     * less {@link InjectionDetector#PENALTY} times how far it falls short of beating the benign one by
     * {@link InjectionDetector#MARGIN}: a window as close to a security question as to an attack scores low however
     * close it is to both.
     */
    record Nearest(double attack, double benign) {
        double score() {
            return attack - InjectionDetector.PENALTY * Math.max(0, benign + InjectionDetector.MARGIN - attack);
        }
    }

    private final float[][] attacks;
    private final float[][] benign;

    private Exemplars(float[][] attacks, float[][] benign) {
        this.attacks = attacks;
        this.benign = benign;
    }

    Nearest nearest(float[] v) {
        return new Nearest(max(attacks, v), max(benign, v));
    }

    private static double max(float[][] vectors, float[] v) {
        double best = -1;
        for (float[] e : vectors) {
            double dot = 0;
            for (int i = 0; i < v.length; i++) {
                dot += e[i] * v[i];
            }
            best = Math.max(best, dot);
        }
        return best;
    }

    /** The shipped rows; throws when the file is missing, malformed or over {@link #MAX_ROWS}. */
    static List<Row> load() {
        try (InputStream in = Exemplars.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is not on the class path");
            }
            List<Row> rows = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#") || line.startsWith("label\t")) {
                    continue;
                }
                String[] c = line.split("\t", 2);
                if (c.length != 2 || !(c[0].equals("attack") || c[0].equals("benign")) || c[1].isBlank()) {
                    throw new IllegalStateException(RESOURCE + ": not 'attack|benign<TAB>text': " + line);
                }
                rows.add(new Row(c[0].equals("attack"), unescape(c[1].strip())));
                if (rows.size() > MAX_ROWS) {
                    throw new IllegalStateException(RESOURCE + " has more than " + MAX_ROWS + " rows");
                }
            }
            return List.copyOf(rows);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String unescape(String s) {
        return s.replace("\\n", "\n").replace("\\t", "\t");
    }

    /**
     * Embeds every row, {@link #IN_FLIGHT} at a time so the CPU pool's queue never holds more than that of ours; the
     * first failure stops the other workers too.
     */
    static CompletableFuture<Exemplars> embed(List<Row> rows, Embedder embedder) {
        float[][] vectors = new float[rows.size()][];
        AtomicInteger next = new AtomicInteger();
        AtomicBoolean failed = new AtomicBoolean();
        CompletableFuture<?>[] workers = new CompletableFuture<?>[IN_FLIGHT];
        for (int i = 0; i < IN_FLIGHT; i++) {
            workers[i] = embedNext(rows, vectors, next, failed, embedder);
        }
        return CompletableFuture.allOf(workers).thenApply(done -> {
            List<float[]> attacks = new ArrayList<>();
            List<float[]> benign = new ArrayList<>();
            for (int i = 0; i < rows.size(); i++) {
                (rows.get(i).attack() ? attacks : benign).add(vectors[i]);
            }
            return new Exemplars(attacks.toArray(float[][]::new), benign.toArray(float[][]::new));
        });
    }

    private static CompletableFuture<Void> embedNext(List<Row> rows, float[][] vectors, AtomicInteger next, AtomicBoolean failed,
            Embedder embedder) {
        int i = next.getAndIncrement();
        if (i >= rows.size() || failed.get()) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<float[]> v;
        try {
            v = embedder.embed(Folded.forEmbedding(rows.get(i).text())).toCompletableFuture();
        } catch (RuntimeException e) {
            v = CompletableFuture.failedFuture(e);
        }
        return v.whenComplete((ok, e) -> failed.compareAndSet(false, e != null)).thenCompose(vector -> {
            vectors[i] = vector;
            return embedNext(rows, vectors, next, failed, embedder);
        });
    }
}
