package dev.caravan.policy.cache.semantic;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.caravan.redis.LuaScript;
import dev.caravan.redis.RedisLink;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The semantic index shared through a Redis without vector search (no RediSearch, as Redis 7.0 ships): each replica
 * keeps its own index in memory and hears every other replica's additions and clears. A publication is one script:
 * it appends the message to a capped stream ({@code XADD MAXLEN ~ maxEntries}) and publishes it, with its stream id,
 * on a channel. Listeners hear it live; a replica that starts later loads the stream's recent additions with
 * {@link #recent()}; one that was cut off reads on from the last id it saw when it subscribes again.
 *
 * <p>Under the prefix P (default {@code caravan:}):
 * <pre>
 *   P cache:semantic          the pub/sub channel: "&lt;stream id&gt; &lt;message JSON&gt;"
 *   P cache:semantic:recent   stream: field m = the message JSON; at most ~maxEntries (+ one stream node, ~100)
 *                             of the newest, TTL the longest addition's
 * </pre>
 * A message is {@code {"origin", "kind": "add"|"clear", "partition", "vector", "prompt", "exactKey", "namespace",
 * "model", "ttlMillis"}}, the vector base64 of its float32s, little-endian (a 384-float vector: 2 KB). What the
 * stream costs Redis is about maxEntries times (2 KB + the prompt + 200 bytes).
 *
 * <p>A replica ignores its own publications, and hears every other message once: live, or read on after a
 * reconnect, or loaded by {@link #recent()}, whichever comes first. A clear read on after a reconnect may reach the
 * index after additions heard live meanwhile, and remove them too (a miss, not a wrong answer). An addition read from the stream carries the TTL it has left
 * (by the stream id's time, Redis's clock); one with none left is dropped. Callbacks run on a Lettuce I/O thread and
 * must not block (an in-memory index add is fine). Publishing never throws and never waits: a failure is counted
 * ({@code caravan.cache.errors{op=share}}) and logged once until publishing works again.
 */
public final class SemanticShare implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SemanticShare.class);

    public static final Duration COMMAND_TIMEOUT = Duration.ofMillis(500);
    private static final Duration RETRY_EVERY = Duration.ofSeconds(1);
    private static final LuaScript SHARE = LuaScript.load("cache-share");
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * One addition to a replica's semantic index, as every replica hears it.
     *
     * @param vector    the prompt's embedding (compared by identity, as a record's array is)
     * @param ttlMillis how long the entry lives from when it was added (from now, for an addition read from the stream)
     */
    public record Addition(String partition, float[] vector, String prompt, String exactKey, String namespace,
                           String model, long ttlMillis) {
    }

    /** The message on the channel and in the stream. */
    record Message(String origin, String kind, String partition, String vector, String prompt, String exactKey,
                   String namespace, String model, long ttlMillis) {
    }

    private final RedisLink<String> link;
    private final String channel;
    private final String stream;
    private final int maxEntries;
    private final Consumer<Addition> onAddition;
    private final BiConsumer<String, String> onClear;
    private final String origin = UUID.randomUUID().toString();
    // ids heard live or read on, oldest first: they only overlap a read of the stream made around the same time (at
    // start, after a reconnect), a few messages; 10,000 is far more, and ~1 MB
    private final Map<String, Boolean> heard = new LinkedHashMap<>(256, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > 10_000;
        }
    };
    private final Counter published;
    private final Counter received;
    private final Counter errors;
    private final AtomicBoolean failing = new AtomicBoolean();
    private volatile StatefulRedisPubSubConnection<String, String> pubSub;
    private volatile String lastId; // the newest stream id heard or loaded; null before any
    private String loadedUpTo; // the newest id recent() read; guarded by this
    private volatile boolean loadAsked; // recent() was called: from then on, a (re)subscription reads on
    private volatile boolean subscribed;
    private volatile boolean closed;

    private SemanticShare(RedisLink<String> link, String prefix, int maxEntries, Consumer<Addition> onAddition,
                          BiConsumer<String, String> onClear, MeterRegistry registry) {
        this.link = link;
        this.channel = prefix + "cache:semantic";
        this.stream = prefix + "cache:semantic:recent";
        this.maxEntries = maxEntries;
        this.onAddition = onAddition;
        this.onClear = onClear;
        this.published = Counter.builder("caravan.cache.semantic.shared").tag("direction", "out")
                .description("Semantic index additions and clears published to, or heard from, other replicas")
                .register(registry);
        this.received = Counter.builder("caravan.cache.semantic.shared").tag("direction", "in")
                .description("Semantic index additions and clears published to, or heard from, other replicas")
                .register(registry);
        this.errors = Counter.builder("caravan.cache.errors").tag("op", "share")
                .description("Cache operations answered without the shared store: it failed, or was failing and not asked")
                .register(registry);
        subscribe();
    }

    /**
     * A share over the Redis at {@code redisUrl}, under {@code keyPrefix} (null: {@code caravan:}), keeping the
     * newest {@code maxEntries} messages for replicas that start later. Returns at once: it subscribes in the
     * background (again every second while Redis cannot be reached), and Lettuce subscribes again after a reconnect.
     *
     * @param onAddition called with each addition another replica published
     * @param onClear    called with each clear another replica published (namespace, model; null matches any)
     * @param registry   where the share counts what it publishes and hears, and its failures
     */
    public static SemanticShare connect(String redisUrl, String keyPrefix, int maxEntries, Consumer<Addition> onAddition,
                                        BiConsumer<String, String> onClear, MeterRegistry registry) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("the semantic share needs a positive maxEntries, not " + maxEntries);
        }
        // the request queue left at Lettuce's default (unbounded); the pub/sub connection shares the link's threads
        RedisLink<String> link = RedisLink.open(redisUrl, StringCodec.UTF8, COMMAND_TIMEOUT,
                ClientOptions.DEFAULT_REQUEST_QUEUE_SIZE);
        return new SemanticShare(link, keyPrefix == null ? "caravan:" : keyPrefix, maxEntries, onAddition, onClear,
                registry);
    }

    /** Tells every other replica of an addition to this one's index. */
    public void publish(Addition a) {
        send(new Message(origin, "add", a.partition(), encode(a.vector()), a.prompt(), a.exactKey(), a.namespace(),
                a.model(), a.ttlMillis()), Math.max(a.ttlMillis(), 1));
    }

    /** Tells every other replica to clear what matches (null matches any). */
    public void publishClear(String namespace, String model) {
        // a clear matters only to additions before it in the stream, which keep the stream alive themselves
        send(new Message(origin, "clear", null, null, null, null, namespace, model, 0), 1);
    }

    /**
     * The newest additions other replicas published and this one has not heard yet, oldest first, at most
     * {@code maxEntries}, without those a later clear in the stream removes or whose TTL has passed; for loading an
     * index at start. Waits for Redis (at most about a second); empty when it cannot be read (counted).
     */
    public List<Addition> recent() {
        loadAsked = true;
        List<StreamMessage<String, String>> entries;
        try {
            entries = readAfter(null).get(3 * COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            errors.increment();
            LOG.warn("Could not load the shared semantic index's recent entries ({}); starting without them,"
                    + " and reading them once subscribed", RedisLink.cause(e).getMessage());
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
        List<Addition> additions = new ArrayList<>();
        synchronized (this) { // one decision per id with the live deliveries: heard there, or returned here
            for (StreamMessage<String, String> entry : entries) {
                Message m = parse(entry.getBody().get("m"));
                if (m == null) {
                    continue;
                }
                if (m.kind().equals("clear")) { // whoever sent it, and heard live or not: it removes what came before
                    additions.removeIf(a -> matches(a, m.namespace(), m.model()));
                } else if (!origin.equals(m.origin()) && !heard.containsKey(entry.getId())) {
                    Addition a = addition(m, entry.getId());
                    if (a != null) {
                        additions.add(a);
                    }
                }
                loadedUpTo = entry.getId();
                newer(entry.getId());
            }
        }
        received.increment(additions.size());
        return additions;
    }

    /** True once subscribed to the channel (it may be cut off since); for tests. */
    boolean subscribed() {
        return subscribed;
    }

    /** This share's id, in every message it publishes. */
    String origin() {
        return origin;
    }

    @Override
    public void close() {
        closed = true;
        link.close();
    }

    private void send(Message message, long ttlMillis) {
        String json;
        try {
            json = JSON.writeValueAsString(message);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e); // records of strings and numbers always write
        }
        String[] keys = {stream};
        String[] args = {json, Integer.toString(maxEntries), channel, Long.toString(ttlMillis)};
        link.commands().thenCompose(redis -> redis.<String>evalsha(SHARE.sha(), ScriptOutputType.VALUE, keys, args)
                        .exceptionallyCompose(failure -> RedisLink.cause(failure) instanceof RedisNoScriptException
                                ? redis.<String>eval(SHARE.text(), ScriptOutputType.VALUE, keys, args)
                                : CompletableFuture.failedFuture(failure)))
                .whenComplete((id, failure) -> {
                    if (failure == null) {
                        published.increment();
                        if (failing.compareAndSet(true, false)) {
                            LOG.info("Semantic index additions are shared again");
                        }
                        return;
                    }
                    if (closed) {
                        return; // cut off by close(), not by Redis
                    }
                    errors.increment();
                    if (failing.compareAndSet(false, true)) {
                        LOG.warn("Could not share a semantic index {} ({}); other replicas do not hear of it until"
                                + " this works again", message.kind().equals("add") ? "addition" : "clear",
                                RedisLink.cause(failure).getMessage());
                    }
                });
    }

    /** Connects the pub/sub connection and subscribes; tried again every second until it works. */
    private void subscribe() {
        if (closed) {
            return;
        }
        link.connectPubSub()
                .thenCompose(c -> {
                    pubSub = c;
                    c.addListener(new Listener());
                    return c.async().subscribe(channel).toCompletableFuture();
                })
                .whenComplete((done, failure) -> {
                    if (failure != null && !closed) {
                        StatefulRedisPubSubConnection<String, String> half = pubSub;
                        if (half != null) {
                            half.closeAsync();
                            pubSub = null;
                        }
                        LOG.debug("Semantic share could not subscribe ({}); trying again in {}",
                                RedisLink.cause(failure).getMessage(), RETRY_EVERY);
                        link.resources().eventExecutorGroup().schedule(this::subscribe, RETRY_EVERY.toMillis(), TimeUnit.MILLISECONDS);
                    }
                });
    }

    /** Hears the channel; on every (re)subscription after the start-up load, reads on from the last id heard. */
    private final class Listener extends RedisPubSubAdapter<String, String> {

        @Override
        public void subscribed(String ch, long count) {
            subscribed = true;
            if (!loadAsked) {
                return; // recent() will load what is there
            }
            readAfter(lastId).whenComplete((entries, failure) -> {
                if (failure != null) {
                    errors.increment();
                    LOG.debug("Semantic share could not read on after subscribing: {}",
                            RedisLink.cause(failure).getMessage());
                    return;
                }
                entries.forEach(e -> deliver(e.getId(), parse(e.getBody().get("m"))));
            });
        }

        @Override
        public void message(String ch, String payload) {
            int space = payload.indexOf(' ');
            if (space > 0) {
                deliver(payload.substring(0, space), parse(payload.substring(space + 1)));
            }
        }
    }

    /** Hands another replica's message, heard for the first time and not loaded by {@link #recent()}, to the callbacks. */
    private void deliver(String id, Message m) {
        if (m == null || !firstHeard(id) || origin.equals(m.origin())) {
            return;
        }
        received.increment();
        try {
            if (m.kind().equals("clear")) {
                onClear.accept(m.namespace(), m.model());
            } else {
                Addition a = addition(m, id);
                if (a != null) {
                    onAddition.accept(a);
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("A shared semantic index {} failed to apply: {}", m.kind(), e.toString());
        }
    }

    /** True the first time an id is heard (live or read on) that {@link #recent()} did not already decide on. */
    private synchronized boolean firstHeard(String id) {
        if (loadedUpTo != null && compareIds(id, loadedUpTo) <= 0) {
            return false;
        }
        if (heard.put(id, Boolean.TRUE) != null) {
            return false;
        }
        newer(id);
        return true;
    }

    private void newer(String id) {
        if (lastId == null || compareIds(id, lastId) > 0) {
            lastId = id;
        }
    }

    /** The newest {@code maxEntries} stream entries after {@code id} (all, when null), oldest first. */
    private CompletableFuture<List<StreamMessage<String, String>>> readAfter(String id) {
        Range<String> range = Range.from(id == null ? Range.Boundary.unbounded() : Range.Boundary.excluding(id),
                Range.Boundary.unbounded());
        return link.commands().thenCompose(redis -> redis.xrevrange(stream, range, Limit.from(maxEntries)))
                .thenApply(newestFirst -> {
                    List<StreamMessage<String, String>> oldestFirst = new ArrayList<>(newestFirst);
                    Collections.reverse(oldestFirst);
                    return oldestFirst;
                }).toCompletableFuture();
    }

    /** The addition a message carries, with the TTL it has left by its stream id's time; null when none is left. */
    private static Addition addition(Message m, String id) {
        long age = Math.max(0, System.currentTimeMillis() - idMillis(id));
        long left = m.ttlMillis() - age;
        if (left <= 0) {
            return null;
        }
        return new Addition(m.partition(), decode(m.vector()), m.prompt(), m.exactKey(), m.namespace(), m.model(), left);
    }

    private static boolean matches(Addition a, String namespace, String model) {
        return (namespace == null || namespace.equals(a.namespace())) && (model == null || model.equals(a.model()));
    }

    private Message parse(String json) {
        try {
            Message m = json == null ? null : JSON.readValue(json, Message.class);
            return m == null || m.kind() == null ? null : m;
        } catch (JsonProcessingException e) {
            LOG.debug("An unreadable semantic share message, ignored: {}", e.getMessage());
            return null;
        }
    }

    static String encode(float[] vector) {
        ByteBuffer bytes = ByteBuffer.allocate(4 * vector.length).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(vector);
        return Base64.getEncoder().encodeToString(bytes.array());
    }

    static float[] decode(String base64) {
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(base64)).order(ByteOrder.LITTLE_ENDIAN);
        float[] vector = new float[bytes.remaining() / 4];
        bytes.asFloatBuffer().get(vector);
        return vector;
    }

    /** Stream ids are "ms-seq": by time, then by sequence. */
    static int compareIds(String a, String b) {
        int byTime = Long.compare(idMillis(a), idMillis(b));
        return byTime != 0 ? byTime : Long.compare(idSeq(a), idSeq(b));
    }

    private static long idMillis(String id) {
        int dash = id.indexOf('-');
        return Long.parseLong(dash < 0 ? id : id.substring(0, dash));
    }

    private static long idSeq(String id) {
        int dash = id.indexOf('-');
        return dash < 0 ? 0 : Long.parseLong(id.substring(dash + 1));
    }
}
