package dev.caravan.policy.cache;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/** The semantic cache as the policy uses it: find a verified neighbour's entry, remember a new prompt, forget. */
public interface SemanticSide extends AutoCloseable {

    /**
     * @param vector     the prompt's embedding (to remember it by, if its answer is stored)
     * @param storeKey   the store key of the neighbour's answer, or null when none is near enough and verified
     * @param similarity the neighbour's cosine similarity (0 when none)
     */
    record Found(float[] vector, String storeKey, double similarity) {
    }

    /** Embeds {@code prompt} off the event loop and looks for a verified neighbour in {@code partition}. */
    CompletionStage<Found> find(String partition, String prompt, double threshold);

    void remember(String partition, float[] vector, String prompt, String storeKey, String namespace, String model,
                  Duration ttl);

    long clear(String namespace, String model);

    int entries();

    /** Releases the model and any connection to other replicas, at shutdown. */
    @Override
    default void close() {
    }
}
