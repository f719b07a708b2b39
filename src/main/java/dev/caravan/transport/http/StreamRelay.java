package dev.caravan.transport.http;

import dev.caravan.dialect.StreamEncoder;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.provider.StreamSink;
import dev.caravan.stream.MeteredStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Writes one stream to one client as server-sent events, on the channel's event loop: each chunk as it arrives in
 * the client's wire format (the encoder's), the next one asked for only when the client can take it, SSE comment
 * keep-alives in silences, and an error event when the upstream is silent past the idle timeout. What the stream
 * means (usage, first token, policies, who hears its end) is the {@link MeteredStream}'s, not this writer's.
 */
public final class StreamRelay implements StreamSink {

    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);

    private final MeteredStream stream;
    private final StreamEncoder encoder;
    private final Duration idleTimeout;
    private final Duration keepAliveInterval;

    // event-loop confined once attached
    private ChannelHandlerContext ctx;
    private ChannelPromise endPromise;
    private boolean keepAliveConnection;
    private boolean ended;
    private boolean awaitingWritable;
    private long askedAgainNanos;
    private long lastWriteNanos;
    private ScheduledFuture<?> ticker;

    /** @param encoder writes the client's wire format */
    public StreamRelay(MeteredStream stream, StreamEncoder encoder, Duration idleTimeout, Duration keepAliveInterval,
                       StreamRegistry registry) {
        this.stream = stream;
        this.encoder = encoder;
        this.idleTimeout = idleTimeout;
        this.keepAliveInterval = keepAliveInterval;
        registry.opened(this);
        // the last of the stream's listeners: shutdown, waiting for open streams, waits for their records too
        stream.onEnd(end -> {
            ended = true;
            if (ticker != null) {
                ticker.cancel(false);
            }
            registry.closed(this);
        });
    }

    /** The stream this relay would write; a bus reply (caravan-stream: chunks) reads it instead of a client. */
    public MeteredStream stream() {
        return stream;
    }

    /** The client's wire format, chosen by the responder: a bus's chunk messages carry the same events. */
    public StreamEncoder encoder() {
        return encoder;
    }

    /** How long the upstream may be silent while a chunk is asked of it (the model's {@code streamIdleTimeout}). */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    void attach(ChannelHandlerContext ctx, ChannelPromise endPromise, boolean keepAliveConnection) {
        this.ctx = ctx;
        this.endPromise = endPromise;
        this.keepAliveConnection = keepAliveConnection;
        long now = System.nanoTime();
        askedAgainNanos = now;
        lastWriteNanos = now;
        if (!ctx.channel().isActive()) {
            clientGone();
            return;
        }
        long tick = Math.max(50, Math.min(keepAliveInterval.toMillis(), idleTimeout.toMillis()) / 4);
        ticker = ctx.executor().scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.MILLISECONDS);
        stream.start(this, ctx.executor());
        stream.request(1);
    }

    // the stream calls these on the channel's loop

    @Override
    public void onChunk(ObjectNode chunk) {
        if (ended) {
            return;
        }
        ByteBuf buf = ctx.alloc().buffer(256);
        encoder.chunk(chunk, buf);
        if (buf.isReadable()) {
            ctx.writeAndFlush(new DefaultHttpContent(buf));
            lastWriteNanos = System.nanoTime();
        } else {
            buf.release();
        }
        if (ctx.channel().isWritable()) {
            stream.request(1);
        } else {
            awaitingWritable = true;
        }
    }

    @Override
    public void onComplete() {
        finish(null);
    }

    @Override
    public void onError(GatewayException error) {
        finish(error);
    }

    void clientGone() {
        if (ended) {
            return;
        }
        if (endPromise != null) {
            endPromise.tryFailure(new java.nio.channels.ClosedChannelException());
        }
        stream.stop(MeteredStream.Outcome.CLIENT_CLOSED, null);
    }

    void writable() {
        if (awaitingWritable && !ended) {
            awaitingWritable = false;
            askedAgainNanos = System.nanoTime(); // the upstream's silence counts from when we ask again
            stream.request(1);
        }
    }

    private void tick() {
        if (ended) {
            return;
        }
        long now = System.nanoTime();
        long lastHeard = Math.max(stream.lastUpstreamNanos(), askedAgainNanos);
        // the upstream is idle only while a chunk is asked of it: a client that stops reading is not a silent upstream
        if (!awaitingWritable && now - lastHeard >= idleTimeout.toNanos()) {
            GatewayException error = GatewayException.gatewayTimeout(
                    "The upstream sent nothing for " + idleTimeout.toMillis() + " ms; the stream was ended.");
            writeEnd(error);
            stream.stop(MeteredStream.Outcome.IDLE_TIMEOUT, error);
        } else if (now - lastWriteNanos >= keepAliveInterval.toNanos()) {
            ctx.writeAndFlush(new DefaultHttpContent(ctx.alloc().buffer(KEEP_ALIVE.length).writeBytes(KEEP_ALIVE)));
            lastWriteNanos = now;
        }
    }

    /** The stream's end on the wire; the stream then tells its listeners (and this relay) how it ended. */
    private void finish(GatewayException error) {
        if (!ended) {
            writeEnd(error);
        }
    }

    private void writeEnd(GatewayException error) {
        ByteBuf buf = ctx.alloc().buffer(256);
        if (error == null) {
            encoder.end(stream.usage(), buf);
        } else {
            encoder.error(error, buf);
        }
        ctx.write(new DefaultHttpContent(buf));
        ChannelPromise last = ctx.newPromise();
        last.addListener(f -> {
            if (f.isSuccess()) {
                endPromise.trySuccess();
            } else {
                endPromise.tryFailure(f.cause());
            }
        });
        if (!keepAliveConnection) {
            last.addListener(ChannelFutureListener.CLOSE);
        }
        ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, last);
    }
}
