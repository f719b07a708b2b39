package dev.caravan.policy.counters;

import dev.caravan.config.BudgetPeriod;
import dev.caravan.redis.LuaScript;
import dev.caravan.redis.RedisLink;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.codec.StringCodec;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The counters in Redis, so every replica counts against one limit and one budget. Each operation is one Lua script
 * (atomic in Redis, so all scopes of a call are charged or none), run by EVALSHA, or EVAL when the server has
 * forgotten it (a restart). Times are the caller's {@code nowMillis}, as in {@link LocalCounters}, so one contract
 * drives both; key TTLs are garbage collection only, in Redis's own clock.
 *
 * <p>Key layout, under the prefix P (default {@value #DEFAULT_PREFIX}):
 * <pre>
 *   P rate:&lt;scope&gt;:&lt;minute start ms&gt;  string: the minute's count              TTL 2 min
 *   P budget:&lt;scope&gt;                  hash: start, end, spent, alerted           TTL to the window's end + 1 h
 *   P held:&lt;scope&gt;                    hash: sum, r:&lt;reservation&gt; -&gt; amount     TTL reservation TTL + 1 min
 *   P lapse:&lt;scope&gt;                   zset: reservation -&gt; lapse time (ms)      (after the last reserve)
 * </pre>
 * Every key a script touches is passed in KEYS. A Redis Cluster would need every key of a call in one slot: give
 * the prefix a hash tag ({@code {caravan}:}) and all counters live on one node (they are small; that is fine).
 *
 * <p>Numbers: sums are kept by INCRBY/HINCRBY (exact 64-bit integers), comparisons in Lua are doubles, exact to 2^53
 * (9 * 10^15: nine million dollars in nano-dollars in one window). A sum past 2^63 fails its script (the call
 * completes with {@link Unavailable}) where {@link LocalCounters} saturates.
 *
 * <p>Nothing blocks: stages complete on a Lettuce I/O thread, so what a caller chains on them must not block either.
 * A command unanswered after {@link #COMMAND_TIMEOUT}, or issued while disconnected, fails at once with
 * {@link Unavailable}.
 */
public final class RedisCounters implements Counters {

    public static final String DEFAULT_PREFIX = "caravan:";
    /** An unreachable Redis costs a request at most this; a local Redis answers a script in 30-120 us (measured). */
    public static final Duration COMMAND_TIMEOUT = Duration.ofMillis(500);

    private static final long RATE_TTL_MILLIS = 2 * WINDOW_MILLIS; // the minute, and one more for a late adjust
    private static final long WINDOW_KEEP_MILLIS = 60 * 60 * 1000L; // past its end: replicas' clocks differ a little
    private static final long HOLD_TTL_MILLIS = RESERVATION_TTL_MILLIS + 60_000;
    // commands sent and not yet answered, per connection: one connection ran ~25,000 take scripts a second (measured,
    // 2 cores), so ten thousand queued is already past the timeout; failing then is better than queueing
    private static final int REQUEST_QUEUE_SIZE = 10_000;

    // read from caravan/redis/ once, when the class loads; budget.lua holds what reserve and settle share
    private static final LuaScript TAKE = LuaScript.load("take");
    private static final LuaScript ADJUST = LuaScript.load("adjust");
    private static final LuaScript RESERVE = LuaScript.load("budget", "reserve");
    private static final LuaScript SETTLE = LuaScript.load("budget", "settle");
    private static final LuaScript SEED = LuaScript.load("seed");

    private final RedisLink<String> link;
    private final String prefix;

    private RedisCounters(RedisLink<String> link, String prefix) {
        this.link = link;
        this.prefix = prefix;
    }

    /**
     * Counters in the Redis at {@code redisUrl} ({@code redis://host:port/db}, {@code rediss://} for TLS), every key
     * under {@code keyPrefix} (null: {@value #DEFAULT_PREFIX}). Returns at once: the connection is made in the
     * background, and a call made before it is up waits for it (at most {@link #COMMAND_TIMEOUT}). A Redis that
     * cannot be reached at start is tried again by the next call after the attempt failed.
     */
    public static RedisCounters connect(String redisUrl, String keyPrefix) {
        // while reconnecting, the link refuses at once rather than buffer: the caller counts locally meanwhile
        return new RedisCounters(RedisLink.open(redisUrl, StringCodec.UTF8, COMMAND_TIMEOUT, REQUEST_QUEUE_SIZE),
                keyPrefix == null ? DEFAULT_PREFIX : keyPrefix);
    }

    @Override
    public CompletionStage<RateResult> take(long nowMillis, List<RateCharge> charges) {
        long start = nowMillis - Math.floorMod(nowMillis, WINDOW_MILLIS);
        int n = charges.size();
        String[] keys = new String[n];
        String[] args = new String[1 + 2 * n];
        args[0] = Long.toString(RATE_TTL_MILLIS);
        for (int i = 0; i < n; i++) {
            RateCharge c = charges.get(i);
            keys[i] = rateKey(c.scope(), start);
            args[1 + 2 * i] = Long.toString(c.limit());
            args[2 + 2 * i] = Long.toString(c.amount());
        }
        return this.<List<Object>>run(TAKE, ScriptOutputType.MULTI, keys, args).thenApply(out -> {
            int refused = (int) number(out.get(0)) - 1;
            long[] used = new long[n];
            for (int i = 0; i < n; i++) {
                used[i] = number(out.get(1 + i));
            }
            return new RateResult(refused < 0, refused, used, start);
        });
    }

    @Override
    public CompletionStage<Void> adjust(long windowStart, List<String> scopes, long delta) {
        String[] keys = scopes.stream().map(scope -> rateKey(scope, windowStart)).toArray(String[]::new);
        return this.<Long>run(ADJUST, ScriptOutputType.INTEGER, keys, Long.toString(delta)).thenApply(changed -> null);
    }

    @Override
    public CompletionStage<BudgetResult> reserve(long nowMillis, String reservation, List<BudgetCharge> charges) {
        int n = charges.size();
        String[] keys = budgetKeys(charges);
        String[] args = new String[4 + 5 * n];
        args[0] = Long.toString(nowMillis);
        args[1] = reservation;
        args[2] = Long.toString(nowMillis + RESERVATION_TTL_MILLIS);
        args[3] = Long.toString(HOLD_TTL_MILLIS);
        for (int i = 0; i < n; i++) {
            BudgetCharge c = charges.get(i);
            int a = 4 + 5 * i;
            args[a] = Long.toString(c.limit());
            args[a + 1] = Long.toString(c.amount());
            opening(c.period(), nowMillis, args, a + 2);
        }
        return this.<List<Object>>run(RESERVE, ScriptOutputType.MULTI, keys, args).thenApply(out -> {
            int refused = (int) number(out.get(0)) - 1;
            long[] spent = new long[n];
            long[] starts = new long[n];
            long[] ends = new long[n];
            boolean[] opened = new boolean[n];
            for (int i = 0; i < n; i++) {
                int o = 1 + 4 * i;
                spent[i] = number(out.get(o));
                starts[i] = number(out.get(o + 1));
                ends[i] = number(out.get(o + 2));
                opened[i] = number(out.get(o + 3)) == 1;
            }
            return new BudgetResult(refused < 0, refused, spent, starts, ends, opened);
        });
    }

    /**
     * {@inheritDoc}
     *
     * <p>The reservation is released in the scopes {@code charges} names (callers pass the charges they reserved);
     * a scope reserved in and not named here holds its amount until the reservation lapses.
     */
    @Override
    public CompletionStage<boolean[]> settle(long nowMillis, String reservation, List<BudgetCharge> charges, long cost) {
        int n = charges.size();
        String[] keys = budgetKeys(charges);
        String[] args = new String[3 + 4 * n];
        args[0] = Long.toString(nowMillis);
        args[1] = reservation;
        args[2] = Long.toString(cost);
        for (int i = 0; i < n; i++) {
            BudgetCharge c = charges.get(i);
            int a = 3 + 4 * i;
            args[a] = Long.toString(c.alertAt());
            opening(c.period(), nowMillis, args, a + 1);
        }
        return this.<List<Object>>run(SETTLE, ScriptOutputType.MULTI, keys, args).thenApply(out -> {
            boolean[] alerts = new boolean[n];
            for (int i = 0; i < n; i++) {
                alerts[i] = number(out.get(i)) == 1;
            }
            return alerts;
        });
    }

    @Override
    public CompletionStage<Long> spent(long nowMillis, String scope, BudgetPeriod period) {
        CompletableFuture<Long> answer = new CompletableFuture<>();
        link.commands().thenCompose(redis -> redis.hmget(prefix + "budget:" + scope, "start", "end", "spent"))
                .whenComplete((fields, failure) -> {
                    if (failure != null) {
                        answer.completeExceptionally(unavailable("spent", failure));
                        return;
                    }
                    boolean open = fields.get(0).hasValue() && nowMillis < Long.parseLong(fields.get(1).getValue());
                    answer.complete(open ? Long.parseLong(fields.get(2).getValue()) : 0L);
                });
        return answer;
    }

    @Override
    public CompletionStage<Void> seed(String scope, BudgetPeriod period, long windowStart, long spent) {
        long end = period.windowEnd(windowStart);
        // the window's whole length from now is more than it has left: the seeded window is never dropped early
        long ttl = end - windowStart + WINDOW_KEEP_MILLIS;
        return this.<Long>run(SEED, ScriptOutputType.INTEGER, new String[]{prefix + "budget:" + scope},
                Long.toString(windowStart), Long.toString(end), Long.toString(spent), Long.toString(ttl))
                .thenApply(seeded -> null);
    }

    /** Shuts the client down: its connection and its I/O threads. */
    @Override
    public void close() {
        link.close();
    }

    /** The window a charge opens if none is open: its start, end and the budget hash's TTL, into args from a. */
    private static void opening(BudgetPeriod period, long nowMillis, String[] args, int a) {
        long start = period.windowStart(nowMillis);
        long end = period.windowEnd(start);
        args[a] = Long.toString(start);
        args[a + 1] = Long.toString(end);
        args[a + 2] = Long.toString(Math.max(end - nowMillis, 0) + WINDOW_KEEP_MILLIS);
    }

    private String rateKey(String scope, long windowStart) {
        return prefix + "rate:" + scope + ":" + windowStart;
    }

    private String[] budgetKeys(List<BudgetCharge> charges) {
        String[] keys = new String[3 * charges.size()];
        for (int i = 0; i < charges.size(); i++) {
            String scope = charges.get(i).scope();
            keys[3 * i] = prefix + "budget:" + scope;
            keys[3 * i + 1] = prefix + "held:" + scope;
            keys[3 * i + 2] = prefix + "lapse:" + scope;
        }
        return keys;
    }

    /** Runs a script by its SHA, by its text when the server does not know it; any failure is {@link Unavailable}. */
    private <T> CompletionStage<T> run(LuaScript script, ScriptOutputType type, String[] keys, String... args) {
        CompletableFuture<T> answer = new CompletableFuture<>();
        link.commands().thenCompose(redis -> redis.<T>evalsha(script.sha(), type, keys, args)
                        .exceptionallyCompose(failure -> RedisLink.cause(failure) instanceof RedisNoScriptException
                                ? redis.<T>eval(script.text(), type, keys, args) // EVAL also caches it again
                                : CompletableFuture.failedFuture(failure)))
                .whenComplete((value, failure) -> {
                    if (failure == null) {
                        answer.complete(value);
                    } else {
                        answer.completeExceptionally(unavailable(script.name(), failure));
                    }
                });
        return answer;
    }

    private Unavailable unavailable(String operation, Throwable failure) {
        Throwable cause = RedisLink.cause(failure);
        if (cause instanceof Unavailable u) {
            return u;
        }
        RedisURI uri = link.uri();
        return new Unavailable("Redis at " + uri.getHost() + ":" + uri.getPort() + " did not answer " + operation
                + ": " + cause.getMessage(), cause);
    }

    /** A number in a script's answer: an integer reply, or a bulk string the script passed through untouched. */
    private static long number(Object value) {
        if (value instanceof Long l) {
            return l;
        }
        return Long.parseLong(String.valueOf(value));
    }
}
