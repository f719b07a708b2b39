package dev.caravan.transport.bus;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Replies remembered in this process, for {@code ttl} after they were given ({@code bus.dedupTtl}), and at most
 * {@code maxBytes} of them ({@code bus.dedupMaxMegabytes}, default 64 MiB: each reply weighs its body and chunks plus
 * {@link #OVERHEAD}; Caffeine evicts by frequency and recency past the bound). Messages being answered now are kept
 * apart, never evicted: at most one per consumer waiting or in the pipeline, so bounded by the buses' consumers. A
 * restart forgets them all: set {@code CARAVAN_REDIS_URL} to keep them.
 */
public final class LocalReplyMemory implements ReplyMemory {

    /** How long a duplicate waits for the delivery in flight before it gives up and is answered on its own. */
    static final Duration MAX_WAIT = Duration.ofMinutes(10);
    /** What one remembered reply costs besides its bytes: its key, properties and the cache's entry. */
    static final int OVERHEAD = 512;

    private final Cache<String, BusReply> replies;
    // claimed keys to their answer-to-be: completed with the reply, or with null when it is given up
    private final Map<String, CompletableFuture<BusReply>> inFlight = new ConcurrentHashMap<>();

    public LocalReplyMemory(long maxBytes, Duration ttl) {
        this.replies = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((String key, BusReply reply) -> weight(key, reply))
                .expireAfterWrite(ttl)
                .build();
    }

    static int weight(String key, BusReply reply) {
        long bytes = OVERHEAD + 2L * key.length() + reply.body().length;
        if (reply.chunks() != null) {
            for (byte[] chunk : reply.chunks()) {
                bytes += chunk.length + 16;
            }
        }
        return (int) Math.min(Integer.MAX_VALUE, bytes);
    }

    @Override
    public Claim claim(String key) throws InterruptedException {
        long deadline = System.nanoTime() + MAX_WAIT.toNanos();
        while (true) {
            BusReply known = replies.getIfPresent(key);
            if (known != null) {
                return new Remembered(known);
            }
            CompletableFuture<BusReply> mine = new CompletableFuture<>();
            CompletableFuture<BusReply> slot = inFlight.putIfAbsent(key, mine);
            if (slot == null) {
                known = replies.getIfPresent(key); // remembered between the two looks
                if (known != null) {
                    inFlight.remove(key, mine);
                    return new Remembered(known);
                }
                return new Owned();
            }
            BusReply reply;
            try {
                reply = slot.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                inFlight.remove(key, slot); // the delivery in flight never finished: this one answers
                continue;
            } catch (java.util.concurrent.ExecutionException e) {
                reply = null;
            }
            if (reply != null) {
                return new Remembered(reply);
            }
            // given up: claim it afresh (the loser of a race waits again)
        }
    }

    /** The reply {@code key} got, if this process remembers it; no claim is made. */
    BusReply remembered(String key) {
        return replies.getIfPresent(key);
    }

    /** Whether a delivery of {@code key} is being answered in this process now. */
    boolean answering(String key) {
        return inFlight.containsKey(key);
    }

    @Override
    public void remember(String key, BusReply reply) {
        replies.put(key, reply);
        CompletableFuture<BusReply> slot = inFlight.remove(key);
        if (slot != null) {
            slot.complete(reply);
        }
    }

    @Override
    public void forget(String key) {
        replies.invalidate(key);
        CompletableFuture<BusReply> slot = inFlight.remove(key);
        if (slot != null) {
            slot.complete(null);
        }
    }

    long size() {
        replies.cleanUp();
        return replies.estimatedSize();
    }
}
