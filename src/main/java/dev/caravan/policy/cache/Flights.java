package dev.caravan.policy.cache;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Requests in flight by exact key, so that concurrent identical requests make one upstream call: the first is the
 * leader, the others follow it and get its answer. Bounded by keys in flight ({@code maxKeys}) and followers per key
 * ({@code maxFollowers}); past either a request simply calls on its own. A map of futures rather than Camel's
 * Idempotent Consumer: that EIP drops or marks duplicates, it does not hand them the first one's answer. What it costs
 * a miss (two map operations and one future) is inside bench/run's exact-cache-miss row (row 4b), which measured the
 * whole miss path at -18 to +603 µs p50 against no cache, most of it the copy and garbage of stored answers.
 */
final class Flights {

    /** One upstream call that others wait for; completed with the answer, or with null when it produced none. */
    static final class Flight {
        private final CompletableFuture<StoredAnswer> answer = new CompletableFuture<>();
        private final AtomicInteger waiting = new AtomicInteger();
        private final AtomicInteger served = new AtomicInteger();

        /** Whether any follower still waits (the leader's stream is read to its end for them). */
        boolean othersWait() {
            return waiting.get() > 0;
        }

        /** Followers that got the leader's answer (read after {@link #land}). */
        int served() {
            return served.get();
        }
    }

    private final ConcurrentHashMap<String, Flight> inFlight = new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();

    /** A request's place in a flight: it leads it (and must {@link #land} it), or may follow it ({@link #follow}). */
    record Seat(Flight flight, boolean leads) {
    }

    /** This request's seat in the flight for {@code key}; null when the map is full (call on your own). */
    Seat join(String key, int maxKeys) {
        Flight existing = inFlight.get(key);
        if (existing != null) {
            return new Seat(existing, false);
        }
        if (size.incrementAndGet() > maxKeys) {
            size.decrementAndGet();
            return null;
        }
        Flight mine = new Flight();
        existing = inFlight.putIfAbsent(key, mine);
        if (existing != null) {
            size.decrementAndGet();
            return new Seat(existing, false);
        }
        return new Seat(mine, true);
    }

    /**
     * The leader's answer for a follower, or null when the leader produced none, or when {@code timeout} passed first
     * (then the follower calls on its own). Null when the flight has its followers already.
     */
    static CompletableFuture<StoredAnswer> follow(Flight flight, int maxFollowers, Duration timeout) {
        if (flight.waiting.incrementAndGet() > maxFollowers) {
            flight.waiting.decrementAndGet();
            return null;
        }
        return flight.answer.copy()
                .completeOnTimeout(null, timeout.toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((a, e) -> {
                    flight.waiting.decrementAndGet();
                    if (a != null) {
                        flight.served.incrementAndGet();
                    }
                });
    }

    /** The leader's end: its followers get {@code answer} (null: they call on their own); the key is free again. */
    void land(String key, Flight flight, StoredAnswer answer) {
        if (inFlight.remove(key, flight)) {
            size.decrementAndGet();
        }
        flight.answer.complete(answer);
    }

    int inFlight() {
        return size.get();
    }
}
