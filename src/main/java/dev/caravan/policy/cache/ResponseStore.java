package dev.caravan.policy.cache;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * Where stored answers live, by exact key: in this process (Caffeine, {@link LocalResponseStore}) or in Redis so
 * every replica shares them ({@link RedisResponseStore}). Every operation returns a stage and never blocks the
 * caller's thread; a store that cannot answer completes exceptionally and the cache policy skips it (counted).
 */
public interface ResponseStore extends AutoCloseable {

    /** The answer stored under {@code key}, or empty (never stored, expired, evicted). */
    CompletionStage<Optional<StoredAnswer>> get(String key);

    /** Stores {@code answer} under {@code key} for {@code ttl}, replacing what was there. */
    CompletionStage<Void> put(String key, StoredAnswer answer, Duration ttl);

    /**
     * Removes every stored answer whose namespace and model match; a null argument matches any. Returns how many were
     * removed (best effort for a shared store: what this replica could count).
     */
    CompletionStage<Long> clear(String namespace, String model);

    /** Entries held now (an estimate for a shared store); for {@code caravan_cache_entries}. */
    long entries();

    /** Bytes held now (an estimate for a shared store); for {@code caravan_cache_bytes}. */
    long bytes();

    @Override
    default void close() {
    }
}
