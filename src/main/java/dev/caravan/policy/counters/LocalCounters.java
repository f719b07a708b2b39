package dev.caravan.policy.counters;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.caravan.config.BudgetPeriod;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The counters in this process: one node, or a replica that lost Redis. One lock over all of them: every operation
 * is a handful of map reads and additions (well under a microsecond), so a lock is cheaper than anything cleverer
 * and keeps multi-scope operations atomic.
 */
public final class LocalCounters implements Counters {

    /** A rate window: the minute it counts and what it counted. */
    private static final class Window {
        long start;
        long used;
    }

    /** A budget window: when it started, what was spent, what is reserved, whether its alert was said. */
    private static final class BudgetWindow {
        long start = -1;
        long end = -1;
        long spent;
        long reserved;
        boolean alerted;
    }

    private record Held(List<BudgetCharge> charges) {
    }

    // scopes come from config (keys, teams, models), not from requests; the bounds only drop scopes a reload removed
    private final Cache<String, Window> windows = Caffeine.newBuilder()
            .maximumSize(1_000_000).expireAfterAccess(Duration.ofMinutes(2)).build();
    private final Cache<String, BudgetWindow> budgets = Caffeine.newBuilder()
            .maximumSize(1_000_000).expireAfterAccess(Duration.ofDays(32)).build(); // the longest period, a month
    // one entry per request in flight; a reservation never settled lapses (its amount stops counting)
    private final Cache<String, Held> reservations = Caffeine.newBuilder()
            .maximumSize(1_000_000).expireAfterWrite(Duration.ofMillis(RESERVATION_TTL_MILLIS))
            .removalListener((String id, Held held, RemovalCause cause) -> {
                if (held != null && cause.wasEvicted()) {
                    release(held.charges());
                }
            }).build();

    @Override
    public synchronized CompletionStage<RateResult> take(long nowMillis, List<RateCharge> charges) {
        long start = nowMillis - Math.floorMod(nowMillis, WINDOW_MILLIS);
        long[] used = new long[charges.size()];
        Window[] found = new Window[charges.size()];
        int refused = -1;
        for (int i = 0; i < charges.size(); i++) {
            Window w = windows.get(charges.get(i).scope(), s -> new Window());
            if (w.start != start) {
                w.start = start;
                w.used = 0;
            }
            found[i] = w;
            used[i] = w.used;
            if (refused < 0 && w.used >= charges.get(i).limit()) {
                refused = i;
            }
        }
        if (refused >= 0) {
            return CompletableFuture.completedFuture(new RateResult(false, refused, used, start));
        }
        for (int i = 0; i < charges.size(); i++) {
            found[i].used = saturatingAdd(found[i].used, charges.get(i).amount());
            used[i] = found[i].used;
        }
        return CompletableFuture.completedFuture(new RateResult(true, -1, used, start));
    }

    @Override
    public synchronized CompletionStage<Void> adjust(long windowStart, List<String> scopes, long delta) {
        for (String scope : scopes) {
            Window w = windows.getIfPresent(scope);
            if (w != null && w.start == windowStart) {
                w.used = Math.max(0, saturatingAdd(w.used, delta));
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletionStage<BudgetResult> reserve(long nowMillis, String reservation, List<BudgetCharge> charges) {
        int n = charges.size();
        long[] spent = new long[n];
        long[] starts = new long[n];
        long[] ends = new long[n];
        boolean[] opened = new boolean[n];
        BudgetWindow[] found = new BudgetWindow[n];
        int refused = -1;
        for (int i = 0; i < n; i++) {
            BudgetCharge c = charges.get(i);
            BudgetWindow w = current(c.scope(), c.period(), nowMillis);
            if (w.start < 0) { // no window open: this charge opens one
                open(w, c.period(), nowMillis);
                opened[i] = true;
            }
            found[i] = w;
            spent[i] = w.spent;
            starts[i] = w.start;
            ends[i] = w.end;
            if (refused < 0 && saturatingAdd(w.spent, w.reserved) >= c.limit()) {
                refused = i;
            }
        }
        if (refused >= 0) {
            return CompletableFuture.completedFuture(new BudgetResult(false, refused, spent, starts, ends, opened));
        }
        for (int i = 0; i < n; i++) {
            found[i].reserved = saturatingAdd(found[i].reserved, charges.get(i).amount());
        }
        Held replaced = reservations.asMap().put(reservation, new Held(List.copyOf(charges)));
        if (replaced != null) {
            release(replaced.charges()); // the same id reserved again: the new amounts replace the old
        }
        return CompletableFuture.completedFuture(new BudgetResult(true, -1, spent, starts, ends, opened));
    }

    @Override
    public synchronized CompletionStage<boolean[]> settle(long nowMillis, String reservation, List<BudgetCharge> charges,
                                                          long cost) {
        Held held = reservations.asMap().remove(reservation);
        if (held != null) {
            release(held.charges());
        }
        boolean[] alerts = new boolean[charges.size()];
        for (int i = 0; i < charges.size(); i++) {
            BudgetCharge c = charges.get(i);
            BudgetWindow w = current(c.scope(), c.period(), nowMillis);
            if (w.start < 0) {
                if (cost == 0) {
                    continue; // nothing to charge opens no window
                }
                open(w, c.period(), nowMillis);
            }
            w.spent = saturatingAdd(w.spent, cost);
            if (c.alertAt() >= 0 && !w.alerted && w.spent >= c.alertAt()) {
                w.alerted = true;
                alerts[i] = true;
            }
        }
        return CompletableFuture.completedFuture(alerts);
    }

    @Override
    public synchronized CompletionStage<Long> spent(long nowMillis, String scope, BudgetPeriod period) {
        BudgetWindow w = current(scope, period, nowMillis);
        return CompletableFuture.completedFuture(w.start < 0 ? 0L : w.spent);
    }

    @Override
    public synchronized CompletionStage<Void> seed(String scope, BudgetPeriod period, long windowStart, long spent) {
        BudgetWindow w = budgets.get(scope, s -> new BudgetWindow());
        if (w.start < 0) {
            w.start = windowStart;
            w.end = period.windowEnd(windowStart);
            w.spent = spent;
        }
        return CompletableFuture.completedFuture(null);
    }

    /** The scope's window, closed first if its period is over (then start is -1: none open). */
    private BudgetWindow current(String scope, BudgetPeriod period, long nowMillis) {
        BudgetWindow w = budgets.get(scope, s -> new BudgetWindow());
        if (w.start >= 0 && nowMillis >= w.end) {
            w.start = -1;
            w.end = -1;
            w.spent = 0;
            w.alerted = false; // reservations still held keep counting: they settle into the new window
        }
        return w;
    }

    private static void open(BudgetWindow w, BudgetPeriod period, long nowMillis) {
        w.start = period.windowStart(nowMillis);
        w.end = period.windowEnd(w.start);
        w.spent = 0;
        w.alerted = false;
    }

    private synchronized void release(List<BudgetCharge> charges) {
        for (BudgetCharge c : charges) {
            BudgetWindow w = budgets.getIfPresent(c.scope());
            if (w != null) {
                w.reserved = Math.max(0, w.reserved - c.amount());
            }
        }
    }

    static long saturatingAdd(long a, long b) {
        long r = a + b;
        if (((a ^ r) & (b ^ r)) < 0) {
            return b > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
        }
        return r;
    }
}
