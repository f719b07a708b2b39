package dev.caravan.transport.bus;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import dev.caravan.dialect.StreamEncoder;
import dev.caravan.provider.StreamSink;
import dev.caravan.stream.MeteredStream;
import dev.caravan.transport.http.SseResponse;
import dev.caravan.transport.http.StreamRelay;
import dev.caravan.usage.Pricing;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.apache.camel.support.AsyncProcessorSupport;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A stream answered to a bus message that asked {@code caravan-stream: chunks} (routes/ingress-bus.camel.yaml,
 * step {@code busStream}): where an HTTP client would get the responder's server-sent events, the same events are
 * read off the stream on one of the gateway's event loops, holding no thread, and kept in order as the reply's
 * chunks (each one event's JSON, as the HTTP stream's {@code data:} line carries it; OpenAI's {@code [DONE]} is the
 * last chunk's {@code caravan-last} instead). The stream is metered and charged as any stream is, once it ends.
 * The chunks are sent when the stream has ended, so a redelivery replays the same chunks. Any other answer passes.
 */
public final class BusStream extends AsyncProcessorSupport implements AsyncProcessor {

    /** The reply's chunks, once the stream ended: a {@code List<byte[]>}. */
    public static final String CHUNKS = "caravan.busChunks";
    /** Most chunks one reply keeps: far above what any answer's max_tokens makes, and a bound on its memory. */
    static final int MAX_CHUNKS = 65_536;

    private final EventLoopGroup loops;

    public BusStream(EventLoopGroup loops) {
        this.loops = loops;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        Message out = exchange.getMessage();
        if (!(out.getBody() instanceof SseResponse sse)) {
            callback.done(true);
            return true;
        }
        sse.headers().forEach(h -> {
            if (h.getKey().toLowerCase(java.util.Locale.ROOT).startsWith("x-caravan-")) {
                out.setHeader(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue());
            }
        });
        out.setBody(null);
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        Collector collector = new Collector(sse.relay(), loops.next(), exchange, callback);
        collector.loop.execute(collector::start);
        return false;
    }

    /** One stream's reader, confined to its loop. */
    private static final class Collector implements StreamSink {
        private final MeteredStream stream;
        private final StreamEncoder encoder;
        private final long idleNanos;
        private final EventLoop loop;
        private final Exchange exchange;
        private final AsyncCallback callback;
        private final List<byte[]> chunks = new ArrayList<>();
        private ScheduledFuture<?> ticker;
        private long askedNanos;
        private boolean done;

        Collector(StreamRelay relay, EventLoop loop, Exchange exchange, AsyncCallback callback) {
            this.stream = relay.stream();
            this.encoder = relay.encoder();
            this.idleNanos = relay.idleTimeout().toNanos();
            this.loop = loop;
            this.exchange = exchange;
            this.callback = callback;
        }

        void start() {
            askedNanos = System.nanoTime();
            long tick = Math.max(50, TimeUnit.NANOSECONDS.toMillis(idleNanos) / 4);
            ticker = loop.scheduleAtFixedRate(this::tick, tick, tick, TimeUnit.MILLISECONDS);
            stream.start(this, loop);
            stream.request(1);
        }

        private void tick() {
            if (!done && System.nanoTime() - Math.max(stream.lastUpstreamNanos(), askedNanos) >= idleNanos) {
                stream.stop(MeteredStream.Outcome.IDLE_TIMEOUT, null);
                end(GatewayException.gatewayTimeout("The upstream sent nothing for "
                        + TimeUnit.NANOSECONDS.toMillis(idleNanos) + " ms; the stream was ended."));
            }
        }

        @Override
        public void onChunk(ObjectNode chunk) {
            if (done) {
                return;
            }
            ByteBuf buf = Unpooled.buffer(256);
            encoder.chunk(chunk, buf);
            keep(buf);
            if (chunks.size() >= MAX_CHUNKS) {
                stream.stop(MeteredStream.Outcome.UPSTREAM_ERROR, null);
                end(GatewayException.badGateway("stream_too_long", "The upstream's stream passed " + MAX_CHUNKS
                        + " chunks; it was ended."));
                return;
            }
            askedNanos = System.nanoTime();
            stream.request(1);
        }

        @Override
        public void onComplete() {
            if (!done) {
                ByteBuf buf = Unpooled.buffer(256);
                encoder.end(stream.usage(), buf);
                keep(buf);
                finish();
            }
        }

        @Override
        public void onError(GatewayException error) {
            end(error);
        }

        private void end(GatewayException error) {
            if (!done) {
                ByteBuf buf = Unpooled.buffer(256);
                encoder.error(error, buf);
                keep(buf);
                finish();
            }
        }

        /** Each event's {@code data:} JSON, in order; comments and OpenAI's {@code [DONE]} are not chunks. */
        private void keep(ByteBuf buf) {
            String text = buf.toString(StandardCharsets.UTF_8);
            buf.release();
            for (String event : text.split("\n\n")) {
                for (String line : event.split("\n")) {
                    if (line.startsWith("data: ") && !line.equals("data: [DONE]")) {
                        chunks.add(line.substring("data: ".length()).getBytes(StandardCharsets.UTF_8));
                    }
                }
            }
        }

        private void finish() {
            done = true;
            if (ticker != null) {
                ticker.cancel(false);
            }
            Message out = exchange.getMessage();
            // the stream's cost, at the answering deployment's price; a cached answer is charged nothing
            DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
            boolean cached = out.getHeader("x-caravan-cache") != null
                    && !"MISS".equalsIgnoreCase(out.getHeader("x-caravan-cache", String.class))
                    && !"BYPASS".equalsIgnoreCase(out.getHeader("x-caravan-cache", String.class));
            long nanos = cached || deployment == null ? 0 : Pricing.costNanos(stream.usage(), deployment.price());
            out.setHeader(dev.caravan.transport.http.Responder.COST_HEADER, Pricing.usd(nanos));
            exchange.setProperty(CHUNKS, List.copyOf(chunks));
            callback.done(false);
        }
    }

    @Override
    public String toString() {
        return "busStream";
    }

    /** The reply's chunks once a chunked stream ended ({@link #CHUNKS}), or null for a whole answer. */
    @SuppressWarnings("unchecked")
    static List<byte[]> chunksOf(Exchange exchange) {
        return (List<byte[]>) exchange.getProperty(CHUNKS, List.class);
    }
}
