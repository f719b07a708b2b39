package dev.caravan.policy.cache.semantic;

import java.util.concurrent.CompletionStage;

/**
 * Turns a prompt into a unit-length vector, off the event loop (the model is CPU work). The gateway's is
 * {@link MiniLmEmbedder}; tests may give their own.
 */
public interface Embedder extends AutoCloseable {

    /** The embedding of {@code text}, L2-normalised, so a dot product is the cosine similarity. */
    CompletionStage<float[]> embed(String text);

    /**
     * Embeds {@code text} and applies {@code then} to the vector on the same thread, off the event loop: work that
     * follows the embedding (a search over thousands of vectors) must not run on a loop either.
     */
    default <T> CompletionStage<T> embedThen(String text, java.util.function.Function<float[], T> then) {
        return embed(text).thenApply(then);
    }

    /** The vectors' length. */
    int dimensions();

    @Override
    default void close() {
    }
}
