package dev.caravan.transport.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import org.apache.camel.component.netty.DefaultChannelHandlerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Guards the API listener before any request is authenticated: bound as a bean for the endpoint's {@code decoders},
 * it gives each connection a {@link BodyGate} (which puts a {@link ConnectionGuard} at the pipeline's front), and
 * holds what the connections share: the open-connection count, the body budget, the key check, meters and the
 * rate-limited log.
 */
public final class ListenerGuard extends DefaultChannelHandlerFactory {

    /** Tells whether headers carry a key the gateway knows (the authenticate step stays the authority). */
    @FunctionalInterface
    public interface KeyCheck {
        boolean knows(String authorization, String apiKey);
    }

    /** Why the listener closed a connection on its own; the metric's reason label. */
    enum Close {
        HEADER_TIMEOUT("header_timeout"), BODY_TIMEOUT("body_timeout"), IDLE("idle"), OVER_CAPACITY("over_capacity");

        final String label;

        Close(String label) {
            this.label = label;
        }
    }

    /** Why a request was answered without its body being kept; the metric's reason label. */
    enum Refusal {
        UNAUTHENTICATED("unauthenticated"), TOO_LARGE("too_large"), OVERLOADED("overloaded");

        final String label;

        Refusal(String label) {
            this.label = label;
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger(ListenerGuard.class);
    /** At most one WARN per kind of event in this window, with the count since the last one. */
    private static final long LOG_WINDOW_NANOS = 10_000_000_000L;

    private final ListenerLimits limits;
    private final KeyCheck keys;
    private final BodyBudget budget;
    private final AtomicInteger open = new AtomicInteger();
    private final Map<Close, Counter> closed = new EnumMap<>(Close.class);
    private final Map<Refusal, Counter> refused = new EnumMap<>(Refusal.class);
    private final Map<Enum<?>, Burst> bursts = new java.util.HashMap<>(); // one per enum constant: bounded

    public ListenerGuard(ListenerLimits limits, KeyCheck keys, MeterRegistry registry) {
        this.limits = limits;
        this.keys = keys;
        this.budget = new BodyBudget(limits.maxBodyBytesInFlight());
        Gauge.builder("caravan.open.connections", open, AtomicInteger::get)
                .description("Client connections open on the API listener").register(registry);
        Gauge.builder("caravan.body.bytes.in.flight", budget, BodyBudget::held)
                .description("Bytes of request bodies held until their requests are answered").register(registry);
        for (Close c : Close.values()) {
            closed.put(c, Counter.builder("caravan.connections.closed").tag("reason", c.label)
                    .description("Connections the listener closed on its own, by reason").register(registry));
            bursts.put(c, new Burst());
        }
        for (Refusal r : Refusal.values()) {
            refused.put(r, Counter.builder("caravan.requests.refused").tag("reason", r.label)
                    .description("Requests answered before their body was read, by reason").register(registry));
            bursts.put(r, new Burst());
        }
        LOG.info("API listener: at most {} connections, {} bytes of bodies in flight; timeouts header {} s, body {} s, idle {} s",
                limits.maxConnections(), limits.maxBodyBytesInFlight(), limits.headerTimeout().toSeconds(),
                limits.bodyTimeout().toSeconds(), limits.idleTimeout().toSeconds());
    }

    @Override
    public ChannelHandler newChannelHandler() {
        return new BodyGate(this);
    }

    ListenerLimits limits() {
        return limits;
    }

    BodyBudget budget() {
        return budget;
    }

    boolean knowsKey(HttpRequest request) {
        return keys.knows(request.headers().get(HttpHeaderNames.AUTHORIZATION), request.headers().get("x-api-key"));
    }

    /** Counts a new connection in; false (and not counted) past the cap. */
    boolean admit() {
        if (open.incrementAndGet() > limits.maxConnections()) {
            open.decrementAndGet();
            closed(Close.OVER_CAPACITY);
            return false;
        }
        return true;
    }

    void left() {
        open.decrementAndGet();
    }

    int openConnections() {
        return open.get();
    }

    void closed(Close reason) {
        closed.get(reason).increment();
        warnOncePerBurst(reason, "Closed {} connection(s): {} (one line per 10 s at most)", reason.label);
    }

    void refused(Refusal reason) {
        refused.get(reason).increment();
        if (reason == Refusal.OVERLOADED) {
            warnOncePerBurst(reason, "Refused {} request(s) with 503: {}, request bodies in flight at the limit"
                    + " (one line per 10 s at most)", reason.label);
        }
    }

    private void warnOncePerBurst(Enum<?> kind, String message, String label) {
        Burst burst = bursts.get(kind);
        burst.count.increment();
        long now = System.nanoTime();
        long last = burst.lastLog.get();
        if (now - last >= LOG_WINDOW_NANOS && burst.lastLog.compareAndSet(last, now)) {
            LOG.warn(message, burst.count.sumThenReset(), label);
        }
    }

    private static final class Burst {
        final LongAdder count = new LongAdder();
        final AtomicLong lastLog = new AtomicLong(Long.MIN_VALUE / 2);
    }
}
