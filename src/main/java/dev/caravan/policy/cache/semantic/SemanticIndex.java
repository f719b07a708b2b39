package dev.caravan.policy.cache.semantic;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The semantic cache's vectors, in memory. A partition (scope, model, system-prompt hash, tools hash, parameter
 * hash, joined by the caller) is a hard filter: a lookup reads one partition and nothing else, so a near neighbour
 * from another tenant, model or system prompt can never be returned, however similar its text.
 *
 * <p>Bounded twice: at most {@code maxEntries} entries overall, evicting the <em>oldest added</em> first (FIFO, not
 * LRU: a lookup must not write, so lookups run in parallel under a read lock; and a cached answer's worth fades
 * with its age, not with how often it is read); and by each entry's TTL (an expired entry is never returned, and
 * is removed by a sweep that runs with an add at most once a second). Prompts longer than
 * {@link #MAX_PROMPT_CHARS} are not indexed, so the memory is bounded by entries × (vector + 4 KiB of UTF-16 text):
 * {@link #bytes} gives the estimate.
 *
 * <p>Search is brute force over the partition's vectors, kept in one flat array (dot products of unit vectors are
 * cosines). Measured on this 2-core machine, 384 dimensions, p50 per lookup: 1,000 entries in the partition
 * 0.2 ms, 10,000 entries 1.5 ms (2.4 ms with the test JVM's C1-only flags); so a lookup stays within 1 ms up to
 * about 6,000 entries per partition ({@code SemanticIndexTest} prints the numbers). Past that an approximate
 * index would pay; a partition is one tenant, model and system prompt, so few grow that large. An entry re-added
 * with the same exact key in its partition replaces the old one.
 */
public final class SemanticIndex {

    /**
     * Cosine similarity a stored prompt needs before {@link SameQuestion} is asked. From the evaluation
     * ({@code SemanticEvaluationTest}; table in the README): with verification the false-hit rate is 0 % at every
     * threshold from 0.80 to 0.98, and without it no threshold is safe (68 % of near misses pass 0.80, 12 % pass
     * 0.98), so the threshold buys recall and limits exposure. 0.90 is the knee: hits with verification fall from
     * 73.8 % at 0.80 to 70.3 % at 0.90, then 4 points per step (66.2 % at 0.92); and at 0.90 63 of the 151 near
     * misses reach the verifier instead of 103 at 0.80, so a gap in the verifier's rules gets 40 % fewer chances.
     */
    public static final double DEFAULT_THRESHOLD = 0.90;

    /** Longest prompt indexed: semantic matches are for short questions, and {@link SameQuestion} refuses longer. */
    public static final int MAX_PROMPT_CHARS = 2_048;

    private static final long SWEEP_EVERY_MILLIS = 1_000;

    private final int maxEntries;
    private final Clock clock;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    // insertion order is the eviction order; at most maxEntries entries
    private final LinkedHashMap<Key, Entry> entries = new LinkedHashMap<>();
    // at most one partition per entry: an emptied partition is removed
    private final Map<String, Partition> partitions = new HashMap<>();
    private int dimensions = -1;
    private long bytes;
    private long lastSweep;

    /** @param maxEntries entries kept at most, over all partitions; the oldest added goes first */
    public SemanticIndex(int maxEntries, Clock clock) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be at least 1");
        }
        this.maxEntries = maxEntries;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.lastSweep = clock.millis();
    }

    /** A stored prompt near enough to a lookup's, and the exact-cache key of its answer. */
    public record Match(String exactKey, String prompt, double similarity) {
    }

    /**
     * Indexes {@code prompt}'s vector in {@code partition}, replacing an entry with the same {@code exactKey} there.
     * {@code namespace} and {@code model} are what {@link #clear} matches. A prompt over {@link #MAX_PROMPT_CHARS}
     * is ignored.
     */
    public void add(String partition, float[] vector, String prompt, String exactKey, String namespace, String model,
            Duration ttl) {
        Objects.requireNonNull(partition, "partition");
        Objects.requireNonNull(exactKey, "exactKey");
        Objects.requireNonNull(prompt, "prompt");
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("ttl must be positive");
        }
        if (prompt.length() > MAX_PROMPT_CHARS) {
            return;
        }
        long now = clock.millis();
        lock.writeLock().lock();
        try {
            if (dimensions < 0) {
                dimensions = vector.length;
            } else if (vector.length != dimensions) {
                throw new IllegalArgumentException("vector has " + vector.length + " dimensions, the index "
                        + dimensions);
            }
            if (now - lastSweep >= SWEEP_EVERY_MILLIS) {
                sweep(now);
            }
            Key key = new Key(partition, exactKey);
            Entry old = entries.remove(key);
            if (old != null) {
                drop(old);
            }
            while (entries.size() >= maxEntries) {
                Iterator<Entry> oldest = entries.values().iterator();
                Entry evicted = oldest.next();
                oldest.remove();
                drop(evicted);
            }
            Partition p = partitions.computeIfAbsent(partition, k -> new Partition(dimensions));
            Entry e = new Entry(key, p, prompt, namespace, model, now + ttl.toMillis(), estimate(prompt, exactKey));
            p.append(e, vector);
            entries.put(key, e);
            bytes += e.bytes;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * The entries of {@code partition} whose cosine with {@code vector} is at least {@code threshold} and that have
     * not expired, best first, at most {@code limit}.
     */
    public List<Match> nearest(String partition, float[] vector, double threshold, int limit) {
        if (limit < 1) {
            return List.of();
        }
        long now = clock.millis();
        lock.readLock().lock();
        try {
            Partition p = partitions.get(partition);
            if (p == null || vector.length != dimensions) {
                return List.of();
            }
            return p.nearest(vector, threshold, limit, now);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Removes the entries of {@code namespace} and {@code model} (null matches any); returns how many. */
    public long clear(String namespace, String model) {
        lock.writeLock().lock();
        try {
            long removed = 0;
            for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
                Entry e = it.next();
                if ((namespace == null || namespace.equals(e.namespace)) && (model == null || model.equals(e.model))) {
                    it.remove();
                    drop(e);
                    removed++;
                }
            }
            return removed;
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** Entries held, expired ones not yet swept included. */
    public int size() {
        lock.readLock().lock();
        try {
            return entries.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** An estimate of the heap the entries hold: vectors, prompts, keys and bookkeeping. */
    public long bytes() {
        lock.readLock().lock();
        try {
            return bytes;
        } finally {
            lock.readLock().unlock();
        }
    }

    private void sweep(long now) {
        lastSweep = now;
        for (Iterator<Entry> it = entries.values().iterator(); it.hasNext(); ) {
            Entry e = it.next();
            if (e.expiresAt <= now) {
                it.remove();
                drop(e);
            }
        }
    }

    /** Takes {@code e} out of its partition (already out of {@link #entries}). */
    private void drop(Entry e) {
        e.partition.remove(e);
        bytes -= e.bytes;
        if (e.partition.size == 0) {
            partitions.remove(e.key.partition);
        }
    }

    private long estimate(String prompt, String exactKey) {
        // object headers and references rounded up; strings as UTF-16, the worst case
        return 4L * dimensions + 2L * (prompt.length() + exactKey.length()) + 160;
    }

    private record Key(String partition, String exactKey) {
    }

    private static final class Entry {
        final Key key;
        final Partition partition;
        final String prompt;
        final String namespace;
        final String model;
        final long expiresAt;
        final long bytes;
        int slot;

        Entry(Key key, Partition partition, String prompt, String namespace, String model, long expiresAt,
                long bytes) {
            this.key = key;
            this.partition = partition;
            this.prompt = prompt;
            this.namespace = namespace;
            this.model = model;
            this.expiresAt = expiresAt;
            this.bytes = bytes;
        }
    }

    /** One partition's entries and their vectors, row after row in one array; removal moves the last row in. */
    private static final class Partition {
        private final int dims;
        private float[] vectors;
        private Entry[] slots;
        int size;

        Partition(int dims) {
            this.dims = dims;
            this.vectors = new float[4 * dims];
            this.slots = new Entry[4];
        }

        void append(Entry e, float[] vector) {
            if (size == slots.length) {
                slots = Arrays.copyOf(slots, size * 2);
                vectors = Arrays.copyOf(vectors, size * 2 * dims);
            }
            System.arraycopy(vector, 0, vectors, size * dims, dims);
            slots[size] = e;
            e.slot = size;
            size++;
        }

        void remove(Entry e) {
            int last = size - 1;
            if (e.slot != last) {
                Entry moved = slots[last];
                System.arraycopy(vectors, last * dims, vectors, e.slot * dims, dims);
                slots[e.slot] = moved;
                moved.slot = e.slot;
            }
            slots[last] = null;
            size = last;
            if (size > 16 && size * 4 <= slots.length) { // give back memory when a partition shrinks to a quarter
                slots = Arrays.copyOf(slots, slots.length / 2);
                vectors = Arrays.copyOf(vectors, slots.length * dims);
            }
        }

        List<Match> nearest(float[] q, double threshold, int limit, long now) {
            Entry[] best = new Entry[limit];
            double[] scores = new double[limit];
            int found = 0;
            for (int i = 0; i < size; i++) {
                double s = dot(q, vectors, i * dims, dims);
                if (s < threshold || (found == limit && s <= scores[found - 1]) || slots[i].expiresAt <= now) {
                    continue;
                }
                int at = found == limit ? limit - 1 : found++;
                while (at > 0 && scores[at - 1] < s) { // insertion into the short best-first list
                    scores[at] = scores[at - 1];
                    best[at] = best[at - 1];
                    at--;
                }
                scores[at] = s;
                best[at] = slots[i];
            }
            List<Match> matches = new ArrayList<>(found);
            for (int i = 0; i < found; i++) {
                matches.add(new Match(best[i].key.exactKey, best[i].prompt, scores[i]));
            }
            return matches;
        }

        private static double dot(float[] q, float[] rows, int offset, int dims) {
            // eight accumulators let the multiply-adds overlap instead of waiting on one sum: 10,000 rows of 384
            // took 2.7 ms with one, 1.5 ms with four, 1.2 ms with eight on this machine (C2)
            float a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
            int i = 0;
            for (; i + 7 < dims; i += 8) {
                int o = offset + i;
                a += q[i] * rows[o];
                b += q[i + 1] * rows[o + 1];
                c += q[i + 2] * rows[o + 2];
                d += q[i + 3] * rows[o + 3];
                e += q[i + 4] * rows[o + 4];
                f += q[i + 5] * rows[o + 5];
                g += q[i + 6] * rows[o + 6];
                h += q[i + 7] * rows[o + 7];
            }
            for (; i < dims; i++) {
                a += q[i] * rows[offset + i];
            }
            return (double) a + b + c + d + e + f + g + h;
        }
    }
}
