package dev.caravan.policy.guardrail.injection;

import dev.caravan.policy.cache.semantic.Embedder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Prompt injection in the texts a caller hands over (user messages and tool results; never the system prompt: what
 * is scanned is the caller's choice). Two layers:
 * <ol>
 *   <li><b>Rules</b> ({@link #rule}): instruction overrides, prompt-leak requests, jailbreak personas and modes,
 *       fake chat delimiters, hidden text (tag characters, zero-width characters), leetspeak and spaced-out
 *       letters, base64 payloads. Synchronous and cheap enough for an event loop.</li>
 *   <li><b>Semantic</b>: each text cut into windows ({@link Windows}: at most {@value Windows#WINDOW_CHARS}
 *       characters each, at most {@value Windows#MAX_WINDOWS} per request), each window embedded by the
 *       {@link Embedder} off the event loop and compared with the shipped exemplars ({@link Exemplars}). A window
 *       scores its highest cosine to an attack exemplar, lowered when a benign exemplar comes within
 *       {@link #MARGIN} of it ({@link Exemplars.Nearest#score}); the request is an attack when its best window
 *       reaches the threshold.</li>
 * </ol>
 *
 * <p><b>Exemplars</b> are read from the class path at construction (a broken file fails there, at start) and
 * embedded lazily, by the first {@link #check} that needs them, on the embedder's threads, two embeds at a time
 * (about 330 rows, about 1 s of CPU); checks that arrive meanwhile wait for the same embedding. A failed embedding
 * (the CPU pool busy, say) fails those checks and is retried by the next one.
 *
 * <p>Thread-safe: the rules are stateless, the exemplar vectors are written once before they are published.
 */
public final class InjectionDetector {

    /**
     * The semantic score from which a request is an attack; chosen by {@code InjectionEvaluationTest} (its threshold
     * sweep is in the README): see there for the detection and false-positive rates on either side.
     */
    public static final double DEFAULT_THRESHOLD = 0.55;

    /** How much closer than the nearest benign exemplar an attack exemplar must be for its cosine to count in full. */
    static final double MARGIN = 0.05;

    private static final Verdict CLEAN = new Verdict(false, 0, null);

    private final Embedder embedder;
    private final List<Exemplars.Row> rows;
    private final AtomicReference<CompletableFuture<Exemplars>> exemplars = new AtomicReference<>();

    /**
     * @param embedder null for rules only; otherwise the exemplars are loaded now and embedded at the first check
     */
    public InjectionDetector(Embedder embedder) {
        this.embedder = embedder;
        this.rows = embedder == null ? List.of() : Exemplars.load();
    }

    /**
     * The name of the first rule {@code text} trips ({@code instruction-override}, {@code prompt-leak},
     * {@code role-play}, {@code delimiter}, {@code zero-width}, {@code unicode-tag}, {@code base64-payload}), or null.
     * Synchronous, linear in the text, tens of microseconds for a 1 KB prompt: safe on an event loop.
     */
    public String rule(String text) {
        return InjectionRules.firstHit(text);
    }

    /**
     * The verdict on {@code texts}: a rule hit completes at once with score 1.0 and the rule's name; otherwise, with
     * an embedder, the semantic score computed off the event loop (reason {@code semantic} when it reaches
     * {@code threshold}); without one, clean at once with score 0. Empty or blank input is clean. The stage fails
     * when the embedder does (a full CPU pool: {@code CpuPool.Busy}); the caller decides whether that lets the
     * request through.
     */
    public CompletionStage<Verdict> check(List<String> texts, double threshold) {
        if (texts == null || texts.isEmpty()) {
            return CompletableFuture.completedFuture(CLEAN);
        }
        for (String text : texts) {
            String hit = rule(text);
            if (hit != null) {
                return CompletableFuture.completedFuture(new Verdict(true, 1.0, hit));
            }
        }
        if (embedder == null) {
            return CompletableFuture.completedFuture(CLEAN);
        }
        List<String> windows = Windows.of(texts);
        if (windows.isEmpty()) {
            return CompletableFuture.completedFuture(CLEAN);
        }
        return nearest(windows).thenApply(nearest -> {
            double score = nearest.stream().mapToDouble(Exemplars.Nearest::score).max().orElse(0);
            return score >= threshold ? new Verdict(true, score, "semantic") : new Verdict(false, score, null);
        });
    }

    /** Each window's nearest exemplars; the comparison runs on the embedding's thread (embedThen), not the caller's. */
    CompletableFuture<List<Exemplars.Nearest>> nearest(List<String> windows) {
        return exemplars().thenCompose(ex -> {
            List<CompletableFuture<Exemplars.Nearest>> each = new ArrayList<>(windows.size());
            for (String w : windows) {
                each.add(embedder.embedThen(w, ex::nearest).toCompletableFuture());
            }
            return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
                    .thenApply(done -> each.stream().map(CompletableFuture::join).toList());
        });
    }

    /** The embedded exemplars: the first caller starts the embedding, the others share it; a failure is retried. */
    private CompletableFuture<Exemplars> exemplars() {
        while (true) {
            CompletableFuture<Exemplars> current = exemplars.get();
            if (current != null) {
                return current;
            }
            CompletableFuture<Exemplars> mine = new CompletableFuture<>();
            if (exemplars.compareAndSet(null, mine)) {
                Exemplars.embed(rows, embedder).whenComplete((ex, failure) -> {
                    if (failure != null) {
                        exemplars.compareAndSet(mine, null);
                        mine.completeExceptionally(failure);
                    } else {
                        mine.complete(ex);
                    }
                });
                return mine;
            }
        }
    }

    /**
     * @param attack whether the texts are an attack
     * @param score  1.0 for a rule hit; else the best window's semantic score (0 without an embedder)
     * @param reason the rule's name, {@code semantic}, or null when clean
     */
    public record Verdict(boolean attack, double score, String reason) {
    }
}
