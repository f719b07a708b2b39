package dev.caravan.policy.counters;

import dev.caravan.config.BudgetPeriod;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The counters in this process: one node, or a replica that lost Redis. One lock over plain maps: every operation is
 * a handful of map reads and additions (well under a microsecond), so a lock is cheaper than anything cleverer and
 * keeps multi-scope operations atomic. Bounds: windows and budgets are named by config (keys, teams, models), not by
 * requests, and a sweep every {@value #SWEEP_EVERY} operations (and whenever the oldest reservation is due) drops
 * rate windows past their minute, budget windows closed with nothing reserved, and reservations past
 * {@link #RESERVATION_TTL_MILLIS} (their amounts stop counting);
 * past {@value #MAX_ENTRIES} entries in any map, a sweep runs at once. (Caffeine here cost 6 % of a governed
 * request's CPU in a profile: access-order bookkeeping on every read.)
 */
public final class LocalCounters implements Counters {

    static final int MAX_ENTRIES = 1_000_000;
    static final int SWEEP_EVERY = 65_536;

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

    private record Held(List<BudgetCharge> charges, long expiresAt) {
    }

    private final Map<String, Window> windows = new HashMap<>();
    private final Map<String, BudgetWindow> budgets = new HashMap<>();
    private final Map<String, Held> reservations = new HashMap<>(); // one per request in flight
    private int operations;
    private long earliestExpiry = Long.MAX_VALUE; // of the reservations held (or of one settled since: a spare sweep)

    @Override
    public synchronized CompletionStage<RateResult> take(long nowMillis, List<RateCharge> charges) {
        tick(nowMillis);
        long start = nowMillis - Math.floorMod(nowMillis, WINDOW_MILLIS);
        int n = charges.size();
        long[] used = new long[n];
        Window[] found = new Window[n];
        int refused = -1;
        for (int i = 0; i < n; i++) {
            Window w = windows.get(charges.get(i).scope());
            if (w == null) {
                w = new Window();
                windows.put(charges.get(i).scope(), w);
            }
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
        for (int i = 0; i < n; i++) {
            found[i].used = saturatingAdd(found[i].used, charges.get(i).amount());
            used[i] = found[i].used;
        }
        return CompletableFuture.completedFuture(new RateResult(true, -1, used, start));
    }

    @Override
    public synchronized CompletionStage<Void> adjust(long windowStart, List<String> scopes, long delta) {
        for (String scope : scopes) {
            Window w = windows.get(scope);
            if (w != null && w.start == windowStart) {
                w.used = Math.max(0, saturatingAdd(w.used, delta));
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public synchronized CompletionStage<BudgetResult> reserve(long nowMillis, String reservation, List<BudgetCharge> charges) {
        tick(nowMillis);
        int n = charges.size();
        long[] spent = new long[n];
        long[] starts = new long[n];
        long[] ends = new long[n];
        boolean[] opened = new boolean[n];
        BudgetWindow[] found = new BudgetWindow[n];
        int refused = -1;
        for (int i = 0; i < n; i++) {
            BudgetCharge c = charges.get(i);
            BudgetWindow w = current(c.scope(), nowMillis);
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
        Held replaced = reservations.put(reservation, new Held(List.copyOf(charges), nowMillis + RESERVATION_TTL_MILLIS));
        earliestExpiry = Math.min(earliestExpiry, nowMillis + RESERVATION_TTL_MILLIS);
        if (replaced != null) {
            release(replaced.charges()); // the same id reserved again: the new amounts replace the old
        }
        return CompletableFuture.completedFuture(new BudgetResult(true, -1, spent, starts, ends, opened));
    }

    @Override
    public synchronized CompletionStage<boolean[]> settle(long nowMillis, String reservation, List<BudgetCharge> charges,
                                                          long cost) {
        Held held = reservations.remove(reservation);
        if (held != null) {
            release(held.charges());
        }
        boolean[] alerts = new boolean[charges.size()];
        for (int i = 0; i < charges.size(); i++) {
            BudgetCharge c = charges.get(i);
            BudgetWindow w = current(c.scope(), nowMillis);
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
        BudgetWindow w = current(scope, nowMillis);
        return CompletableFuture.completedFuture(w.start < 0 ? 0L : w.spent);
    }

    @Override
    public synchronized CompletionStage<Void> seed(String scope, BudgetPeriod period, long windowStart, long spent) {
        BudgetWindow w = budgets.computeIfAbsent(scope, s -> new BudgetWindow());
        if (w.start < 0) {
            w.start = windowStart;
            w.end = period.windowEnd(windowStart);
            w.spent = spent;
        }
        return CompletableFuture.completedFuture(null);
    }

    /** The scope's window, closed first if its period is over (then start is -1: none open). */
    private BudgetWindow current(String scope, long nowMillis) {
        BudgetWindow w = budgets.get(scope);
        if (w == null) {
            w = new BudgetWindow();
            budgets.put(scope, w);
        }
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

    private void release(List<BudgetCharge> charges) {
        for (BudgetCharge c : charges) {
            BudgetWindow w = budgets.get(c.scope());
            if (w != null) {
                w.reserved = Math.max(0, w.reserved - c.amount());
            }
        }
    }

    /** Counts an operation; sweeps now and then, or at once when a map is past its bound. */
    private void tick(long nowMillis) {
        if (++operations >= SWEEP_EVERY || nowMillis >= earliestExpiry || windows.size() > MAX_ENTRIES
                || budgets.size() > MAX_ENTRIES || reservations.size() > MAX_ENTRIES) {
            operations = 0;
            sweep(nowMillis);
        }
    }

    private void sweep(long nowMillis) {
        long minute = nowMillis - Math.floorMod(nowMillis, WINDOW_MILLIS);
        windows.values().removeIf(w -> w.start < minute - WINDOW_MILLIS);
        List<Held> lapsed = new ArrayList<>();
        earliestExpiry = Long.MAX_VALUE;
        for (Iterator<Held> it = reservations.values().iterator(); it.hasNext(); ) {
            Held held = it.next();
            if (held.expiresAt() <= nowMillis) {
                lapsed.add(held);
                it.remove();
            } else {
                earliestExpiry = Math.min(earliestExpiry, held.expiresAt());
            }
        }
        lapsed.forEach(held -> release(held.charges()));
        budgets.values().removeIf(w -> (w.start < 0 || nowMillis >= w.end) && w.reserved == 0);
    }

    static long saturatingAdd(long a, long b) {
        long r = a + b;
        if (((a ^ r) & (b ^ r)) < 0) {
            return b > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
        }
        return r;
    }
}
