package dev.caravan.transport.http;

import dev.caravan.core.GatewayException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.Map;

/**
 * Sits right after the HTTP decoder (the endpoint's {@code decoders}) and decides, from a request's head alone,
 * what becomes of its body before any byte of it is kept:
 * <ul>
 *   <li>a body on {@code /v1/} with a key the gateway knows, within {@code caravan.maxBodyBytes} and the body
 *   budget, is gathered here (into one buffer of its declared size) and passed on whole, so Netty's aggregator
 *   behind has nothing left to do; {@code Expect: 100-continue} gets its {@code 100} only then;</li>
 *   <li>any other body is dropped as it arrives and the request passed on at once with an empty body, to be
 *   answered in the connection's order: 401 from the authenticate step for an unknown key (no route outside
 *   {@code /v1/} reads a body; a future one that does must be let in here), 413 or 503 with {@code Retry-After}
 *   through a {@link RefusedRequest}. A connection whose dropped body is large or unfinished is closed after
 *   the answer;</li>
 *   <li>a request without a body, or one the decoder failed on, passes untouched.</li>
 * </ul>
 * Event-loop confined.
 */
final class BodyGate extends ChannelInboundHandlerAdapter {

    /** A refused body up to this size is read and dropped, keeping the connection; a larger one closes it. */
    private static final long KEEP_ALIVE_DISCARD = 64 * 1024;
    /** First capacity of a chunked body's buffer; it doubles as chunks arrive, each step reserved in the budget. */
    private static final int FIRST_CHUNKED_CAPACITY = 64 * 1024;

    private enum Mode { NONE, PASS, GATHER, DISCARD }

    private final ListenerGuard shared;
    private ConnectionGuard guard;
    private Mode mode = Mode.NONE;
    private HttpRequest head;
    private ByteBuf body;
    private long reserved;

    BodyGate(ListenerGuard shared) {
        this.shared = shared;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        guard = new ConnectionGuard(shared, this);
        ctx.pipeline().addFirst("caravan-guard", guard);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest request) {
            onHead(ctx, request);
        } else if (msg instanceof HttpContent content) {
            onContent(ctx, content);
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    /** A refused body is still arriving: the connection's close waits for it (briefly). */
    boolean discardingBody() {
        return mode == Mode.DISCARD;
    }

    /** Gives back what the request being read holds; the connection is gone. */
    void release() {
        if (body != null) {
            body.release();
            body = null;
        }
        shared.budget().release(reserved);
        reserved = 0;
        mode = Mode.NONE;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    private void onHead(ChannelHandlerContext ctx, HttpRequest request) {
        guard.requestStarted();
        if (request instanceof FullHttpRequest || !request.decoderResult().isSuccess()
                || GatewayChannelHandler.framingError(request) != null) {
            // the decoder gave up on it (Camel answers 400 and closes), or its framing is refused in its turn by the
            // connection's GatewayChannelHandler, which must see the headers as they came
            pass(ctx, request);
            return;
        }
        long length;
        try {
            length = HttpUtil.getContentLength(request, 0L);
        } catch (NumberFormatException e) {
            pass(ctx, request); // the aggregator and Camel refuse it as before
            return;
        }
        boolean chunked = HttpUtil.isTransferEncodingChunked(request);
        String expect = request.headers().get(HttpHeaderNames.EXPECT);
        boolean oddExpectation = expect != null && !HttpUtil.is100ContinueExpected(request);
        if ((!chunked && length <= 0) || oddExpectation) {
            pass(ctx, request); // nothing to hold (or the aggregator's 417)
            return;
        }
        long max = shared.limits().maxBodyBytes();
        if (isAdminPath(request.uri())) {
            max = Math.min(max, MAX_ADMIN_BODY_BYTES);
        }
        if (!isApiPath(request.uri()) && !isAdminPath(request.uri())) {
            discard(ctx, request, null, chunked, length);
        } else if (!shared.knowsKey(request)) {
            shared.refused(ListenerGuard.Refusal.UNAUTHENTICATED);
            discard(ctx, request, null, chunked, length); // the authenticate step answers 401
        } else if (length > max) {
            shared.refused(ListenerGuard.Refusal.TOO_LARGE);
            discard(ctx, request, GatewayException.payloadTooLarge(max), chunked, length);
        } else if (!chunked && !shared.budget().tryReserve(length)) {
            shared.refused(ListenerGuard.Refusal.OVERLOADED);
            discard(ctx, request, overloaded(), chunked, length);
        } else {
            reserved = chunked ? 0 : length;
            body = chunked ? Unpooled.EMPTY_BUFFER : ctx.alloc().directBuffer((int) length, (int) length);
            head = request;
            mode = Mode.GATHER;
            if (HttpUtil.is100ContinueExpected(request)) {
                request.headers().remove(HttpHeaderNames.EXPECT);
                ctx.channel().writeAndFlush(new DefaultFullHttpResponse(request.protocolVersion(),
                        HttpResponseStatus.CONTINUE, Unpooled.EMPTY_BUFFER));
            }
        }
    }

    private void onContent(ChannelHandlerContext ctx, HttpContent content) {
        boolean last = content instanceof LastHttpContent;
        switch (mode) {
            case GATHER -> gather(ctx, content, last);
            case DISCARD -> {
                content.release();
                if (last) {
                    mode = Mode.NONE;
                    guard.requestEnded();
                }
            }
            default -> {
                if (last) {
                    mode = Mode.NONE;
                    guard.requestEnded();
                }
                ctx.fireChannelRead(content);
            }
        }
    }

    private void gather(ChannelHandlerContext ctx, HttpContent content, boolean last) {
        try {
            ByteBuf chunk = content.content();
            int n = chunk.readableBytes();
            long max = shared.limits().maxBodyBytes();
            if ((long) body.readableBytes() + n > max) {
                refuseMidway(ctx, content, last, ListenerGuard.Refusal.TOO_LARGE, GatewayException.payloadTooLarge(max));
                return;
            }
            if (body.writableBytes() < n && !grow(ctx, body.readableBytes() + n)) {
                refuseMidway(ctx, content, last, ListenerGuard.Refusal.OVERLOADED, overloaded());
                return;
            }
            body.writeBytes(chunk);
            if (!last) {
                return;
            }
            LastHttpContent end = (LastHttpContent) content;
            DefaultFullHttpRequest whole = new DefaultFullHttpRequest(head.protocolVersion(), head.method(), head.uri(),
                    body, head.headers(), end.trailingHeaders().isEmpty() ? new DefaultHttpHeaders() : end.trailingHeaders().copy());
            // as Netty's aggregator leaves it: a length, no chunked coding; a broken last chunk fails the request
            HttpUtil.setTransferEncodingChunked(whole, false);
            if (!HttpUtil.isContentLengthSet(whole)) {
                HttpUtil.setContentLength(whole, body.readableBytes());
            }
            DecoderResult result = end.decoderResult();
            whole.setDecoderResult(result.isSuccess() ? head.decoderResult() : result);
            body = null;
            head = null;
            mode = Mode.NONE;
            guard.holdUntilAnswered(reserved);
            reserved = 0;
            guard.requestEnded();
            ctx.fireChannelRead(whole);
        } finally {
            content.release();
        }
    }

    /** Grows a chunked body's buffer (doubling, at most to the limit), reserving the growth first. */
    private boolean grow(ChannelHandlerContext ctx, int needed) {
        int capacity = body.capacity();
        int next = (int) Math.min(shared.limits().maxBodyBytes(),
                Math.max(needed, Math.max(FIRST_CHUNKED_CAPACITY, (long) capacity * 2)));
        if (!shared.budget().tryReserve(next - capacity)) {
            return false;
        }
        reserved += next - capacity;
        ByteBuf bigger = ctx.alloc().directBuffer(next, next);
        bigger.writeBytes(body);
        body.release();
        body = bigger;
        return true;
    }

    /** A chunked body outgrew the limit or the budget: drop what was gathered and the rest, answer now, close. */
    private void refuseMidway(ChannelHandlerContext ctx, HttpContent content, boolean last,
                              ListenerGuard.Refusal why, GatewayException error) {
        shared.refused(why);
        HttpRequest refusedHead = head;
        release();
        head = null;
        discard(ctx, refusedHead, error, true, -1);
        if (last) {
            mode = Mode.NONE;
            guard.requestEnded();
        }
    }

    /** Passes the request on at once with an empty body and drops the body as it arrives. */
    private void discard(ChannelHandlerContext ctx, HttpRequest request, GatewayException error, boolean chunked, long length) {
        boolean close = chunked || length > KEEP_ALIVE_DISCARD || HttpUtil.is100ContinueExpected(request)
                || !HttpUtil.isKeepAlive(request);
        FullHttpRequest empty = error == null
                ? new DefaultFullHttpRequest(request.protocolVersion(), request.method(), request.uri(), Unpooled.EMPTY_BUFFER)
                : new RefusedRequest(request, error);
        empty.headers().set(request.headers());
        empty.headers().remove(HttpHeaderNames.EXPECT);
        empty.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        HttpUtil.setContentLength(empty, 0);
        if (close) {
            empty.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        mode = Mode.DISCARD;
        ctx.fireChannelRead(empty);
    }

    private void pass(ChannelHandlerContext ctx, HttpRequest request) {
        mode = Mode.PASS;
        if (request instanceof FullHttpRequest) {
            mode = Mode.NONE;
            guard.requestEnded();
        }
        ctx.fireChannelRead(request);
    }

    private static GatewayException overloaded() {
        return new GatewayException(503, "server_error", "overloaded", null,
                "The gateway is holding as many request bodies as it can right now; retry shortly.",
                Map.of("Retry-After", "1"));
    }

    // an admin call's body is a key or a team: a few hundred bytes; a megabyte is far more than any needs
    static final long MAX_ADMIN_BODY_BYTES = 1 << 20;

    /** Whether the request's path is under {@code /admin/}, whose routes read (small) bodies with a key too. */
    static boolean isAdminPath(String uri) {
        return pathStartsWith(uri, "/admin/");
    }

    /** Whether the request's path is under {@code /v1/}, where routes read bodies and a key is required. */
    static boolean isApiPath(String uri) {
        return pathStartsWith(uri, "/v1/");
    }

    private static boolean pathStartsWith(String uri, String prefix) {
        int start = 0;
        if (uri.regionMatches(true, 0, "http://", 0, 7) || uri.regionMatches(true, 0, "https://", 0, 8)) {
            start = uri.indexOf('/', uri.indexOf("//") + 2);
            if (start < 0) {
                return false;
            }
        }
        return uri.startsWith(prefix, start);
    }
}
