package dev.caravan.transport.http;

import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.util.Map;

/**
 * The head of a streamed answer. It is the route's last body: camel-netty-http writes an {@code HttpResponse}
 * body as it is, and {@link GatewayChannelHandler} sees it on the way out and attaches the {@link StreamRelay},
 * which then writes each event as the upstream produces it, on the channel's event loop, holding no thread.
 */
public final class SseResponse extends DefaultHttpResponse {

    private final StreamRelay relay;
    private final boolean keepAlive;

    public SseResponse(StreamRelay relay, Map<String, String> headers, boolean keepAlive) {
        super(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
        this.relay = relay;
        this.keepAlive = keepAlive;
        headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
        headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
        headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        headers().set("X-Accel-Buffering", "no"); // tell proxies in front not to buffer the stream
        headers().set(HttpHeaderNames.CONNECTION, keepAlive ? HttpHeaderValues.KEEP_ALIVE : HttpHeaderValues.CLOSE);
        headers.forEach((name, value) -> headers().set(name, value));
    }

    public StreamRelay relay() {
        return relay;
    }

    public boolean keepAlive() {
        return keepAlive;
    }

    /**
     * The head as it goes on the wire: chunked for HTTP/1.1; for a client that cannot take chunks (HTTP/1.0) the
     * body is delimited by closing the connection, so it must also say close.
     */
    HttpResponse head(boolean chunked, boolean keepAliveConnection) {
        DefaultHttpResponse head = new DefaultHttpResponse(protocolVersion(), status());
        head.headers().set(headers());
        if (!chunked) {
            head.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        }
        head.headers().set(HttpHeaderNames.CONNECTION,
                keepAliveConnection ? HttpHeaderValues.KEEP_ALIVE : HttpHeaderValues.CLOSE);
        return head;
    }
}
