package dev.caravan.transport.http;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequestDecoder;

/**
 * Netty's request decoder, except that a request carrying both {@code Content-Length} and
 * {@code Transfer-Encoding: chunked} keeps both headers: Netty drops the length and reads chunks (RFC 9112 6.1 allows
 * that), but the same request may be framed differently by a proxy in front, so {@link GatewayChannelHandler} refuses
 * it and closes the connection instead; it can only do so if it sees both. Decoding itself is unchanged.
 */
final class FramingRequestDecoder extends HttpRequestDecoder {

    FramingRequestDecoder(HttpDecoderConfig config) {
        super(config);
    }

    @Override
    protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
        // keep Content-Length: the request is refused before anything downstream reads it
    }
}
