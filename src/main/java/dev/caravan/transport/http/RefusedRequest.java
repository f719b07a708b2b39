package dev.caravan.transport.http;

import dev.caravan.core.Dialect;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.GatewayException;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpRequest;
import org.apache.camel.Exchange;

/**
 * A request the {@link BodyGate} answered for without keeping its body (too large, or no room in the body budget):
 * it reaches the route with an empty body, and {@link Ingress#capture} throws its error, so the answer goes out in
 * the connection's order through the one error path (shape, access log, metrics).
 */
final class RefusedRequest extends DefaultFullHttpRequest {

    private final GatewayException error;

    RefusedRequest(HttpRequest head, GatewayException error) {
        super(head.protocolVersion(), head.method(), head.uri(), Unpooled.EMPTY_BUFFER);
        this.error = error;
    }

    /** Throws the refusal if the listener refused this request; Anthropic's shape on /v1/messages. */
    static void rethrow(Object request, Exchange exchange) {
        if (request instanceof RefusedRequest refused) {
            if (Dialect.forPath(refused.uri()) == Dialect.ANTHROPIC_MESSAGES) {
                exchange.setProperty(ExchangeKeys.DIALECT, Dialect.ANTHROPIC_MESSAGES);
            }
            throw refused.error;
        }
    }
}
