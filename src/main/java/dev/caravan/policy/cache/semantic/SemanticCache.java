package dev.caravan.policy.cache.semantic;

import dev.caravan.policy.cache.SemanticSide;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * The semantic cache as the policy sees it: the prompt embedded off the event loop, its nearest neighbours in its
 * partition above the threshold, and the first that {@link SameQuestion} agrees asks the same thing. A neighbour the
 * verifier rejects is a miss (logged at DEBUG with the reason, never the prompts). With a {@link SemanticShare}
 * (Redis), what this replica remembers or forgets is told to the others, and what they tell is added here.
 */
public final class SemanticCache implements SemanticSide {

    private static final Logger LOG = LoggerFactory.getLogger(SemanticCache.class);
    private static final int CANDIDATES = 3; // neighbours verified at most per lookup

    private final Embedder embedder;
    private final SemanticIndex index;
    private final dev.caravan.work.CpuPool cpu;
    private volatile SemanticShare share;

    /** @param cpu where additions are made: the index's write lock waits for searches, which an event loop must not */
    public SemanticCache(Embedder embedder, SemanticIndex index, dev.caravan.work.CpuPool cpu) {
        this.embedder = embedder;
        this.index = index;
        this.cpu = cpu;
    }

    /** Shares this cache with other replicas: loads what they added recently (blocks: call at start, off a loop). */
    public void share(SemanticShare share) {
        for (SemanticShare.Addition a : share.recent()) {
            heard(a);
        }
        this.share = share;
    }

    /** Another replica's addition. */
    public void heard(SemanticShare.Addition a) {
        index.add(a.partition(), a.vector(), a.prompt(), a.exactKey(), a.namespace(), a.model(),
                Duration.ofMillis(Math.max(1, a.ttlMillis())));
    }

    /** Another replica's clear. */
    public void heardClear(String namespace, String model) {
        index.clear(namespace, model);
    }

    @Override
    public CompletionStage<Found> find(String partition, String prompt, double threshold) {
        // the search and the verification run on the embedding's CPU thread: 10,000 neighbours take about a
        // millisecond, which an event loop must not spend
        return embedder.embedThen(prompt, vector -> {
            for (SemanticIndex.Match match : index.nearest(partition, vector, threshold, CANDIDATES)) {
                SameQuestion.Verdict verdict = SameQuestion.check(prompt, match.prompt());
                if (verdict.same()) {
                    return new Found(vector, match.exactKey(), match.similarity());
                }
                LOG.debug("A semantic neighbour at {} was refused: {}", match.similarity(), verdict.reason());
            }
            return new Found(vector, null, 0);
        });
    }

    @Override
    public void remember(String partition, float[] vector, String prompt, String storeKey, String namespace,
                         String model, Duration ttl) {
        // off the loop; with the pool full the prompt is not remembered (a later miss, never a wrong answer)
        cpu.submit(() -> {
            index.add(partition, vector, prompt, storeKey, namespace, model, ttl);
            return null;
        });
        SemanticShare s = share;
        if (s != null) {
            s.publish(new SemanticShare.Addition(partition, vector, prompt, storeKey, namespace, model, ttl.toMillis()));
        }
    }

    @Override
    public long clear(String namespace, String model) {
        long removed = index.clear(namespace, model);
        SemanticShare s = share;
        if (s != null) {
            s.publishClear(namespace, model);
        }
        return removed;
    }

    @Override
    public int entries() {
        return index.size();
    }

    @Override
    public void close() {
        SemanticShare s = share;
        if (s != null) {
            s.close();
        }
        embedder.close();
    }
}
