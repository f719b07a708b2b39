package dev.caravan.transport.http;

import dev.caravan.dialect.StreamEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.provider.ChatStream;
import dev.caravan.provider.StreamSink;
import dev.caravan.usage.Usage;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.LastHttpContent;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Relays one upstream stream to one client as server-sent events. Once attached, all its state lives on the
 * channel's event loop: upstream callbacks hop onto it, each event is written as it arrives, the next one is asked
 * for only when the client can take it, silences get SSE comment keep-alives, and a silent upstream past the idle
 * timeout ends the stream with an error event. The client's wire format is the encoder's; usage is read from the
 * stream, or estimated from the relayed text when the upstream sent none. Listeners hear how it ended exactly once.
 */
public final class StreamRelay implements StreamSink {

    /** How a stream ended; ABANDONED: the route failed after the upstream answered, nothing was relayed. */
    public enum Outcome { COMPLETED, CLIENT_CLOSED, UPSTREAM_ERROR, IDLE_TIMEOUT, ABANDONED }

    /** How a stream ended, for post-processing. {@code ttftNanos} is -1 when no content arrived. */
    public record End(Outcome outcome, Usage usage, long ttftNanos, GatewayException error) {
    }

    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);

    // the completion text kept for a token estimate in case the upstream reports no usage; past this, 4 chars a token
    private static final int MAX_KEPT_TEXT = 1 << 20;

    private final ChatStream stream;
    private final StreamEncoder encoder;
    private final Function<CharSequence, Usage> estimate;
    private final Duration idleTimeout;
    private final Duration keepAliveInterval;
    private final long requestStartNanos;
    private final StreamRegistry registry;
    private final List<Consumer<End>> endListeners = new CopyOnWriteArrayList<>();

    // event-loop confined once attached
    private ChannelHandlerContext ctx;
    private ChannelPromise endPromise;
    private boolean keepAliveConnection;
    private boolean ended;
    private boolean awaitingWritable;
    private long lastUpstreamNanos;
    private long lastWriteNanos;
    private long ttftNanos = -1;
    private Usage usage = Usage.NONE;
    private final StringBuilder completionText = new StringBuilder();
    private long textBeyondKept;
    private ScheduledFuture<?> ticker;

    /**
     * @param encoder  writes the client's wire format
     * @param estimate usage from the completion text, for an upstream that reports none
     */
    public StreamRelay(ChatStream stream, StreamEncoder encoder, Function<CharSequence, Usage> estimate,
                       Duration idleTimeout, Duration keepAliveInterval, long requestStartNanos, StreamRegistry registry) {
        this.stream = stream;
        this.encoder = encoder;
        this.estimate = estimate;
        this.idleTimeout = idleTimeout;
        this.keepAliveInterval = keepAliveInterval;
        this.requestStartNanos = requestStartNanos;
        this.registry = registry;
        registry.opened(this);
    }

    /** The upstream's response headers that passed the allow-list. */
    public java.util.Map<String, String> upstreamHeaders() {
        return stream.headers();
    }

    /** Runs once when the stream ends, however it ends. */
    public void onEnd(Consumer<End> listener) {
        endListeners.add(listener);
    }

    /** The route failed after the upstream answered: release it without writing anything. */
    public void abandon() {
        if (!ended) { // not attached yet: no event loop owns this relay
            stream.cancel();
            end(Outcome.ABANDONED, null);
        }
    }

    void attach(ChannelHandlerContext ctx, ChannelPromise endPromise, boolean keepAliveConnection) {
        this.ctx = ctx;
        this.endPromise = endPromise;
        this.keepAliveConnection = keepAliveConnection;
        long now = System.nanoTime();
        lastUpstreamNanos = now;
        lastWriteNanos = now;
        if (!ctx.channel().isActive()) {
            clientGone();
            return;
        }
        long tick = Math.max(50, Math.min(keepAliveInterval.toMillis(), idleTimeout.toMillis()) / 4);
        ticker = ctx.executor().scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.MILLISECONDS);
        stream.start(this);
        stream.request(1);
    }

    @Override
    public void onChunk(ObjectNode chunk) {
        ctx.executor().execute(() -> writeChunk(chunk));
    }

    @Override
    public void onComplete() {
        ctx.executor().execute(() -> finish(Outcome.COMPLETED, null));
    }

    @Override
    public void onError(GatewayException error) {
        ctx.executor().execute(() -> finish(Outcome.UPSTREAM_ERROR, error));
    }

    void clientGone() {
        if (ended) {
            return;
        }
        stream.cancel();
        end(Outcome.CLIENT_CLOSED, null);
    }

    void writable() {
        if (awaitingWritable && !ended) {
            awaitingWritable = false;
            lastUpstreamNanos = System.nanoTime(); // the upstream's silence counts from when we ask again
            stream.request(1);
        }
    }

    private void writeChunk(ObjectNode chunk) {
        if (ended) {
            return;
        }
        lastUpstreamNanos = System.nanoTime();
        JsonNode u = chunk.get("usage");
        if (u != null && u.isObject()) {
            usage = Usage.fromOpenAi(u);
        } else if (usage.isEmpty()) {
            keepText(chunk);
        }
        if (ttftNanos < 0 && hasContent(chunk)) {
            ttftNanos = lastUpstreamNanos - requestStartNanos;
        }
        ByteBuf buf = ctx.alloc().buffer(256);
        encoder.chunk(chunk, buf);
        if (buf.isReadable()) {
            ctx.writeAndFlush(new DefaultHttpContent(buf));
            lastWriteNanos = lastUpstreamNanos;
        } else {
            buf.release();
        }
        if (ctx.channel().isWritable()) {
            stream.request(1);
        } else {
            awaitingWritable = true;
        }
    }

    private void keepText(ObjectNode chunk) {
        for (JsonNode choice : chunk.path("choices")) {
            JsonNode delta = choice.path("delta");
            keep(delta.path("content").asText(""));
            keep(delta.path("reasoning_content").asText(""));
            for (JsonNode call : delta.path("tool_calls")) {
                keep(call.path("function").path("name").asText(""));
                keep(call.path("function").path("arguments").asText(""));
            }
        }
    }

    private void keep(String text) {
        if (completionText.length() + text.length() <= MAX_KEPT_TEXT) {
            completionText.append(text);
        } else {
            textBeyondKept += text.length();
        }
    }

    private static boolean hasContent(ObjectNode chunk) {
        for (JsonNode choice : chunk.path("choices")) {
            JsonNode delta = choice.path("delta");
            if (delta.path("content").asText("").length() > 0 || delta.has("tool_calls")
                    || delta.path("reasoning_content").asText("").length() > 0) {
                return true;
            }
        }
        return false;
    }

    private void tick() {
        if (ended) {
            return;
        }
        long now = System.nanoTime();
        // the upstream is idle only while a chunk is asked of it: a client that stops reading is not a silent upstream
        if (!awaitingWritable && now - lastUpstreamNanos >= idleTimeout.toNanos()) {
            stream.cancel();
            finish(Outcome.IDLE_TIMEOUT, GatewayException.gatewayTimeout(
                    "The upstream sent nothing for " + idleTimeout.toMillis() + " ms; the stream was ended."));
        } else if (now - lastWriteNanos >= keepAliveInterval.toNanos()) {
            ctx.writeAndFlush(new DefaultHttpContent(ctx.alloc().buffer(KEEP_ALIVE.length).writeBytes(KEEP_ALIVE)));
            lastWriteNanos = now;
        }
    }

    private void finish(Outcome outcome, GatewayException error) {
        if (ended) {
            return;
        }
        ByteBuf buf = ctx.alloc().buffer(256);
        if (error == null) {
            countUsage();
            encoder.end(usage, buf);
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
        end(outcome, error);
    }

    /**
     * Usage from the stream, or counted from what was relayed when the upstream sent none, however the stream ended:
     * a client that leaves early, an error or an idle timeout must not make the tokens spent free.
     */
    private void countUsage() {
        if (usage.isEmpty()) {
            Usage counted = estimate.apply(completionText);
            long beyond = textBeyondKept / 4;
            usage = new Usage(counted.promptTokens(), counted.completionTokens() + beyond,
                    counted.totalTokens() + beyond, 0, 0, true);
        }
    }

    private void end(Outcome outcome, GatewayException error) {
        ended = true;
        if (outcome != Outcome.ABANDONED) {
            countUsage();
        }
        if (ticker != null) {
            ticker.cancel(false);
        }
        if (outcome == Outcome.CLIENT_CLOSED && endPromise != null) {
            endPromise.tryFailure(new java.nio.channels.ClosedChannelException());
        }
        End end = new End(outcome, usage, ttftNanos, error);
        try {
            for (Consumer<End> listener : endListeners) {
                listener.accept(end);
            }
        } finally {
            registry.closed(this);
        }
    }
}
