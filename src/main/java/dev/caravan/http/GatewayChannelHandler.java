package dev.caravan.http;

import dev.caravan.GatewayException;
import dev.caravan.messages.AnthropicErrors;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

/**
 * Sits in each HTTP connection's Netty pipeline (camel-netty-http's {@code encoders} slot, just above the HTTP
 * encoder). Two jobs on the way out: start {@link SseResponse} streams, and give Netty's own bodiless errors
 * (oversized body, unparseable request) an error body in the caller's shape. On the way in it tells the open stream when the
 * client leaves or can take more.
 */
final class GatewayChannelHandler extends ChannelDuplexHandler {

    private final long maxBodyBytes;
    private StreamRelay relay; // event-loop confined
    private boolean anthropicRequest; // the request in progress is on /v1/messages: errors in Anthropic's shape

    GatewayChannelHandler(long maxBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof SseResponse sse) {
            DefaultHttpResponse head = new DefaultHttpResponse(sse.protocolVersion(), sse.status());
            head.headers().set(sse.headers());
            ctx.writeAndFlush(head);
            relay = sse.relay();
            // the promise Camel listens on completes when the stream ends, not when the head is written
            relay.attach(ctx, promise, sse.keepAlive());
            return;
        }
        if (msg instanceof HttpResponse response && response.status().code() >= 400 && isBodiless(response)) {
            GatewayException error = OpenAiErrors.forStatus(response.status().code(), maxBodyBytes);
            byte[] body = anthropicRequest ? AnthropicErrors.bytes(error) : OpenAiErrors.bytes(error);
            FullHttpResponse full = new DefaultFullHttpResponse(response.protocolVersion(), response.status(),
                    Unpooled.wrappedBuffer(body));
            full.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
            HttpUtil.setContentLength(full, body.length);
            String connection = response.headers().get(HttpHeaderNames.CONNECTION);
            if (connection != null) {
                full.headers().set(HttpHeaderNames.CONNECTION, connection);
            }
            ReferenceCountUtil.release(msg);
            ctx.write(full, promise);
            return;
        }
        ctx.write(msg, promise);
    }

    private static boolean isBodiless(HttpResponse response) {
        if (response instanceof FullHttpResponse full) {
            return full.content().readableBytes() == 0;
        }
        return HttpUtil.getContentLength(response, -1L) == 0L;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest request) {
            anthropicRequest = request.uri().startsWith("/v1/messages");
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (relay != null) {
            relay.clientGone();
            relay = null;
        }
        super.channelInactive(ctx);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (relay != null && ctx.channel().isWritable()) {
            relay.writable();
        }
        super.channelWritabilityChanged(ctx);
    }
}
