package dev.caravan.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.ConnectionFuture;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One Redis client, its I/O threads and one connection that is made again when it fails, for a store that must never
 * block or wait long: a command unanswered after the command timeout, or issued while disconnected, fails at once.
 * Keys are strings; values are read and written with the codec given ({@code V}). Stages complete on a Lettuce I/O
 * thread, so what a caller chains on them must not block either.
 */
public final class RedisLink<V> implements AutoCloseable {

    private final ClientResources resources;
    private final RedisClient client;
    private final RedisURI uri;
    private final RedisCodec<String, V> codec;
    // the connection, or the attempt to make it; a failed attempt is replaced by the next call that needs one
    private volatile CompletableFuture<StatefulRedisConnection<String, V>> connection;
    private volatile boolean closed;

    private RedisLink(RedisURI uri, RedisCodec<String, V> codec, Duration commandTimeout, int requestQueueSize) {
        this.uri = uri;
        this.codec = codec;
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(2).computationThreadPoolSize(2) // a connection or two: Lettuce's least is plenty
                // Lettuce's default backs off to 30 s; a restarted Redis should be used again within a second
                .reconnectDelay(Delay.exponential(Duration.ofMillis(50), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
                .build();
        this.client = RedisClient.create(resources);
        client.setOptions(ClientOptions.builder()
                .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
                .socketOptions(SocketOptions.builder().connectTimeout(commandTimeout).keepAlive(true).build())
                // while reconnecting, refuse at once rather than buffer: each user goes on without Redis meanwhile
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .requestQueueSize(requestQueueSize)
                .build());
        this.connection = connectAsync();
    }

    /**
     * A link to the Redis at {@code redisUrl} ({@code redis://host:port/db}, {@code rediss://} for TLS). Returns at
     * once: the connection is made in the background, and a call made before it is up waits for it (at most
     * {@code commandTimeout}, which bounds connecting too). {@code requestQueueSize} bounds the commands sent and not
     * yet answered; past it a command fails at once ({@link ClientOptions#DEFAULT_REQUEST_QUEUE_SIZE}: no bound).
     */
    public static <V> RedisLink<V> open(String redisUrl, RedisCodec<String, V> codec, Duration commandTimeout,
                                        int requestQueueSize) {
        RedisURI uri = RedisURI.create(redisUrl);
        uri.setTimeout(commandTimeout);
        return new RedisLink<>(uri, codec, commandTimeout, requestQueueSize);
    }

    /** The commands of the connection, once it is up; a failed attempt to connect is replaced by a new one. */
    public CompletionStage<RedisAsyncCommands<String, V>> commands() {
        CompletableFuture<StatefulRedisConnection<String, V>> current = connection;
        if (current.isCompletedExceptionally() && !closed) {
            synchronized (this) { // one new attempt however many calls find the last one failed
                if (connection == current) {
                    connection = connectAsync();
                }
                current = connection;
            }
        }
        return current.thenApply(StatefulRedisConnection::async);
    }

    /** A new pub/sub connection on the same client (closed with it); not made again when it fails. */
    public CompletableFuture<StatefulRedisPubSubConnection<String, V>> connectPubSub() {
        return onLettuce(() -> client.connectPubSubAsync(codec, uri));
    }

    /** The client's threads: where a caller schedules a retry without a thread of its own. */
    public ClientResources resources() {
        return resources;
    }

    /** Where the link connects to, for messages. */
    public RedisURI uri() {
        return uri;
    }

    /** Shuts the client down: its connections and its I/O threads. */
    @Override
    public void close() {
        closed = true;
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }

    /** The failure itself, out of the CompletionException and ExecutionException a stage wraps it in. */
    public static Throwable cause(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private CompletableFuture<StatefulRedisConnection<String, V>> connectAsync() {
        return onLettuce(() -> client.connectAsync(codec, uri));
    }

    private <C> CompletableFuture<C> onLettuce(Supplier<ConnectionFuture<C>> connect) {
        // started on Lettuce's executor: resolving a host name may block, and the caller may be an event loop
        return CompletableFuture.supplyAsync(connect, resources.eventExecutorGroup())
                .thenCompose(attempt -> attempt.toCompletableFuture());
    }
}
