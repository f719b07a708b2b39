package dev.caravan.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One Redis pub/sub channel that every replica publishes to and hears: a short notice, not a queue (a message
 * published while a replica is cut off is lost to it, so its listener is also told each time it subscribes again,
 * and may catch up from the source of truth). Never blocks: publishing and subscribing are asynchronous, and
 * subscribing is tried again every second until it works.
 */
public final class RedisChannel implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RedisChannel.class);
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(1);
    private static final Duration RETRY_EVERY = Duration.ofSeconds(1);

    private final RedisLink<String> link;
    private final String channel;
    private final Consumer<String> onMessage;
    private final Runnable onSubscribed;
    private volatile StatefulRedisPubSubConnection<String, String> pubSub;
    private volatile boolean closed;

    private RedisChannel(RedisLink<String> link, String channel, Consumer<String> onMessage, Runnable onSubscribed) {
        this.link = link;
        this.channel = channel;
        this.onMessage = onMessage;
        this.onSubscribed = onSubscribed;
        subscribe();
    }

    /**
     * Subscribes to {@code channel} on the Redis at {@code redisUrl}. Both callbacks run on a Lettuce thread: they
     * must hand work off, never block.
     *
     * @param onMessage    each message, this replica's own included
     * @param onSubscribed each time the subscription is made (at start, and after a reconnect)
     */
    public static RedisChannel open(String redisUrl, String channel, Consumer<String> onMessage, Runnable onSubscribed) {
        return new RedisChannel(RedisLink.open(redisUrl, StringCodec.UTF8, COMMAND_TIMEOUT,
                ClientOptions.DEFAULT_REQUEST_QUEUE_SIZE), channel, onMessage, onSubscribed);
    }

    /** Publishes {@code message}; the stage fails when Redis cannot be reached. */
    public CompletionStage<Long> publish(String message) {
        return link.commands().thenCompose(redis -> redis.publish(channel, message));
    }

    @Override
    public void close() {
        closed = true;
        link.close();
    }

    private void subscribe() {
        if (closed) {
            return;
        }
        link.connectPubSub()
                .thenCompose(c -> {
                    pubSub = c;
                    c.addListener(new RedisPubSubAdapter<>() {
                        @Override
                        public void subscribed(String ch, long count) {
                            onSubscribed.run();
                        }

                        @Override
                        public void message(String ch, String payload) {
                            onMessage.accept(payload);
                        }
                    });
                    return c.async().subscribe(channel).toCompletableFuture();
                })
                .whenComplete((done, failure) -> {
                    if (failure != null && !closed) {
                        StatefulRedisPubSubConnection<String, String> half = pubSub;
                        if (half != null) {
                            half.closeAsync();
                            pubSub = null;
                        }
                        LOG.debug("Could not subscribe to {} ({}); trying again in {}", channel,
                                RedisLink.cause(failure).getMessage(), RETRY_EVERY);
                        link.resources().eventExecutorGroup().schedule(this::subscribe, RETRY_EVERY.toMillis(),
                                TimeUnit.MILLISECONDS);
                    }
                });
    }
}
