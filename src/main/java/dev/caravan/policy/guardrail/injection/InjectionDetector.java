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
 *   <li><b>Rules</b> ({@link #rule}, {@link InjectionRules}): instruction overrides, prompt-leak requests, jailbreak
 *       personas and modes, fake chat delimiters, text addressed to an AI inside a document, exfiltration, task
 *       hijacking, hidden text (tag characters, zero-width characters), leetspeak, look-alike letters and spaced-out
 *       letters, base64 payloads. Synchronous and cheap enough for an event loop.</li>
 *   <li><b>Semantic</b>: each text cut into windows ({@link Windows}: at most {@value Windows#WINDOW_CHARS}
 *       characters each, at most {@value Windows#MAX_WINDOWS} per request), each window embedded by the
 *       {@link Embedder} off the event loop and compared, on the embedding's thread, with the shipped exemplars
 *       ({@link Exemplars}), its de-identification placeholders ({@code <EMAIL_1>}, {@code [CARD]}) replaced by
 *       ordinary values first ({@link Deidentified}). A window scores the mean cosine of its three nearest attack
 *       exemplars, less {@link #PENALTY} times how far it falls short of beating the mean of its three nearest
 *       benign ones by {@link #MARGIN}, scaled down under eight words ({@link Exemplars.Nearest#score}); the request
 *       is an attack when its best window reaches the threshold.</li>
 * </ol>
 *
 * <p><b>How good</b> ({@code InjectionEvaluationTest}, {@code target/injection-eval.md}): tuned for precision,
 * because the guardrail refuses the request on a verdict. On 122 everyday prompts (mail, reminders, code, travel,
 * many with addresses and placeholders) nothing is flagged (the highest semantic score of the 92 tuning ones is 0.21; the previous
 * single-nearest score flagged 5.4 %, "Remind [EMAIL] about the meeting." at 0.66). On the 90 attack and look-alike
 * rows of holdout 2 (written after the first version was frozen, never tuned against), 44.4 % of attacks caught and
 * 4.4 % of look-alikes flagged (rules alone 33 % and 2 %; the previous score 57.8 % and 11.1 %). On all 493 attack
 * and look-alike rows, most of which the rules were written against, 87.3 % and 0.8 %. The rules catch the phrasings
 * they know; the MiniLM layer catches close paraphrases and is weak on anything else (other languages, injections
 * whose payload is about a topic rather than about the model). It is a first line, not a guarantee: an agent that
 * reads untrusted text still needs least-privilege tools.
 *
 * <p><b>Exemplars</b> are read from the class path at construction (a broken file fails there, at start) and
 * embedded lazily, by the first {@link #check} that needs them, on the embedder's threads, two embeds at a time
 * (297 rows: about 1 s of CPU with MiniLM); checks that arrive meanwhile wait for the same embedding. A failed
 * embedding (the CPU pool busy, say) fails those checks and is retried by the next one.
 *
 * <p>Thread-safe: the rules are stateless, the exemplar vectors are written once before they are published; memory
 * is the exemplar vectors (about 450 KB, at most 3 MB, see {@link Exemplars}) plus, per check, at most
 * {@value Windows#MAX_WINDOWS} windows.
 */
public final class InjectionDetector {

    /**
     * The semantic score from which a request is an attack. Chosen, with the three-neighbour score, on the tuning rows
     * (the rows before holdout 2 and the first 92 ordinary prompts) as the lowest threshold at which the semantic layer
     * alone flagged no look-alike and no ordinary prompt there; 0.475 flagged 1 %, 0.45 2.5 %. The previous default
     * (also 0.50, for the single-nearest score) had been picked at 1.5 % on its tuning rows and let 8.9 % of the later
     * holdout's look-alikes through: a threshold fitted at 0 % is what leaves room for that gap. On holdout 2 the
     * semantic layer alone flags 2.2 % here; an operator who wants more recall and can afford refusals can lower it
     * (0.425 caught 58 % of holdout 2's attacks and flagged 8.9 % of its look-alikes). The sweeps are in the README.
     */
    public static final double DEFAULT_THRESHOLD = 0.50;

    /**
     * How much closer than the nearest benign exemplars the nearest attack exemplars must be for their cosine to count
     * in full, and what each point short of that costs. Chosen with the first threshold on the evaluation's tuning
     * rows (0.10 and 2 kept the semantic layer alone at 1.5 % false positives where 0.05 and 1, or no margin, let 2-5 %
     * through) and kept for the three-neighbour score, where a margin of 0.05 let 1-2 % more look-alikes through.
     */
    static final double MARGIN = 0.10;
    static final double PENALTY = 2.0;

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
     * {@code role-play}, {@code delimiter}, {@code addressed-to-ai}, {@code exfiltration}, {@code goal-hijack},
     * {@code zero-width}, {@code unicode-tag}, {@code base64-payload}), or null. Synchronous and linear in the text:
     * p50 73 us for a 1 KB prompt, about 4 ms for 64 KB (this 2-core VM, warm): safe on an event loop for prompts,
     * worth bounding for very large tool results.
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
                int words = Windows.words(w);
                each.add(embedder.embedThen(w, v -> ex.nearest(v, words)).toCompletableFuture());
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
