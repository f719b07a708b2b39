package dev.caravan.policy.cache;

import dev.caravan.redis.LuaScript;
import dev.caravan.redis.RedisLink;
import io.lettuce.core.Range;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * Stored answers in Redis, so every replica shares them. An entry is one string set with {@code PX} (its TTL); a put
 * also names the entry in three sorted sets (member: the cache key, score: when the entry expires) that a clear
 * drains, so clearing a namespace or a model costs what it removes, not a scan of Redis, and clears what every
 * replica stored. All of a put is one Lua script, in the server's clock.
 *
 * <p>Key layout, under the prefix P (default {@value #DEFAULT_PREFIX}):
 * <pre>
 *   P cache:e:&lt;key&gt;          string: the answer ({@link StoredAnswerCodec})       TTL the put's
 *   P cache:i:all             zset: key -&gt; expiry ms, every entry                TTL its longest entry's
 *   P cache:i:ns:&lt;namespace&gt;  zset: key -&gt; expiry ms, the namespace's entries    TTL its longest entry's
 *   P cache:i:m:&lt;model&gt;       zset: key -&gt; expiry ms, the model's entries        TTL its longest entry's
 * </pre>
 * Every key has a TTL, so memory is bounded by what the TTLs keep; give Redis a {@code maxmemory} and a
 * {@code volatile-lru} (or {@code allkeys-lru}) policy and it evicts the least used entries past that. An entry Redis
 * evicts early stays in its indexes until its expiry, harmlessly (a clear deletes nothing for it). A clear trusts that
 * a key names one namespace and one model (the policy's key is a digest over both), so a member left behind in an
 * index after a clear by the other label never names an entry with other labels. Members of the indexes are pruned
 * at each put once expired. The scripts touch keys they are not passed (the entries of an index): this needs one Redis
 * (or a primary with replicas), not a Redis Cluster.
 *
 * <p>{@link #entries()} and {@link #bytes()} are estimates, sampled off the request path when read (at most once per
 * {@link #SAMPLE_EVERY}): entries are the all index's members not yet expired; bytes are entries times the mean
 * {@code MEMORY USAGE} of {@value #SAMPLE_SIZE} random entries (key and value as Redis holds them). The indexes are
 * not counted: measured, a 1 KB answer costs Redis ~1.4 KB as its entry and ~0.5 KB in the three indexes (~177 bytes
 * a member). A read returns the last sample.
 *
 * <p>Nothing blocks; stages complete on a Lettuce I/O thread. A command unanswered after {@link #COMMAND_TIMEOUT}, or
 * issued while disconnected, fails at once with {@link Unavailable}: a slow Redis costs a request at most that (and
 * {@link DegradingResponseStore} turns it into a miss).
 */
public final class RedisResponseStore implements ResponseStore {

    private static final Logger LOG = LoggerFactory.getLogger(RedisResponseStore.class);

    public static final String DEFAULT_PREFIX = "caravan:";
    /** The longest a request waits for Redis; a local Redis answers a get in 80-140 us, a put in 150-220 us (measured). */
    public static final Duration COMMAND_TIMEOUT = Duration.ofMillis(500);
    static final Duration SAMPLE_EVERY = Duration.ofSeconds(10);
    static final int SAMPLE_SIZE = 16;
    // members one clear script removes: ~1 ms of Redis's time, so a clear of a million entries never stalls it
    private static final int CLEAR_BATCH = 500;
    // commands sent and not yet answered: past this many, failing at once beats queueing past the timeout
    private static final int REQUEST_QUEUE_SIZE = 10_000;
    private static final Duration FOREVER = Duration.ofDays(36_500);

    private static final LuaScript PUT = LuaScript.load("cache-put");
    private static final LuaScript DRAIN = LuaScript.load("cache-drain");
    private static final LuaScript CLEAR_BOTH = LuaScript.load("cache-clear-both");
    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

    /** Redis did not answer in time, or could not be reached. */
    public static final class Unavailable extends RuntimeException {
        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The last sample of what the cache holds in Redis. */
    private record Sample(long entries, long bytes, long takenNanos) {
    }

    private final RedisLink<byte[]> link;
    private final String keys; // P cache:
    private final long sampleEveryNanos;
    private volatile boolean closed;
    private volatile Sample sample;
    private final AtomicBoolean sampling = new AtomicBoolean();

    private RedisResponseStore(RedisLink<byte[]> link, String prefix, Duration sampleEvery) {
        this.link = link;
        this.keys = prefix + "cache:";
        this.sampleEveryNanos = sampleEvery.toNanos();
        this.sample = new Sample(0, 0, System.nanoTime() - sampleEveryNanos);
    }

    /**
     * A store in the Redis at {@code redisUrl} ({@code redis://host:port/db}, {@code rediss://} for TLS), its keys
     * under {@code keyPrefix}{@code cache:} (prefix null: {@value #DEFAULT_PREFIX}). Returns at once; the connection
     * is made in the background, and one that fails is tried again by the next call.
     */
    public static RedisResponseStore connect(String redisUrl, String keyPrefix) {
        return connect(redisUrl, keyPrefix, SAMPLE_EVERY);
    }

    static RedisResponseStore connect(String redisUrl, String keyPrefix, Duration sampleEvery) {
        // while reconnecting, the link refuses at once rather than buffer: the request goes on without the cache
        return new RedisResponseStore(RedisLink.open(redisUrl, CODEC, COMMAND_TIMEOUT, REQUEST_QUEUE_SIZE),
                keyPrefix == null ? DEFAULT_PREFIX : keyPrefix, sampleEvery);
    }

    /** A value this version cannot read (another version's, say) is a miss, not a failure. */
    @Override
    public CompletionStage<Optional<StoredAnswer>> get(String key) {
        return call("get", redis -> redis.get(entryKey(key)).thenApply(value -> {
            if (value == null) {
                return Optional.empty();
            }
            try {
                return Optional.of(StoredAnswerCodec.decode(value));
            } catch (IllegalArgumentException e) {
                LOG.debug("Cache entry {} unreadable, taken as a miss: {}", key, e.getMessage());
                return Optional.empty();
            }
        }));
    }

    /**
     * A TTL under a millisecond, or a namespace or model name past 65,535 bytes (the encoding's limit), stores nothing
     * and removes what was there.
     */
    @Override
    public CompletionStage<Void> put(String key, StoredAnswer answer, Duration ttl) {
        Objects.requireNonNull(answer.namespace(), "namespace");
        Objects.requireNonNull(answer.model(), "model");
        long ttlMillis = ttl.isNegative() ? 0 : saturatedMillis(ttl);
        byte[] value;
        try {
            value = ttlMillis == 0 ? null : StoredAnswerCodec.encode(answer);
        } catch (IllegalArgumentException e) {
            LOG.debug("Cache entry {} not stored: {}", key, e.getMessage());
            value = null;
        }
        if (value == null) {
            return call("put", redis -> redis.del(entryKey(key)).thenApply(n -> (Void) null));
        }
        String[] keys = {entryKey(key), allIndex(), namespaceIndex(answer.namespace()), modelIndex(answer.model())};
        return this.<Long>run(PUT, ScriptOutputType.INTEGER, keys, value, bytes(ttlMillis), bytes(key))
                .thenApply(stored -> null);
    }

    /**
     * Drains the index that names what matches (by namespace, by model, or all), {@value #CLEAR_BATCH} members a
     * script, until it is empty; by namespace and model both, scans the smaller of the two indexes and removes what
     * the other also names. Counts the entries removed that had not yet expired, whichever replica stored them.
     */
    @Override
    public CompletionStage<Long> clear(String namespace, String model) {
        if (namespace != null && model != null) {
            String ns = namespaceIndex(namespace);
            String m = modelIndex(model);
            return call("clear", redis -> redis.zcard(ns).thenCombine(redis.zcard(m), (a, b) -> a <= b))
                    .thenCompose(nsSmaller -> clearBoth(nsSmaller ? ns : m, nsSmaller ? m : ns, "0", 0));
        }
        String index = namespace != null ? namespaceIndex(namespace) : model != null ? modelIndex(model) : allIndex();
        String[] keys = index.equals(allIndex()) ? new String[]{index} : new String[]{index, allIndex()};
        return drain(keys, 0);
    }

    @Override
    public long entries() {
        return sampled().entries();
    }

    @Override
    public long bytes() {
        return sampled().bytes();
    }

    /** Takes a new sample now and completes when it is in; for tests. */
    CompletionStage<Void> resample() {
        return takeSample();
    }

    /** Shuts the client down: its connection and its I/O threads. */
    @Override
    public void close() {
        closed = true;
        link.close();
    }

    private CompletionStage<Long> drain(String[] keys, long removedSoFar) {
        return this.<List<Object>>run(DRAIN, ScriptOutputType.MULTI, keys, bytes(entryKey("")),
                        bytes(CLEAR_BATCH))
                .thenCompose(out -> {
                    long removed = removedSoFar + (Long) out.get(0);
                    return (Long) out.get(1) > 0 ? drain(keys, removed) : CompletableFuture.completedFuture(removed);
                });
    }

    private CompletionStage<Long> clearBoth(String scanned, String other, String cursor, long removedSoFar) {
        String[] keys = {scanned, other, allIndex()};
        return this.<List<Object>>run(CLEAR_BOTH, ScriptOutputType.MULTI, keys, bytes(entryKey("")), bytes(cursor),
                        bytes(CLEAR_BATCH))
                .thenCompose(out -> {
                    long removed = removedSoFar + (Long) out.get(0);
                    String next = new String((byte[]) out.get(1), StandardCharsets.UTF_8);
                    return next.equals("0") ? CompletableFuture.completedFuture(removed)
                            : clearBoth(scanned, other, next, removed);
                });
    }

    /** The last sample, and a new one started in the background when it is older than the interval. */
    private Sample sampled() {
        Sample last = sample;
        if (System.nanoTime() - last.takenNanos() >= sampleEveryNanos && !closed) {
            takeSample();
        }
        return last;
    }

    /** Counts the live members of the all index and weighs a few random entries; one sample at a time. */
    private CompletionStage<Void> takeSample() {
        if (!sampling.compareAndSet(false, true)) {
            return CompletableFuture.completedFuture(null);
        }
        long now = System.currentTimeMillis();
        return call("sample", redis -> redis.zcount(allIndex(), Range.create((double) now, Double.POSITIVE_INFINITY))
                .thenCombine(redis.zrandmember(allIndex(), SAMPLE_SIZE), (count, members) -> {
                    @SuppressWarnings("unchecked")
                    CompletableFuture<Long>[] sizes = members.stream()
                            .map(m -> redis.memoryUsage(keys + "e:" + new String(m, StandardCharsets.UTF_8))
                                    .toCompletableFuture())
                            .toArray(CompletableFuture[]::new);
                    return CompletableFuture.allOf(sizes).thenApply(done -> {
                        long sum = 0;
                        int weighed = 0;
                        for (CompletableFuture<Long> size : sizes) {
                            Long bytes = size.join();
                            if (bytes != null) { // null: expired or evicted since it was drawn
                                sum += bytes;
                                weighed++;
                            }
                        }
                        long mean = weighed == 0 ? 0 : sum / weighed;
                        sample = new Sample(count, count * mean, System.nanoTime());
                        return (Void) null;
                    });
                }).thenCompose(s -> s))
                .whenComplete((done, failure) -> {
                    if (failure != null) { // the last sample stands; a read after the interval tries again
                        sample = new Sample(sample.entries(), sample.bytes(), System.nanoTime());
                    }
                    sampling.set(false);
                });
    }

    /** Runs a script by its SHA, by its text when the server does not know it; any failure is {@link Unavailable}. */
    private <T> CompletionStage<T> run(LuaScript script, ScriptOutputType type, String[] keys, byte[]... args) {
        return call(script.name(), redis -> redis.<T>evalsha(script.sha(), type, keys, args)
                .exceptionallyCompose(failure -> RedisLink.cause(failure) instanceof RedisNoScriptException
                        ? redis.<T>eval(script.text(), type, keys, args) // EVAL also caches it again
                        : CompletableFuture.failedFuture(failure)));
    }

    /** Runs an operation on the connection once it is up; any failure completes the stage with {@link Unavailable}. */
    private <T> CompletionStage<T> call(String operation,
                                        Function<RedisAsyncCommands<String, byte[]>, CompletionStage<T>> command) {
        CompletableFuture<T> answer = new CompletableFuture<>();
        link.commands().thenCompose(command).whenComplete((value, failure) -> {
            if (failure == null) {
                answer.complete(value);
            } else {
                answer.completeExceptionally(unavailable(operation, failure));
            }
        });
        return answer;
    }

    private String entryKey(String key) {
        return keys + "e:" + key;
    }

    private String allIndex() {
        return keys + "i:all";
    }

    private String namespaceIndex(String namespace) {
        return keys + "i:ns:" + namespace;
    }

    private String modelIndex(String model) {
        return keys + "i:m:" + model;
    }

    private Unavailable unavailable(String operation, Throwable failure) {
        Throwable cause = RedisLink.cause(failure);
        if (cause instanceof Unavailable u) {
            return u;
        }
        RedisURI uri = link.uri();
        return new Unavailable("Redis at " + uri.getHost() + ":" + uri.getPort() + " did not answer the cache's "
                + operation + ": " + cause.getMessage(), cause);
    }

    /** A TTL past a hundred years is as good as forever, and stays exact in Lua's doubles and Redis's clock. */
    private static long saturatedMillis(Duration ttl) {
        return ttl.compareTo(FOREVER) > 0 ? FOREVER.toMillis() : ttl.toMillis();
    }

    private static byte[] bytes(Object value) {
        return String.valueOf(value).getBytes(StandardCharsets.UTF_8);
    }
}
