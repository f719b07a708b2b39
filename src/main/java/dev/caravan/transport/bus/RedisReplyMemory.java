package dev.caravan.transport.bus;

import dev.caravan.redis.LuaScript;
import dev.caravan.redis.RedisLink;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.codec.StringCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Replies remembered in Redis, shared by every gateway and kept across restarts: key {@code <prefix>bus:<message>},
 * a claim ({@code P|<gateway>}) while a delivery is answered, then the reply ({@code D|<json>}) for {@code ttl}
 * ({@code bus.dedupTtl}); Redis bounds them by that time-to-live. Each gateway keeps a liveness key
 * ({@code <prefix>bus:alive:<id>}, 6 s, renewed every 2 s): a claim whose gateway is gone (killed mid-message) is
 * taken over by the next delivery, so a redelivery after a crash waits seconds, not the claim's lifetime.
 *
 * <p>When Redis cannot be reached the memory in this process answers meanwhile (logged, counted by the caller): a
 * message is answered rather than held, and a duplicate is still recognised within this gateway.
 */
public final class RedisReplyMemory implements ReplyMemory {

    private static final Logger LOG = LoggerFactory.getLogger(RedisReplyMemory.class);
    private static final LuaScript CLAIM = LuaScript.load("bus-claim");
    private static final LuaScript FORGET = LuaScript.load("bus-forget");
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);
    static final Duration ALIVE_TTL = Duration.ofSeconds(6);
    static final Duration ALIVE_EVERY = Duration.ofSeconds(2);
    /** A claim outlives the longest call (a 24 h deadline is the most a model allows) only while its gateway lives. */
    static final Duration CLAIM_TTL = Duration.ofHours(25);
    static final Duration POLL = Duration.ofMillis(200);

    private final RedisLink<String> link;
    private final String prefix;
    private final String instance = UUID.randomUUID().toString();
    private final Duration ttl;
    private final LocalReplyMemory fallback;
    // the keys this gateway is answering now: at most one per consumer, so bounded by the buses' consumers
    private final java.util.Set<String> answering = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Runnable onOutage;
    private final ScheduledExecutorService alive;

    /**
     * @param fallback answers while Redis cannot be reached
     * @param onOutage told each time Redis failed a call (a metric)
     */
    public RedisReplyMemory(String redisUrl, String prefix, Duration ttl, LocalReplyMemory fallback, Runnable onOutage) {
        this.link = RedisLink.open(redisUrl, StringCodec.UTF8, COMMAND_TIMEOUT, 10_000);
        this.prefix = prefix + "bus:";
        this.ttl = ttl;
        this.fallback = fallback;
        this.onOutage = onOutage;
        this.alive = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "caravan-bus-alive");
            t.setDaemon(true);
            return t;
        });
        alive.scheduleWithFixedDelay(this::beat, 0, ALIVE_EVERY.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void beat() {
        link.commands().thenCompose(r -> r.set(aliveKey(instance), "1", SetArgs.Builder.px(ALIVE_TTL.toMillis())))
                .exceptionally(failure -> null);
    }

    private String aliveKey(String id) {
        return prefix + "alive:" + id;
    }

    @Override
    public Claim claim(String key) throws InterruptedException {
        long deadline = System.nanoTime() + LocalReplyMemory.MAX_WAIT.toNanos();
        while (true) {
            String found;
            try {
                found = run(CLAIM, new String[]{prefix + key}, instance, Long.toString(CLAIM_TTL.toMillis()),
                        prefix + "alive:").toCompletableFuture().get(COMMAND_TIMEOUT.toMillis() * 2, TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException e) {
                outage("claim", e);
                return fallback.claim(key);
            }
            if ("OWNED".equals(found)) {
                answering.add(key);
                return new Owned();
            }
            if (found != null && found.startsWith("D|")) {
                return new Remembered(BusReply.fromJson(found.substring(2)));
            }
            if ("MINE".equals(found) && !answering.contains(key)) {
                // this gateway's claim, answered by nobody here now: its reply (or its release) did not reach Redis
                BusReply known = fallback.remembered(key);
                if (known != null) {
                    remember(key, known); // written again, for the replicas
                    return new Remembered(known);
                }
                answering.add(key);
                return new Owned();
            }
            if (System.nanoTime() > deadline) {
                answering.add(key);
                return new Owned(); // the delivery in flight never finished: this one answers
            }
            Thread.sleep(POLL.toMillis()); // a consumer's own thread: another delivery is being answered
        }
    }

    @Override
    public void remember(String key, BusReply reply) {
        answering.remove(key);
        fallback.remember(key, reply);
        link.commands().thenCompose(r -> r.set(prefix + key, "D|" + reply.toJson(), SetArgs.Builder.px(ttl.toMillis())))
                .whenComplete((ok, failure) -> {
                    if (failure != null) {
                        outage("remember", failure);
                    }
                });
    }

    @Override
    public void forget(String key) {
        answering.remove(key);
        fallback.forget(key);
        run(FORGET, new String[]{prefix + key}, instance).whenComplete((ok, failure) -> {
            if (failure != null) {
                outage("forget", failure);
            }
        });
    }

    private CompletionStage<String> run(LuaScript script, String[] keys, String... args) {
        return link.commands().thenCompose(r -> r.<String>evalsha(script.sha(), ScriptOutputType.VALUE, keys, args)
                .exceptionallyCompose(failure -> RedisLink.cause(failure) instanceof RedisNoScriptException
                        ? r.<String>eval(script.text(), ScriptOutputType.VALUE, keys, args)
                        : CompletableFuture.failedFuture(failure)));
    }

    private void outage(String operation, Throwable failure) {
        onOutage.run();
        LOG.warn("Bus reply memory: Redis failed a {} ({}); this gateway's own memory answers meanwhile", operation,
                RedisLink.cause(failure).getClass().getSimpleName());
    }

    @Override
    public void close() {
        alive.shutdownNow();
        try {
            link.commands().thenCompose(r -> r.del(aliveKey(instance))).toCompletableFuture()
                    .get(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // its liveness key lapses on its own within seconds
        }
        link.close();
    }
}
