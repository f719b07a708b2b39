package dev.caravan.observe;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.Json;
import dev.caravan.config.ConfigHolder;
import dev.caravan.http.Ingress;
import dev.caravan.http.Responder;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;

/** {@code /health/live} (the process answers) and {@code /health/ready} (config and every route loaded and started). */
public final class Health {

    private final CamelContext context;
    private final ConfigHolder config;
    private final Ingress ingress;

    public Health(CamelContext context, ConfigHolder config, Ingress ingress) {
        this.context = context;
        this.config = config;
        this.ingress = ingress;
    }

    public void live(Exchange exchange) {
        ObjectNode body = Json.object().put("status", "UP");
        Responder.json(exchange, 200, body);
    }

    public void ready(Exchange exchange) {
        ObjectNode body = Json.object();
        ObjectNode checks = body.putObject("checks");
        boolean configLoaded = config.get() != null;
        long stopped = context.getRoutes().stream()
                .filter(r -> !context.getRouteController().getRouteStatus(r.getRouteId()).isStarted()).count();
        boolean started = context.isStarted() && stopped == 0;
        checks.put("config", configLoaded ? "UP" : "DOWN");
        checks.put("routes", started ? "UP" : "DOWN");
        checks.put("routeCount", context.getRoutes().size());
        checks.put("accepting", ingress.isDraining() ? "DOWN" : "UP");
        boolean up = configLoaded && started && !ingress.isDraining();
        body.put("status", up ? "UP" : "DOWN");
        Responder.json(exchange, up ? 200 : 503, body);
    }

}
