package dev.caravan.redis;

import org.slf4j.Logger;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Whether a shared store (Redis) is failing, and when to try it again: while it fails, one caller per probe interval
 * asks it, the others go without it. One WARN says it failed and one INFO that it answers again, never one per
 * request. The limits' counters and the cache's store each keep one.
 */
public final class Outage {

    private final String store;
    private final Logger log;
    private final LongSupplier nanoTime;
    private final long probeIntervalNanos;
    private final AtomicBoolean degraded = new AtomicBoolean();
    private final AtomicLong nextProbe = new AtomicLong();

    /** @param store the store's name in the log lines ("Cache store", "Limits store") */
    public Outage(String store, Logger log, LongSupplier nanoTime, Duration probeInterval) {
        this.store = store;
        this.log = log;
        this.nanoTime = nanoTime;
        this.probeIntervalNanos = probeInterval.toNanos();
    }

    /** True while the store is failing (the gauges read it). */
    public boolean degraded() {
        return degraded.get();
    }

    /** Whether this caller should ask the store: always while it answers; while it fails, one caller per interval. */
    public boolean shouldAsk() {
        if (!degraded.get()) {
            return true;
        }
        long now = nanoTime.getAsLong();
        long due = nextProbe.get();
        return now - due >= 0 && nextProbe.compareAndSet(due, now + probeIntervalNanos);
    }

    /** The store failed; {@code meanwhile} says what happens until it answers (for the WARN line). */
    public void failed(Throwable failure, String meanwhile) {
        if (degraded.compareAndSet(false, true)) {
            nextProbe.set(nanoTime.getAsLong() + probeIntervalNanos);
            log.warn("{} failed ({}); {} until it answers again (tried every {} ms)", store,
                    RedisLink.cause(failure).getMessage(), meanwhile, Duration.ofNanos(probeIntervalNanos).toMillis());
        } else {
            log.debug("{} still failing: {}", store, RedisLink.cause(failure).getMessage());
        }
    }

    /** The store answered; {@code again} says what is used again (for the INFO line). */
    public void answered(String again) {
        if (degraded.compareAndSet(true, false)) {
            log.info("{} answers again; {}", store, again);
        }
    }
}
