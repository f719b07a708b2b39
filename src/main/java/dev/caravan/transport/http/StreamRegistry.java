package dev.caravan.transport.http;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The streams open right now. Camel's graceful shutdown only sees exchanges, and a stream outlives its exchange,
 * so shutdown waits here too. Bounded by the number of open connections.
 */
public final class StreamRegistry {

    private final Set<StreamRelay> open = ConcurrentHashMap.newKeySet();

    void opened(StreamRelay relay) {
        open.add(relay);
    }

    void closed(StreamRelay relay) {
        if (open.remove(relay)) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    public int openStreams() {
        return open.size();
    }

    /** Waits until every open stream has ended or the grace period is over; true when none is left. */
    public boolean awaitDrained(Duration grace) throws InterruptedException {
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (this) {
            while (!open.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                wait(Math.max(1, left / 1_000_000));
            }
        }
        return true;
    }
}
