package dev.caravan.policy.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Scheduler;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.LongAdder;

/**
 * Stored answers in this process: a Caffeine cache bounded by entries and by bytes at once, each entry expiring after
 * its own TTL. Every stage it returns is already complete (no thread hop).
 *
 * <p>Two bounds in one weight: Caffeine takes one maximum, so an entry weighs the larger of its two shares of a fixed
 * total {@code W} (a multiple of {@code maxEntries} that fits an int): {@code W / maxEntries} for being an entry, and
 * {@code ceil(weight * W / maxBytes)} for its bytes ({@link StoredAnswer#weight()}). Entries that fit in {@code W}
 * are then at most {@code maxEntries} many and at most {@code maxBytes} heavy, both exactly. The price: with small and
 * large entries mixed, it evicts before either bound alone is full (the shares add up; at worst each bound is half
 * used). A second, exact count check beside a byte weigher would have to evict outside Caffeine's policy on every
 * put of a full cache; one weight keeps eviction Caffeine's (W-TinyLFU) and O(1).
 *
 * <p>Why Caffeine: it already ships (camel-caffeine), bounds and expires per entry in O(1) (a timer wheel), and
 * admits by frequency, which suits a cache of repeated prompts. A ConcurrentHashMap with a sweep would need its own
 * LRU and expiry scans; the camel-caffeine component would put an endpoint and exchange between us and a map lookup.
 * Measured once here (2 cores, JDK 17, 100,000 entries of 1 KB, keys read in scattered order, one thread, after
 * warm-up; a plain loop, not JMH): a hit ~0.5 us, a miss ~30-60 ns, a put of a new key that evicts one ~1-2 us;
 * next to a model call of hundreds of milliseconds, nothing.
 *
 * <p>{@link #entries()} and {@link #bytes()} are exact: kept by the put and by Caffeine's removal listener, which
 * runs on the calling thread. An expired entry is removed by Caffeine's scheduler within about a second of its
 * expiry (it is never returned by {@link #get} after it).
 */
public final class LocalResponseStore implements ResponseStore {

    /** A stored answer and the TTL its put gave it. */
    private record Held(StoredAnswer answer, long ttlNanos) {
    }

    private final long maxBytes;
    private final long total; // W above
    private final long entryShare; // W / maxEntries
    private final LongAdder entries = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final Cache<String, Held> cache;

    /**
     * @param maxEntries at most this many answers (1 to {@code Integer.MAX_VALUE})
     * @param maxBytes   at most this many bytes of answers, by {@link StoredAnswer#weight()}; a heavier answer is not
     *                   stored
     */
    public LocalResponseStore(long maxEntries, long maxBytes) {
        if (maxEntries < 1 || maxEntries > Integer.MAX_VALUE || maxBytes < 1) {
            throw new IllegalArgumentException("the cache needs 1 to 2^31-1 entries and a positive byte bound, not "
                    + maxEntries + " entries and " + maxBytes + " bytes");
        }
        this.maxBytes = maxBytes;
        this.entryShare = Integer.MAX_VALUE / maxEntries;
        this.total = entryShare * maxEntries;
        this.cache = Caffeine.newBuilder()
                .maximumWeight(total) // = maxEntries entries and maxBytes bytes, whichever binds first
                .weigher((String key, Held held) -> weigh(held.answer()))
                .expireAfter(Expiry.writing((String key, Held held) -> Duration.ofNanos(held.ttlNanos())))
                .executor(Runnable::run) // evict and count on the caller's thread: counts exact, no pool hop
                .scheduler(Scheduler.systemScheduler()) // expired entries leave memory even when nobody calls
                .removalListener((String key, Held held, RemovalCause cause) -> {
                    if (held != null) {
                        entries.decrement();
                        bytes.add(-held.answer().weight());
                    }
                })
                .build();
    }

    @Override
    public CompletionStage<Optional<StoredAnswer>> get(String key) {
        Held held = cache.getIfPresent(key);
        return CompletableFuture.completedFuture(held == null ? Optional.empty() : Optional.of(held.answer()));
    }

    /** An answer heavier than the byte bound, or a TTL not positive, is not stored (and what was there is removed). */
    @Override
    public CompletionStage<Void> put(String key, StoredAnswer answer, Duration ttl) {
        Objects.requireNonNull(answer.namespace(), "namespace");
        Objects.requireNonNull(answer.model(), "model");
        if (answer.weight() > maxBytes || ttl.isNegative() || ttl.isZero()) {
            cache.invalidate(key);
            return CompletableFuture.completedFuture(null);
        }
        // counted before it is in: an eviction the put itself causes may count this entry out at once
        entries.increment();
        bytes.add(answer.weight());
        cache.put(key, new Held(answer, saturatedNanos(ttl)));
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Long> clear(String namespace, String model) {
        long removed = 0;
        for (Map.Entry<String, Held> e : cache.asMap().entrySet()) {
            StoredAnswer a = e.getValue().answer();
            if ((namespace == null || namespace.equals(a.namespace())) && (model == null || model.equals(a.model()))
                    && cache.asMap().remove(e.getKey(), e.getValue())) {
                removed++;
            }
        }
        return CompletableFuture.completedFuture(removed);
    }

    @Override
    public long entries() {
        return entries.sum();
    }

    @Override
    public long bytes() {
        return bytes.sum();
    }

    /** Runs Caffeine's pending maintenance (evictions, expiries) now; for tests that count what is left. */
    void cleanUp() {
        cache.cleanUp();
    }

    private int weigh(StoredAnswer answer) {
        long product = answer.weight() * total; // < 2^31 * 2^31: fits a long
        long byteShare = product / maxBytes + (product % maxBytes == 0 ? 0 : 1);
        return (int) Math.max(byteShare, entryShare); // <= total <= Integer.MAX_VALUE, as weight <= maxBytes
    }

    /** Caffeine keeps TTLs in nanoseconds; a TTL past ~146 years is as good as forever. */
    private static long saturatedNanos(Duration ttl) {
        return ttl.compareTo(Duration.ofNanos(Long.MAX_VALUE >> 1)) > 0 ? Long.MAX_VALUE >> 1 : ttl.toNanos();
    }
}
