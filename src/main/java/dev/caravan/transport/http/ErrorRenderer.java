package dev.caravan.transport.http;

import dev.caravan.stream.MeteredStream;
import dev.caravan.core.Dialect;
import dev.caravan.dialect.openai.OpenAiErrors;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.GatewayException;
import dev.caravan.dialect.anthropic.AnthropicErrors;
import org.apache.camel.Exchange;
import org.apache.camel.Message;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place an exception becomes an answer: a {@link GatewayException} in the caller's error shape with its
 * status; anything else is a 500 whose details go to the log (never to the client).
 */
public final class ErrorRenderer {

    private static final Logger LOG = LoggerFactory.getLogger(ErrorRenderer.class);

    private final Cors cors;

    public ErrorRenderer() {
        this(new Cors("", 0));
    }

    public ErrorRenderer(Cors cors) {
        this.cors = cors;
    }

    public void render(Exchange exchange) {
        Throwable caught = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        if (caught == null) {
            caught = exchange.getException();
        }
        GatewayException error = toGatewayException(exchange, caught);
        MeteredStream relay = exchange.getProperty(ExchangeKeys.RELAY, MeteredStream.class);
        if (relay != null) {
            relay.abandon();
            exchange.removeProperty(ExchangeKeys.RELAY);
        }
        Message out = exchange.getMessage();
        out.removeHeaders("*");
        Responder.caravanHeaders(exchange).forEach(out::setHeader);
        error.headers().forEach(out::setHeader);
        ClientRequest request = ClientRequest.of(exchange);
        if (request != null && "HEAD".equals(request.method())) {
            // the listener gives a bodiless error a body again: close after it so it cannot pass for the next answer
            exchange.setProperty("Connection", "close");
        }
        if ("close".equals(exchange.getProperty("Connection"))) {
            out.setHeader("Connection", "close");
        }
        cors.apply(exchange, out::setHeader); // a browser may read the error too
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, error.status());
        out.setBody(body(Dialect.speaksAnthropic(exchange), error));
        exchange.setProperty(ExchangeKeys.STATUS, error.status());
        exchange.removeProperty(ExchangeKeys.FACTS);
        exchange.setProperty(ExchangeKeys.ERROR_CODE, error.code());
    }

    /** An error's body in the caller's shape: Anthropic's on the Messages API, OpenAI's everywhere else. */
    static byte[] body(boolean anthropic, GatewayException error) {
        return anthropic ? AnthropicErrors.bytes(error) : OpenAiErrors.bytes(error);
    }

    private static GatewayException toGatewayException(Exchange exchange, Throwable caught) {
        Throwable t = caught;
        while (t != null && !(t instanceof GatewayException) && t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        if (t instanceof GatewayException g) {
            return g;
        }
        String requestId = exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class);
        // the stack trace helps the operator; exception messages are not logged, they may quote a request
        LOG.error("Internal error in request {} ({})", requestId,
                caught == null ? "unknown" : caught.getClass().getName(), stripMessages(caught));
        return new GatewayException(500, "server_error", "internal_error",
                "The gateway failed to handle this request (request id " + requestId + ").");
    }

    /** A copy of the exception chain with class names and stack frames only. */
    private static Throwable stripMessages(Throwable t) {
        if (t == null) {
            return null;
        }
        Throwable copy = new Throwable(t.getClass().getName(), stripMessages(t.getCause() == t ? null : t.getCause()));
        copy.setStackTrace(t.getStackTrace());
        return copy;
    }
}
