package dev.caravan.core;

import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

/** Answers of the gateway's own (models list, health, metrics), whatever the transport. */
public final class Answers {

    private Answers() {
    }

    /** A JSON (or, for a string body, text) answer with its status. */
    public static void json(Exchange exchange, int status, Object body) {
        Message out = exchange.getMessage();
        exchange.setProperty(ExchangeKeys.STATUS, status);
        out.setHeader(Exchange.CONTENT_TYPE, "application/json");
        out.setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        out.setBody(body instanceof JsonNode n ? Json.bytes(n) : body);
    }
}
