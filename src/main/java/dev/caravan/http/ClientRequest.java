package dev.caravan.http;

import java.util.Map;

/**
 * The client's HTTP request as the ingress captured it, before every wire header was stripped from the message.
 * Held in exchange property {@code caravan.clientRequest}; only named allow-lists of it ever leave the gateway.
 *
 * @param headers lower-case header names, first value each
 */
public record ClientRequest(String method, String path, String query, Map<String, String> headers, byte[] body,
                            boolean keepAlive) {

    public ClientRequest {
        headers = Map.copyOf(headers);
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
