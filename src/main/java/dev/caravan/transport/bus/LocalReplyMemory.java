package dev.caravan.transport.bus;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Replies remembered in this process: at most {@code maxEntries} (default 100,000: a reply is a few KB, so a few
 * hundred MB at worst; {@code bus.dedupMaxEntries}) for {@code ttl} after they were given ({@code bus.dedupTtl}),
 * the least recently written dropped first. A restart forgets them: set {@code CARAVAN_REDIS_URL} to keep them.
 */
public final class LocalReplyMemory implements ReplyMemory {

    /** How long a duplicate waits for the delivery in flight before it gives up and is answered on its own. */
    static final Duration MAX_WAIT = Duration.ofMinutes(10);

    // a claimed key maps to its answer-to-be: completed with the reply, or with null when it is given up
    private final Cache<String, CompletableFuture<BusReply>> slots;

    public LocalReplyMemory(int maxEntries, Duration ttl) {
        this.slots = Caffeine.newBuilder().maximumSize(maxEntries).expireAfterWrite(ttl).build();
    }

    @Override
    public Claim claim(String key) throws InterruptedException {
        long deadline = System.nanoTime() + MAX_WAIT.toNanos();
        while (true) {
            CompletableFuture<BusReply> mine = new CompletableFuture<>();
            CompletableFuture<BusReply> slot = slots.asMap().putIfAbsent(key, mine);
            if (slot == null) {
                return new Owned();
            }
            BusReply reply;
            try {
                reply = slot.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                slots.asMap().remove(key, slot); // the delivery in flight never finished: this one answers
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

    @Override
    public void remember(String key, BusReply reply) {
        CompletableFuture<BusReply> done = CompletableFuture.completedFuture(reply);
        CompletableFuture<BusReply> slot = slots.asMap().put(key, done);
        if (slot != null) {
            slot.complete(reply);
        }
    }

    @Override
    public void forget(String key) {
        CompletableFuture<BusReply> slot = slots.asMap().remove(key);
        if (slot != null) {
            slot.complete(null);
        }
    }

    long size() {
        slots.cleanUp();
        return slots.estimatedSize();
    }
}
