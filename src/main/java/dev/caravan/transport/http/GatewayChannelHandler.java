package dev.caravan.transport.http;

import dev.caravan.core.Dialect;
import dev.caravan.dialect.openai.OpenAiErrors;
import dev.caravan.core.GatewayException;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Sits in each HTTP connection's Netty pipeline (camel-netty-http's {@code encoders} slot, just above the HTTP
 * encoder, below the aggregator and Camel), and keeps the connection's HTTP/1.1 rules:
 * <ul>
 * <li>One request at a time goes up to the route. A pipelined request (RFC 9112 9.3.2) waits here, with its body,
 * until the answer before it is completely written, so answers leave in request order and two streams never share
 * a body. The waiting is bounded: past {@link #MAX_HELD_REQUESTS} the connection is closed after the answers owed.</li>
 * <li>Streams: {@link SseResponse} becomes a head and a {@link StreamRelay}, framed for the client's version
 * (close-delimited for HTTP/1.0); every relay attached here is ended when the connection closes.</li>
 * <li>Framing: {@code Content-Length} with {@code Transfer-Encoding}, or a transfer coding other than chunked, is
 * refused with 400 and the connection closed (RFC 9112 6.1).</li>
 * <li>Netty's own bodiless errors (oversized body, unparseable request, a method no endpoint has) get a body in the
 * caller's error shape and an {@code x-caravan-request-id}, and are told to the {@link DoorWitness} (counted and
 * logged like every refusal at the door); a client that drops the connection is a one-line debug message, not a
 * stack trace.</li>
 * </ul>
 * All state is confined to the channel's event loop.
 */
final class GatewayChannelHandler extends ChannelDuplexHandler {

    private static final Logger LOG = LoggerFactory.getLogger(GatewayChannelHandler.class);

    /**
     * Pipelined requests held per connection while one is answered. Pipelining clients send a few at a time; past
     * this the rest is dropped and the connection closed after the answers owed (the client retries the rest).
     */
    static final int MAX_HELD_REQUESTS = 16;
    /** Held body bytes past which the connection stops reading (TCP back-pressure) until its turn comes. */
    static final long PAUSE_HELD_BYTES = 64 * 1024;
    /**
     * Held body bytes past which the pipeline is cut as above. Reads pause at {@link #PAUSE_HELD_BYTES}, so only what
     * was already read when they paused (one read burst, at most about 1 MiB) can add to it.
     */
    static final long MAX_HELD_BYTES = 4L * 1024 * 1024;

    /** A request refused at the door, answered in its turn, after which the connection closes. */
    private record Refusal(boolean anthropic, GatewayException error, String method, String uri, String userAgent) {
        Refusal(boolean anthropic, GatewayException error, HttpRequest request) {
            this(anthropic, error, request.method().name(), request.uri(), request.headers().get(HttpHeaderNames.USER_AGENT));
        }
    }

    /** After the answers owed, close: the pipeline was cut. */
    private static final Object CLOSE = new Object();

    // camel-netty-http's request decoder limits (the listener sets none of them; if it ever does, mirror them here)
    private static final HttpDecoderConfig DECODER = new HttpDecoderConfig()
            .setMaxInitialLineLength(4096).setMaxHeaderSize(8192).setMaxChunkSize(8192);

    private final long maxBodyBytes;
    private final DoorWitness witness;
    private ChannelHandlerContext ctx;

    // the request being answered (sent up to the route, its answer not yet completely written)
    private boolean answering;
    private HttpVersion answeringVersion = HttpVersion.HTTP_1_1;
    private boolean answeringKeepAlive = true;
    private boolean anthropicRequest; // errors in Anthropic's shape
    private String answeringMethod; // for the access line of an answer the listener writes itself
    private String answeringUri;
    private String answeringUserAgent;
    private boolean closeAfterAnswer;

    // requests that arrived while one was answered: HttpRequest, its HttpContent pieces, Refusal or CLOSE markers;
    // bounded by MAX_HELD_REQUESTS requests and MAX_HELD_BYTES body bytes
    private final ArrayDeque<Object> held = new ArrayDeque<>();
    private int heldRequests;
    private long heldBytes;
    private boolean receivingHeld; // the request whose body is arriving is held, so its pieces are held too
    private boolean discarding; // input is ignored from here on: refused, or cut; the connection closes soon
    private boolean releasing;
    private boolean lastRequestSeen; // a request said close (or was HTTP/1.0 without keep-alive)
    private boolean readsPaused;
    private boolean bodyInProgress; // a request is up at the aggregator without its last piece yet

    // streams attached on this connection and not yet ended: one at a time, since answers are in order
    private final List<StreamRelay> relays = new ArrayList<>(1);
    private boolean closed;

    GatewayChannelHandler(long maxBodyBytes) {
        this(maxBodyBytes, DoorWitness.NONE);
    }

    GatewayChannelHandler(long maxBodyBytes, DoorWitness witness) {
        this.maxBodyBytes = maxBodyBytes;
        this.witness = witness;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ChannelHandler decoder = ctx.pipeline().get("decoder");
        if (decoder instanceof HttpRequestDecoder && !(decoder instanceof FramingRequestDecoder)) {
            ctx.pipeline().replace(decoder, "decoder", new FramingRequestDecoder(DECODER));
        }
        // whoever sees the close first, every stream on the connection hears of it
        ctx.channel().closeFuture().addListener(f -> connectionClosed());
    }

    // ---- inbound: one request at a time goes up

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (discarding) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof HttpRequest request) {
            if (lastRequestSeen) {
                // after a request that said close, nothing the client sends counts (RFC 9112 9.6)
                discarding = true;
                ReferenceCountUtil.release(msg);
                return;
            }
            lastRequestSeen = !HttpUtil.isKeepAlive(request);
            GatewayException refusal = framingError(request);
            if (refusal != null) {
                Refusal refused = new Refusal(isAnthropic(request), refusal, request);
                ReferenceCountUtil.release(msg);
                refuse(refused);
                return;
            }
            if (!answering && held.isEmpty()) {
                receivingHeld = false;
                startAnswering(request);
                up(msg);
                return;
            }
            if (heldRequests >= MAX_HELD_REQUESTS) {
                ReferenceCountUtil.release(msg);
                cut();
                return;
            }
            held.add(msg);
            heldRequests++;
            receivingHeld = true;
            pauseReadsIfFull();
            return;
        }
        if (receivingHeld && msg instanceof HttpContent content) {
            heldBytes += content.content().readableBytes();
            held.add(msg);
            if (heldBytes > MAX_HELD_BYTES) {
                dropRequestBeingReceived();
                cut();
            } else {
                pauseReadsIfFull();
            }
            return;
        }
        up(msg);
    }

    /** Sends a piece of the request being answered up to the aggregator, noting whether its body is complete. */
    private void up(Object msg) {
        if (msg instanceof HttpRequest) {
            bodyInProgress = true;
        }
        if (msg instanceof LastHttpContent) {
            bodyInProgress = false;
        }
        ctx.fireChannelRead(msg);
    }

    private void startAnswering(HttpRequest request) {
        answering = true;
        answeringVersion = request.protocolVersion();
        answeringKeepAlive = HttpUtil.isKeepAlive(request);
        anthropicRequest = isAnthropic(request);
        answeringMethod = request.method().name();
        answeringUri = request.uri();
        answeringUserAgent = request.headers().get(HttpHeaderNames.USER_AGENT);
        closeAfterAnswer = !answeringKeepAlive; // a client that said close sends nothing after it that counts
    }

    private static boolean isAnthropic(HttpRequest request) {
        return Dialect.forPath(request.uri()) == Dialect.ANTHROPIC_MESSAGES;
    }

    /** Framing a proxy in front might read differently from us (request smuggling), or that we cannot decode. */
    static GatewayException framingError(HttpRequest request) {
        if (!request.decoderResult().isSuccess()) {
            return null; // Camel answers 400 and closes
        }
        if (!request.headers().contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            return null;
        }
        List<String> codings = request.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (request.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
            return GatewayException.badRequest("invalid_http_request", null,
                    "A request must not carry both Content-Length and Transfer-Encoding.");
        }
        if (codings.size() != 1 || !HttpHeaderValues.CHUNKED.contentEqualsIgnoreCase(codings.get(0).trim())
                || !HttpVersion.HTTP_1_1.equals(request.protocolVersion())) {
            return GatewayException.badRequest("unsupported_transfer_encoding", null,
                    "Only Transfer-Encoding: chunked is supported, on HTTP/1.1.");
        }
        return null;
    }

    /** Refuses a request: in its turn, its error and close; nothing read after it counts. */
    private void refuse(Refusal refusal) {
        discarding = true;
        if (answering || !held.isEmpty()) {
            held.add(refusal);
        } else {
            writeRefusal(refusal);
        }
    }

    private void writeRefusal(Refusal refusal) {
        GatewayException error = refusal.error();
        LOG.debug("Refused a request from {}: {}", ctx.channel().remoteAddress(), error.code());
        FullHttpResponse response = errorResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(error.status()), error,
                refusal.anthropic(), HttpHeaderValues.CLOSE.toString());
        witnessed(response, refusal.method(), refusal.uri(), refusal.userAgent(), error);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    /** Too much pipelined: drop what is not held yet, answer what is, then close. */
    private void cut() {
        discarding = true;
        held.add(CLOSE);
        LOG.debug("Pipeline from {} past {} held requests or {} bytes; closing after the answers owed",
                ctx.channel().remoteAddress(), MAX_HELD_REQUESTS, MAX_HELD_BYTES);
        if (!answering) {
            release();
        }
    }

    private void dropRequestBeingReceived() {
        while (!held.isEmpty()) {
            Object last = held.pollLast();
            if (last instanceof HttpContent content && !(last instanceof HttpRequest)) {
                heldBytes -= content.content().readableBytes();
            }
            ReferenceCountUtil.release(last);
            if (last instanceof HttpRequest) {
                heldRequests--;
                return;
            }
        }
    }

    private void pauseReadsIfFull() {
        if (!readsPaused && (heldBytes >= PAUSE_HELD_BYTES || heldRequests >= MAX_HELD_REQUESTS)) {
            readsPaused = true;
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void resumeReads() {
        if (readsPaused) {
            readsPaused = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    /** The answer in progress is completely written (or failed): the next held request may go up. */
    private void answered() {
        if (!answering) {
            return;
        }
        answering = false;
        if (closeAfterAnswer || !ctx.channel().isActive()) {
            dropHeld();
            ctx.close();
            return;
        }
        release();
    }

    /** Sends held requests up, one at a time; re-entrant calls (an answer written synchronously) just return. */
    private void release() {
        if (releasing) {
            return;
        }
        releasing = true;
        try {
            while (!answering && !held.isEmpty() && !closed) {
                Object next = held.poll();
                if (next instanceof Refusal refusal) {
                    dropHeld();
                    writeRefusal(refusal);
                    return;
                }
                if (next == CLOSE) {
                    dropHeld();
                    ctx.close();
                    return;
                }
                HttpRequest request = (HttpRequest) next;
                heldRequests--;
                startAnswering(request);
                up(request);
                while (held.peek() instanceof HttpContent content && !(content instanceof HttpRequest)) {
                    held.poll();
                    heldBytes -= content.content().readableBytes();
                    up(content);
                }
            }
            if (held.isEmpty()) {
                receivingHeld = false; // the request still arriving, if any, is the one now answered
                resumeReads();
            }
        } finally {
            releasing = false;
        }
    }

    private void dropHeld() {
        for (Object o; (o = held.poll()) != null; ) {
            ReferenceCountUtil.release(o);
        }
        heldRequests = 0;
        heldBytes = 0;
        receivingHeld = false;
    }

    // ---- outbound: see where each answer ends

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof SseResponse sse) {
            startStream(ctx, sse, promise);
            return;
        }
        if (msg instanceof HttpResponse response && response.status().code() >= 400 && isBodiless(response)) {
            msg = withErrorBody(response);
        }
        if (msg instanceof HttpResponse response && response.status().codeClass() != HttpStatusClass.INFORMATIONAL
                && !HttpUtil.isKeepAlive(response)) {
            closeAfterAnswer = true;
        }
        boolean endsAnswer = msg instanceof LastHttpContent
                && !(msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL);
        if (endsAnswer) {
            promise = promise.unvoid();
            promise.addListener(f -> answered());
        }
        ctx.write(msg, promise);
    }

    private void startStream(ChannelHandlerContext ctx, SseResponse sse, ChannelPromise promise) {
        // HTTP/1.0 has no chunking: the stream is delimited by closing the connection
        boolean chunked = !HttpVersion.HTTP_1_0.equals(answeringVersion);
        boolean keepAlive = chunked && sse.keepAlive() && answeringKeepAlive;
        closeAfterAnswer |= !keepAlive;
        ctx.writeAndFlush(sse.head(chunked, keepAlive));
        StreamRelay relay = sse.relay();
        relays.add(relay);
        // the promise Camel listens on completes when the stream ends, not when the head is written
        promise = promise.unvoid();
        promise.addListener(f -> {
            relays.remove(relay);
            answered();
        });
        relay.attach(ctx, promise, keepAlive);
    }

    private FullHttpResponse withErrorBody(HttpResponse response) {
        GatewayException error = OpenAiErrors.forStatus(response.status().code(), maxBodyBytes);
        FullHttpResponse full = errorResponse(response.protocolVersion(), response.status(), error, anthropicRequest,
                response.headers().get(HttpHeaderNames.CONNECTION));
        String id = response.headers().get(Ingress.REQUEST_ID_HEADER);
        if (id != null) {
            full.headers().set(Ingress.REQUEST_ID_HEADER, id); // a route's answer: already recorded
        } else {
            witnessed(full, answeringMethod, answeringUri, answeringUserAgent, error);
        }
        ReferenceCountUtil.release(response);
        return full;
    }

    /** An answer no route wrote: a request id of its own, and the witness counts and logs it. */
    private void witnessed(FullHttpResponse response, String method, String uri, String userAgent, GatewayException error) {
        String id = Ingress.newRequestId();
        response.headers().set(Ingress.REQUEST_ID_HEADER, id);
        String path = uri == null ? null : uri.split("\\?", 2)[0];
        String client = ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress peer && peer.getAddress() != null
                ? peer.getAddress().getHostAddress() : null;
        try {
            witness.refused(id, method, path, client, userAgent, response.status().code(), error.code());
        } catch (RuntimeException e) {
            LOG.warn("Could not record a refused request: {}", e.toString()); // never fails the answer
        }
    }

    /** An error answer with its JSON body in the caller's shape; {@code connection}, when set, as that header. */
    private static FullHttpResponse errorResponse(HttpVersion version, HttpResponseStatus status, GatewayException error,
                                                  boolean anthropic, String connection) {
        byte[] body = ErrorRenderer.body(anthropic, error);
        FullHttpResponse response = new DefaultFullHttpResponse(version, status, Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        HttpUtil.setContentLength(response, body.length);
        if (connection != null) {
            response.headers().set(HttpHeaderNames.CONNECTION, connection);
        }
        return response;
    }

    private static boolean isBodiless(HttpResponse response) {
        if (response instanceof FullHttpResponse full) {
            return full.content().readableBytes() == 0;
        }
        return HttpUtil.getContentLength(response, -1L) == 0L;
    }

    // ---- the connection's end

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        connectionClosed();
        if (bodyInProgress && ctx.pipeline().get(HttpObjectAggregator.class) != null) {
            // the client left mid-body: the aggregator would report that as an exception, which Camel logs as a
            // WARN with a stack trace on a connection that has not completed a request; removing it drops the part
            LOG.debug("Connection from {} closed in the middle of a request body", ctx.channel().remoteAddress());
            ctx.pipeline().remove(HttpObjectAggregator.class);
        }
        super.channelInactive(ctx);
    }

    /** Every stream attached here ends, every held request is dropped with its buffers; runs once. */
    private void connectionClosed() {
        if (closed) {
            return;
        }
        closed = true;
        dropHeld();
        for (StreamRelay relay : List.copyOf(relays)) {
            relay.clientGone();
        }
        relays.clear();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (cause instanceof IOException) {
            // a client that resets mid-request: nothing an operator can act on; Camel's handler would log a stack
            // trace at WARN for a connection that has not completed a request yet
            LOG.debug("Connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
            return;
        }
        super.exceptionCaught(ctx, cause);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (ctx.channel().isWritable()) {
            for (StreamRelay relay : List.copyOf(relays)) {
                relay.writable();
            }
        }
        super.channelWritabilityChanged(ctx);
    }
}
