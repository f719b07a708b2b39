package dev.caravan.provider;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP/1.1 client for every upstream, on Netty and on the same event loops as the listener. A call made from a
 * listener's event loop uses a connection of that loop, so a request goes from client socket to upstream socket and
 * back without a thread hand-off (the JDK's HttpClient measured 1.2 ms p50 per call on loopback here; this path
 * is what makes the gateway's overhead small). Connections are pooled per event loop and per host, kept alive,
 * closed after {@link #IDLE_SECONDS} unused. A call that fails on a reused connection before any response byte
 * (the upstream closed it as we reused it) is retried once on a fresh connection, invisibly.
 */
public final class UpstreamClient {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UpstreamClient.class);
    static final int IDLE_SECONDS = 30;
    // a pooled connection the upstream dropped as we reused it fails at once; a close long after the request was
    // written may mean the upstream worked on it, and a silent retry would run (and bill) the generation twice
    private static final long STALE_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final int MAX_IDLE_PER_HOST = 64; // per event loop: bounds the pool
    private static final int MAX_RESPONSE_HEAD = 64 * 1024;

    // 64 MiB: 2,048 embeddings of 3,072 dimensions in base64 fit; a body past it is no answer a client can use
    public static final long DEFAULT_MAX_ANSWER_BYTES = 64L * 1024 * 1024;

    private final EventLoopGroup group;
    private final long maxAnswerBytes;
    private final SslContext ssl;
    // asynchronous DNS on the event loops; the JDK's resolver would block a loop on every cache miss
    private final io.netty.resolver.dns.DnsAddressResolverGroup dns = new io.netty.resolver.dns.DnsAddressResolverGroup(
            io.netty.channel.socket.nio.NioDatagramChannel.class,
            io.netty.resolver.dns.DnsServerAddressStreamProviders.platformDefault());
    // per CA file named in config: bounded by the number of providers
    private final Map<String, SslContext> sslByCaFile = new java.util.concurrent.ConcurrentHashMap<>();
    // each event loop's pools, touched only from that loop
    private final Map<EventExecutor, Map<String, ArrayDeque<Channel>>> pools = new HashMap<>();

    public UpstreamClient(EventLoopGroup group) {
        this(group, DEFAULT_MAX_ANSWER_BYTES);
    }

    /** @param maxAnswerBytes the largest whole (not streamed) 2xx body read from an upstream; larger ones are 502 */
    public UpstreamClient(EventLoopGroup group, long maxAnswerBytes) {
        this.group = group;
        this.maxAnswerBytes = maxAnswerBytes;
        try {
            this.ssl = SslContextBuilder.forClient().build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot create the TLS client context", e);
        }
        for (EventExecutor loop : group) {
            pools.put(loop, new HashMap<>());
        }
    }

    long maxAnswerBytes() {
        return maxAnswerBytes;
    }

    /**
     * What a call reports, always on the connection's event loop, in order: head, content..., end; or error.
     * Content buffers are released after {@code onContent} returns: copy what you keep.
     */
    public interface Listener {
        /** The call, before anything else happens on it. */
        default void attached(Call call) {
        }

        /**
         * True for a stream: after the head its pauses are the reader's business (an idle timeout per stream).
         * False: the first-byte timeout also bounds every silence while the body arrives.
         */
        default boolean streaming() {
            return false;
        }

        void onHead(HttpResponse head);

        void onContent(ByteBuf content);

        void onEnd();

        void onError(Throwable error);
    }

    /** A request on its way: lets the caller pace reading (for streams) or hang up. */
    public static final class Call {
        private final URI uri;
        private SslContext ssl;
        private String poolKey;
        private final FullHttpRequest request;
        private final long firstByteTimeoutNanos;
        private final Listener listener;
        private EventLoop loop;
        private Channel channel;
        private boolean reused;
        private boolean retried;
        private long writtenAtNanos;
        private boolean headSeen;
        private boolean done;
        private boolean cancelled;
        private ScheduledFuture<?> timer;

        private Call(URI uri, FullHttpRequest request, long firstByteTimeoutNanos, Listener listener) {
            this.uri = uri;
            this.request = request;
            this.firstByteTimeoutNanos = firstByteTimeoutNanos;
            this.listener = listener;
        }

        /** Stops or resumes reading the response: a slow client slows the upstream instead of filling memory. */
        public void setReading(boolean reading) {
            runOnLoop(() -> {
                if (channel != null && !done) {
                    channel.config().setAutoRead(reading);
                }
            });
        }

        /** Hangs up: the connection is closed, the listener hears nothing more. */
        public void cancel() {
            runOnLoop(() -> {
                if (done) {
                    return;
                }
                cancelled = true;
                done = true;
                cancelTimer();
                if (channel != null) {
                    channel.close();
                }
                releaseRequest();
            });
        }

        private void releaseRequest() {
            if (request.refCnt() > 0) {
                request.release();
            }
        }

        /** Runs {@code task} on this call's event loop, where all of its state lives. */
        public void runOnLoop(Runnable task) {
            if (loop.inEventLoop()) {
                task.run();
            } else {
                loop.execute(task);
            }
        }

        private void cancelTimer() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }

        private void fail(Throwable error) {
            if (done) {
                return;
            }
            done = true;
            cancelTimer();
            releaseRequest();
            listener.onError(error);
        }
    }

    /**
     * Sends {@code body} to {@code uri}. From a listener event loop the call stays on it; from any other thread it is
     * handed to one of the group's loops.
     */
    public Call send(URI uri, HttpMethod method, HttpHeaders headers, byte[] body, long firstByteTimeoutNanos,
                     Listener listener) {
        return send(uri, method, headers, body, firstByteTimeoutNanos, null, listener);
    }

    /**
     * As {@link #send(URI, HttpMethod, HttpHeaders, byte[], long, Listener)}, trusting only the CA certificates in
     * {@code caFile} (PEM) for TLS, for upstreams behind a private CA; null trusts the JVM's default CAs.
     */
    public Call send(URI uri, HttpMethod method, HttpHeaders headers, byte[] body, long firstByteTimeoutNanos,
                     String caFile, Listener listener) {
        String path = uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, path,
                Unpooled.wrappedBuffer(body));
        request.headers().set(headers);
        request.headers().set(HttpHeaderNames.HOST, hostHeader(uri));
        HttpUtil.setContentLength(request, body.length);
        Call call = new Call(uri, request, firstByteTimeoutNanos, listener);
        call.ssl = caFile == null ? ssl : sslByCaFile.computeIfAbsent(caFile, UpstreamClient::trusting);
        call.poolKey = key(uri) + (caFile == null ? "" : "|" + caFile);
        listener.attached(call);
        EventLoop current = currentLoop();
        call.loop = current != null ? current : group.next();
        call.runOnLoop(() -> start(call));
        return call;
    }

    private static SslContext trusting(String caFile) {
        try {
            return SslContextBuilder.forClient().trustManager(new java.io.File(caFile)).build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalStateException("cannot use the CA certificates in " + caFile + ": " + e.getMessage(), e);
        }
    }

    private EventLoop currentLoop() {
        for (EventExecutor loop : group) {
            if (loop.inEventLoop()) {
                return (EventLoop) loop;
            }
        }
        return null;
    }

    private void start(Call call) {
        if (call.done) {
            return;
        }
        armTimer(call);
        Channel pooled = acquireIdle(call);
        if (pooled != null) {
            call.reused = true;
            write(call, pooled);
        } else {
            connect(call);
        }
    }

    /** (Re)starts the silence timer: until the first byte, and for whole bodies between reads too. */
    private static void armTimer(Call call) {
        call.cancelTimer();
        call.timer = call.loop.schedule(() -> {
            if (!call.done) {
                call.fail(new HttpTimeoutException(call.headSeen ? "the response stalled" : "no response within the timeout"));
                if (call.channel != null) {
                    call.channel.close();
                }
            }
        }, call.firstByteTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    private Channel acquireIdle(Call call) {
        ArrayDeque<Channel> idle = pools.get(call.loop).get(call.poolKey);
        while (idle != null && !idle.isEmpty()) {
            Channel ch = idle.pollLast();
            if (ch.isActive()) {
                return ch;
            }
        }
        return null;
    }

    private void connect(Call call) {
        URI uri = call.uri;
        boolean https = "https".equalsIgnoreCase(uri.getScheme());
        int port = uri.getPort() > 0 ? uri.getPort() : (https ? 443 : 80);
        Bootstrap bootstrap = new Bootstrap()
                .group(call.loop)
                .resolver(dns)
                .channel(NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (https) {
                            SslHandler tls = call.ssl.newHandler(ch.alloc(), uri.getHost(), port);
                            SSLEngine engine = tls.engine();
                            SSLParameters params = engine.getSSLParameters();
                            params.setEndpointIdentificationAlgorithm("HTTPS"); // check the certificate names the host
                            engine.setSSLParameters(params);
                            ch.pipeline().addLast("tls", tls);
                        }
                        ch.pipeline().addLast("codec", new HttpClientCodec(4096, MAX_RESPONSE_HEAD, 65536));
                        ch.pipeline().addLast("idle", new IdleStateHandler(0, 0, IDLE_SECONDS, TimeUnit.SECONDS));
                        ch.pipeline().addLast("caravan", new ConnectionHandler());
                    }
                });
        ChannelFuture connecting = bootstrap.connect(uri.getHost(), port);
        connecting.addListener(f -> {
            if (!f.isSuccess()) {
                Throwable cause = f.cause();
                call.fail(cause instanceof ConnectException ? cause
                        : new ConnectException("cannot connect to " + uri.getHost() + ":" + port + ": " + cause.getMessage()));
                return;
            }
            if (call.done) {
                connecting.channel().close();
                return;
            }
            write(call, connecting.channel());
        });
    }

    private void write(Call call, Channel ch) {
        call.channel = ch;
        ch.config().setAutoRead(true);
        ch.pipeline().get(ConnectionHandler.class).call = call;
        call.writtenAtNanos = System.nanoTime();
        // a duplicate goes out; the original stays for a possible retry on a fresh connection
        ch.writeAndFlush(call.request.retainedDuplicate()).addListener(f -> {
            if (!f.isSuccess()) {
                ch.close(); // channelInactive decides: retry or fail
            }
        });
    }

    private void release(Call call, Channel ch, boolean keepAlive) {
        ch.pipeline().get(ConnectionHandler.class).call = null;
        if (!keepAlive || !ch.isActive()) {
            ch.close();
            return;
        }
        ArrayDeque<Channel> idle = pools.get(call.loop).computeIfAbsent(call.poolKey, k -> new ArrayDeque<>());
        if (idle.size() >= MAX_IDLE_PER_HOST) {
            ch.close();
        } else {
            idle.addLast(ch);
        }
    }

    private static String key(URI uri) {
        return uri.getScheme() + "://" + uri.getHost() + ":" + uri.getPort();
    }

    private static String hostHeader(URI uri) {
        return uri.getPort() > 0 ? uri.getHost() + ":" + uri.getPort() : uri.getHost();
    }

    /** One per connection: routes what the upstream sends to the call in flight. */
    private final class ConnectionHandler extends SimpleChannelInboundHandler<HttpObject> {
        Call call;
        private boolean keepAlive;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            Call c = call;
            if (c == null || c.done) {
                if (c == null) {
                    ctx.close(); // an answer nobody asked for: the connection cannot be trusted
                }
                return;
            }
            if (msg.decoderResult().isFailure()) {
                ctx.close();
                c.fail(new IOException("the upstream's response could not be parsed"));
                return;
            }
            if (msg instanceof HttpResponse head) {
                c.headSeen = true;
                keepAlive = HttpUtil.isKeepAlive(head);
                c.listener.onHead(head); // may hang up (a body declared too large) or open a stream
                if (c.done) {
                    return;
                }
                if (c.listener.streaming()) {
                    c.cancelTimer();
                } else {
                    armTimer(c);
                }
            }
            if (msg instanceof HttpContent content && !c.done) {
                if (!c.listener.streaming() && !(msg instanceof HttpResponse)) {
                    armTimer(c);
                }
                if (content.content().isReadable()) {
                    c.listener.onContent(content.content());
                }
                if (msg instanceof LastHttpContent && !c.done) {
                    c.done = true;
                    c.cancelTimer();
                    c.releaseRequest();
                    release(c, ctx.channel(), keepAlive);
                    c.listener.onEnd();
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Call c = call;
            call = null;
            pools.get(ctx.channel().eventLoop()).values().forEach(q -> q.remove(ctx.channel()));
            if (c == null || c.done) {
                return;
            }
            if (!c.headSeen && c.reused && !c.retried && System.nanoTime() - c.writtenAtNanos < STALE_WINDOW_NANOS) {
                // closed under us before a byte of answer: the upstream dropped a pooled connection
                c.retried = true;
                c.reused = false;
                connect(c);
                return;
            }
            c.fail(c.headSeen ? new IOException("the upstream closed the connection mid-response")
                    : new IOException("the upstream closed the connection before answering"));
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof io.netty.handler.ssl.SslHandshakeCompletionEvent done && !done.isSuccess()) {
                // the client only hears "connection error"; the operator needs to know it was the certificate
                LOG.warn("TLS handshake with {} failed: {}", ctx.channel().remoteAddress(), done.cause().getMessage());
            }
            if (evt instanceof IdleStateEvent && (call == null || call.done)) {
                ctx.close(); // unused for IDLE_SECONDS, or a finished call whose body never ended
                return;
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // channelInactive reports it
        }
    }
}
