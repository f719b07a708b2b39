package dev.caravan.routing;

import dev.caravan.core.Dialect;
import dev.caravan.core.Answers;
import dev.caravan.core.ClientRequest;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.ModelConfig;
import dev.caravan.core.ExchangeKeys;
import org.apache.camel.Exchange;

/**
 * {@code GET /v1/models} and {@code GET /v1/models/{id}}: the models the caller's key may use, in OpenAI's shapes,
 * or in Anthropic's when the caller is an Anthropic client (it sends {@code anthropic-version}).
 */
public final class ModelCatalog {

    private final ConfigHolder config;
    private final long created = System.currentTimeMillis() / 1000;

    public ModelCatalog(ConfigHolder config) {
        this.config = config;
    }

    public void list(Exchange exchange) {
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        boolean anthropic = isAnthropicClient(exchange);
        ObjectNode body = Json.object();
        if (!anthropic) {
            body.put("object", "list");
        }
        ArrayNode data = body.putArray("data");
        for (ModelConfig model : config.get().models().values()) {
            if (principal.mayUse(model.name())) {
                data.add(anthropic ? anthropicModel(model.name()) : model(model.name()));
            }
        }
        if (anthropic) {
            body.put("has_more", false);
            if (data.isEmpty()) {
                body.putNull("first_id").putNull("last_id");
            } else {
                body.put("first_id", data.get(0).path("id").asText()).put("last_id", data.get(data.size() - 1).path("id").asText());
            }
        }
        Answers.json(exchange, 200, body);
    }

    private static boolean isAnthropicClient(Exchange exchange) {
        return Dialect.forSharedEndpoint(ClientRequest.of(exchange)) == Dialect.ANTHROPIC_MESSAGES;
    }

    private ObjectNode anthropicModel(String id) {
        ObjectNode m = Json.object();
        m.put("type", "model");
        m.put("id", id);
        m.put("display_name", id);
        m.put("created_at", java.time.Instant.ofEpochSecond(created).toString());
        return m;
    }

    public void get(Exchange exchange) {
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        String path = ClientRequest.of(exchange).path();
        String id = path.substring("/v1/models/".length());
        if (config.get().model(id).isEmpty() || !principal.mayUse(id)) {
            throw GatewayException.modelNotFound(id);
        }
        Answers.json(exchange, 200, isAnthropicClient(exchange) ? anthropicModel(id) : model(id));
    }

    private ObjectNode model(String id) {
        ObjectNode m = Json.object();
        m.put("id", id);
        m.put("object", "model");
        m.put("created", created);
        m.put("owned_by", "caravan");
        return m;
    }
}
