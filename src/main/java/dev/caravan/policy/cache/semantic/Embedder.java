package dev.caravan.policy.cache.semantic;

import java.util.concurrent.CompletionStage;

/**
 * Turns a prompt into a unit-length vector, off the event loop (the model is CPU work). The gateway's is
 * {@link MiniLmEmbedder}; tests may give their own.
 */
public interface Embedder extends AutoCloseable {

    /** The embedding of {@code text}, L2-normalised, so a dot product is the cosine similarity. */
    CompletionStage<float[]> embed(String text);

    /** The vectors' length. */
    int dimensions();

    @Override
    default void close() {
    }
}
