package dev.caravan.transport.http;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of request bodies the listener holds at once, over all connections: a body is admitted only if its
 * bytes fit in what is left, and gives them back when its request is answered or its connection closes.
 */
final class BodyBudget {

    private final long limit;
    private final AtomicLong held = new AtomicLong();

    BodyBudget(long limit) {
        this.limit = limit;
    }

    boolean tryReserve(long bytes) {
        while (true) {
            long now = held.get();
            if (now + bytes > limit) {
                return false;
            }
            if (held.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    void release(long bytes) {
        if (bytes > 0) {
            held.addAndGet(-bytes);
        }
    }

    long held() {
        return held.get();
    }

    long limit() {
        return limit;
    }
}
