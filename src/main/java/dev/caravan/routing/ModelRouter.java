package dev.caravan.routing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.GatewayException;
import dev.caravan.auth.Principal;
import dev.caravan.config.ConfigHolder;
import dev.caravan.config.ModelConfig;
import dev.caravan.http.ExchangeKeys;
import org.apache.camel.Exchange;

/**
 * The route step: the requested model name becomes the ranked list of deployments to try
 * ({@code caravan.model}, {@code caravan.deployments}). For now the ranking is the config order.
 */
public final class ModelRouter {

    private final ConfigHolder config;

    public ModelRouter(ConfigHolder config) {
        this.config = config;
    }

    public void route(Exchange exchange) {
        ObjectNode request = exchange.getProperty(ExchangeKeys.REQUEST, ObjectNode.class);
        String name = request.path("model").asText();
        ModelConfig model = config.get().model(name).orElseThrow(() -> GatewayException.modelNotFound(name));
        Principal principal = exchange.getProperty(ExchangeKeys.PRINCIPAL, Principal.class);
        if (!principal.mayUse(name)) {
            throw GatewayException.forbidden("model_not_allowed",
                    "This API key is not allowed to use the model '" + name + "'.");
        }
        exchange.setProperty(ExchangeKeys.MODEL, model);
        exchange.setProperty(ExchangeKeys.DEPLOYMENTS, model.deployments());
    }
}
