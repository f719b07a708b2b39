package dev.caravan.routing;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.GatewayException;
import dev.caravan.Json;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.ModelConfig;
import dev.caravan.http.ExchangeKeys;
import dev.caravan.http.Ingress;
import dev.caravan.http.Responder;
import org.apache.camel.Exchange;

/** {@code GET /v1/models} and {@code GET /v1/models/{id}}: the models the caller's key may use, in OpenAI's shapes. */
public final class ModelCatalog {

    private final ConfigHolder config;
    private final long created = System.currentTimeMillis() / 1000;

    public ModelCatalog(ConfigHolder config) {
        this.config = config;
    }

    public void list(Exchange exchange) {
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        ObjectNode body = Json.object();
        body.put("object", "list");
        ArrayNode data = body.putArray("data");
        for (ModelConfig model : config.get().models().values()) {
            if (principal.mayUse(model.name())) {
                data.add(model(model.name()));
            }
        }
        Responder.json(exchange, 200, body);
    }

    public void get(Exchange exchange) {
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        String path = Ingress.request(exchange).path();
        String id = path.substring("/v1/models/".length());
        if (config.get().model(id).isEmpty() || !principal.mayUse(id)) {
            throw GatewayException.modelNotFound(id);
        }
        Responder.json(exchange, 200, model(id));
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
