package dev.caravan.transport.http;

import dev.caravan.core.Dialect;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.dialect.anthropic.MessagesTranslator;
import dev.caravan.provider.ChatResult;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

import java.util.HashMap;
import java.util.Map;

/** The last step: the answer in the caller's wire shape, whole JSON or the head of an SSE stream. */
public final class Responder {

    public void respond(Exchange exchange) {
        Message out = exchange.getMessage();
        Map<String, String> headers = caravanHeaders(exchange);
        StreamRelay relay = exchange.getProperty(ExchangeKeys.RELAY, StreamRelay.class);
        if (relay != null) {
            // upstream headers travel on the relay's stream; only allow-listed ones were kept
            ClientRequest request = ClientRequest.of(exchange);
            relay.upstreamHeaders().forEach(headers::putIfAbsent);
            out.setBody(new SseResponse(relay, headers, request.keepAlive()));
            return;
        }
        ChatResult result = exchange.getProperty(ExchangeKeys.RESULT, ChatResult.class);
        result.headers().forEach(out::setHeader);
        headers.forEach(out::setHeader);
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
        boolean anthropic = Dialect.speaksAnthropic(exchange)
                && !ExchangeKeys.COUNT_TOKENS.equals(exchange.getProperty(ExchangeKeys.OPERATION));
        out.setBody(Json.bytes(anthropic ? MessagesTranslator.toAnthropic(result.body()) : result.body()));
    }

    /** Caravan's own response headers: request id, and what the call step did (deployment, attempts, fallback). */
    public static Map<String, String> caravanHeaders(Exchange exchange) {
        Map<String, String> headers = new HashMap<>();
        headers.put("x-caravan-request-id", exchange.getProperty(ExchangeKeys.REQUEST_ID, String.class));
        DeploymentConfig deployment = exchange.getProperty(ExchangeKeys.DEPLOYMENT, DeploymentConfig.class);
        if (deployment != null) {
            headers.put("x-caravan-deployment", deployment.id());
        }
        Integer attempts = exchange.getProperty(ExchangeKeys.ATTEMPT_COUNT, Integer.class);
        if (attempts != null) {
            headers.put("x-caravan-attempts", attempts.toString());
        }
        String fallback = exchange.getProperty(ExchangeKeys.FALLBACK, String.class);
        if (fallback != null) {
            headers.put("x-caravan-fallback", fallback);
        }
        return headers;
    }

}
