package dev.caravan.transport.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.ScheduledFuture;

import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The first handler of an API connection, ahead of the HTTP decoder so it sees raw bytes: counts the connection
 * against the cap (closing it at once past it), and closes a connection that stalls where no answer is owed: headers
 * not complete in time, a body that stops arriving, or no next request on an idle kept-alive connection. While an
 * answer or a stream is in progress no timeout runs here (the route's own timeouts apply).
 * <p>
 * Its {@link BodyGate} reports request boundaries; a small watcher just above the HTTP encoder reports finished
 * answers, which also give the bodies they held back to the budget. Event-loop confined: no field needs a lock.
 */
final class ConnectionGuard extends ChannelDuplexHandler {

    /** How long a connection that is to be closed keeps draining a refused body, so the client reads its answer. */
    private static final long LINGER_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final ListenerGuard shared;
    private final BodyGate gate;
    private final long headerTimeout;
    private final long bodyTimeout;
    private final long idleTimeout;
    private ChannelHandlerContext ctx;
    private boolean admitted;
    private int requestsStarted;
    private int requestsEnded;
    private int answersDone;
    private boolean bytesSinceRequest; // a next request has begun arriving
    private long headStart;
    private long lastByte;
    private long idleSince;
    private ScheduledFuture<?> timer;
    private long timerAt;
    // bodies held until their answers: {request ordinal, bytes}; one entry per request with a body still being
    // answered on this connection, their sum bounded by the body budget
    private final ArrayDeque<long[]> holds = new ArrayDeque<>(2);
    private ChannelPromise deferredClose;

    ConnectionGuard(ListenerGuard shared, BodyGate gate) {
        this.shared = shared;
        this.gate = gate;
        this.headerTimeout = shared.limits().headerTimeout().toNanos();
        this.bodyTimeout = shared.limits().bodyTimeout().toNanos();
        this.idleTimeout = shared.limits().idleTimeout().toNanos();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        this.ctx = ctx;
        if (!shared.admit()) {
            ctx.close(); // nothing read, nothing parsed; the rest of the pipeline never hears of it
            return;
        }
        admitted = true;
        headStart = System.nanoTime();
        if (ctx.pipeline().get("encoder") != null) {
            ctx.pipeline().addAfter("encoder", "caravan-answers", new AnswerWatcher());
        }
        rearm();
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof ByteBuf) {
            lastByte = System.nanoTime();
            if (!bytesSinceRequest && requestsStarted > 0 && requestsStarted == requestsEnded) {
                bytesSinceRequest = true;
                headStart = lastByte;
                rearm();
            }
        }
        super.channelRead(ctx, msg);
    }

    /** Delays the close of an answered connection while a refused body still arrives, so the client reads the answer. */
    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        if (deferredClose != null && ctx.channel().isActive()) {
            // a second close of the same answered connection (the ordering handler's and Camel's own): it waits for
            // the deferred one rather than cutting the client off before it has read the answer
            ctx.channel().closeFuture().addListener(f -> promise.trySuccess());
            return;
        }
        if (deferredClose == null && gate.discardingBody() && ctx.channel().isActive()) {
            deferredClose = promise;
            if (ctx.channel() instanceof DuplexChannel duplex) {
                duplex.shutdownOutput(); // the answer is written: the client sees its end now
            }
            ctx.executor().schedule(this::closeDeferred, LINGER_NANOS, TimeUnit.NANOSECONDS);
            return;
        }
        super.close(ctx, promise);
    }

    private void closeDeferred() {
        if (deferredClose != null) {
            ChannelPromise p = deferredClose;
            deferredClose = null;
            ctx.close(p);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (admitted) {
            admitted = false;
            shared.left();
        }
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        while (!holds.isEmpty()) {
            shared.budget().release(holds.poll()[1]);
        }
        gate.release();
        super.channelInactive(ctx);
    }

    // ---- what the gate and the watcher report ----

    void requestStarted() {
        requestsStarted++;
        bytesSinceRequest = false;
        lastByte = System.nanoTime(); // the body's clock starts with its head
        rearm();
    }

    void requestEnded() {
        requestsEnded = requestsStarted;
        if (answersDone >= requestsStarted) {
            idleSince = System.nanoTime();
        }
        rearm();
        closeDeferred();
    }

    /** Bytes of the request just read, given back to the budget once its answer is written. */
    void holdUntilAnswered(long bytes) {
        if (bytes > 0) {
            holds.add(new long[] {requestsStarted, bytes});
        }
    }

    private void answerDone() {
        answersDone++;
        while (!holds.isEmpty() && holds.peek()[0] <= answersDone) {
            shared.budget().release(holds.poll()[1]);
        }
        if (answersDone >= requestsStarted && requestsEnded == requestsStarted) {
            idleSince = System.nanoTime();
            rearm();
        }
    }

    // ---- the one timer ----

    private ListenerGuard.Close pending() {
        if (requestsStarted > requestsEnded) {
            return ListenerGuard.Close.BODY_TIMEOUT;
        }
        if (requestsStarted == 0 || bytesSinceRequest) {
            return ListenerGuard.Close.HEADER_TIMEOUT;
        }
        return answersDone >= requestsStarted ? ListenerGuard.Close.IDLE : null; // else an answer is in progress
    }

    private long deadline(ListenerGuard.Close kind) {
        return switch (kind) {
            case BODY_TIMEOUT -> lastByte + bodyTimeout;
            case HEADER_TIMEOUT -> headStart + headerTimeout;
            default -> idleSince + idleTimeout;
        };
    }

    /** Makes sure a check runs no later than the current deadline; a later check re-arms itself. */
    private void rearm() {
        ListenerGuard.Close kind = pending();
        if (kind == null || ctx == null || !admitted) {
            return;
        }
        long at = deadline(kind);
        if (timer != null) {
            if (timerAt <= at) {
                return;
            }
            timer.cancel(false);
        }
        schedule(at);
    }

    private void schedule(long at) {
        timerAt = at;
        timer = ctx.executor().schedule(this::check, Math.max(0, at - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private void check() {
        timer = null;
        if (!admitted) {
            return;
        }
        ListenerGuard.Close kind = pending();
        if (kind == null) {
            return;
        }
        long at = deadline(kind);
        if (System.nanoTime() - at >= 0) {
            shared.closed(kind);
            admitted = false;
            shared.left();
            ctx.close();
        } else {
            schedule(at);
        }
    }

    /** Sits just above the HTTP encoder: every answer passes it in wire order. */
    private final class AnswerWatcher extends ChannelOutboundHandlerAdapter {
        @Override
        public void write(ChannelHandlerContext c, Object msg, ChannelPromise promise) throws Exception {
            boolean interim = msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
            if (!interim && msg instanceof LastHttpContent) {
                answerDone();
            }
            c.write(msg, promise);
        }
    }
}
