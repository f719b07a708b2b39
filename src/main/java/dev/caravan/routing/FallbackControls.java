package dev.caravan.routing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ClientRequest;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.Exchange;

import java.util.ArrayList;
import java.util.List;

/**
 * Which fallback models a request may move to: the model's own, or the caller's override (header
 * {@code x-caravan-fallbacks} or body {@code caravan.fallbacks}, a list or "none"), and only those the key may call.
 */
final class FallbackControls {

    private final ConfigHolder config;

    FallbackControls(ConfigHolder config) {
        this.config = config;
    }

    /** The fallbacks for {@code model} in this request; a named model that does not exist is the client's 400. */
    List<String> fallbacksFor(Exchange exchange, ModelConfig model) {
        ClientRequest request = ClientRequest.of(exchange);
        String header = request == null ? null : request.header("x-caravan-fallbacks");
        JsonNode controls = exchange.getProperty(ExchangeKeys.CONTROLS, JsonNode.class);
        JsonNode body = controls == null ? null : controls.get("fallbacks");
        List<String> chosen = model.fallbacks();
        if (header != null) {
            chosen = parseList(header);
        } else if (body != null) {
            chosen = body.isArray() ? texts(body) : parseList(body.asText());
        }
        for (String name : chosen) {
            if (config.get().model(name).isEmpty()) {
                throw GatewayException.badRequest("invalid_fallbacks", "caravan.fallbacks",
                        "The fallback model '" + GatewayException.quote(name) + "' does not exist.");
            }
        }
        return allowed(exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class), chosen);
    }

    /** A key only falls back to models it may call. */
    static List<String> allowed(Principal principal, List<String> models) {
        return models.stream().filter(m -> principal == null || principal.mayUse(m)).toList();
    }

    private static List<String> parseList(String text) {
        String t = text.trim();
        if (t.isEmpty() || t.equalsIgnoreCase("none")) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String part : t.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }
}
