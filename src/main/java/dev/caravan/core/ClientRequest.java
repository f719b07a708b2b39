package dev.caravan.core;

import org.apache.camel.Exchange;

import java.util.Map;

/**
 * The client's HTTP request as the ingress captured it, before every wire header was stripped from the message.
 * Held in exchange property {@code caravan.clientRequest}; only named allow-lists of it ever leave the gateway.
 *
 * @param headers   lower-case header names, first value each
 * @param keepAlive the client keeps the connection after this answer: HTTP/1.1 unless {@code Connection: close},
 *                  HTTP/1.0 only with {@code Connection: keep-alive}
 */
public record ClientRequest(String method, String path, String query, Map<String, String> headers, byte[] body,
                            boolean keepAlive) {

    public ClientRequest {
        headers = Map.copyOf(headers);
    }

    /** The request the door captured for this exchange ({@code caravan.clientRequest}). */
    public static ClientRequest of(Exchange exchange) {
        return exchange.getProperty(ExchangeKeys.CLIENT_REQUEST, ClientRequest.class);
    }

    /** The request came in on the management listener (health and metrics on a private address, no key). */
    public static boolean viaManagementListener(Exchange exchange) {
        return ExchangeKeys.MANAGEMENT.equals(exchange.getProperty(ExchangeKeys.LISTENER));
    }

    public String header(String lowerCaseName) {
        return headers.get(lowerCaseName);
    }

    @Override
    public String toString() {
        // never print headers (keys) or body (prompts)
        return method + " " + path;
    }
}
