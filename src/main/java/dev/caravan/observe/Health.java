package dev.caravan.observe;

import dev.caravan.core.Answers;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.config.ConfigHolder;
import dev.caravan.transport.http.Ingress;
import dev.caravan.routing.DeploymentRegistry;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;

/** {@code /health/live} (the process answers) and {@code /health/ready} (config and every route loaded and started). */
public final class Health {

    private final CamelContext context;
    private final ConfigHolder config;
    private final Ingress ingress;

    private final DeploymentRegistry deployments;
    private final java.util.function.Supplier<java.util.Map<String, Boolean>> buses;

    public Health(CamelContext context, ConfigHolder config, Ingress ingress, DeploymentRegistry deployments) {
        this(context, config, ingress, deployments, java.util.Map::of);
    }

    /** @param buses each configured message bus and whether its broker answers now */
    public Health(CamelContext context, ConfigHolder config, Ingress ingress, DeploymentRegistry deployments,
                  java.util.function.Supplier<java.util.Map<String, Boolean>> buses) {
        this.context = context;
        this.config = config;
        this.ingress = ingress;
        this.deployments = deployments;
        this.buses = buses;
    }

    /** {@code /health/deployments}: each deployment's breaker, load, latency and last error; no secrets. */
    public void deployments(Exchange exchange) {
        ObjectNode body = Json.object();
        var list = body.putArray("deployments");
        long now = System.nanoTime();
        deployments.all().stream().sorted(java.util.Comparator.comparing(DeploymentRegistry.State::id)).forEach(s -> {
            ObjectNode d = list.addObject();
            d.put("id", s.id());
            d.put("provider", s.config().provider().name());
            d.put("model", s.config().model());
            d.put("state", s.breaker().getState().name().toLowerCase(java.util.Locale.ROOT));
            d.put("inFlight", s.inFlight());
            if (s.config().maxInFlight() > 0) {
                d.put("maxInFlight", s.config().maxInFlight());
            }
            d.put("latencyMs", s.latencyMillis() < 0 ? null : Math.round(s.latencyMillis() * 10) / 10.0);
            float failureRate = s.breaker().getMetrics().getFailureRate();
            d.put("failureRate", failureRate < 0 ? null : failureRate);
            d.put("coolingDown", s.coolingDown(now));
            if (s.lastError() != null) {
                d.put("lastError", s.lastError());
                d.put("lastErrorAt", java.time.Instant.ofEpochMilli(s.lastErrorAtMillis()).toString());
            }
        });
        Answers.json(exchange, 200, body);
    }

    public void live(Exchange exchange) {
        ObjectNode body = Json.object().put("status", "UP");
        Answers.json(exchange, 200, body);
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
        checks.put("lastReload", config.lastReload()); // a refused edit leaves the previous version serving: still UP
        java.util.Map<String, Boolean> busStatus = buses.get();
        if (!busStatus.isEmpty()) {
            // a bus whose broker is down is retried in the background; HTTP still serves, so it leaves status UP
            ObjectNode b = checks.putObject("buses");
            busStatus.forEach((name, isUp) -> b.put(name, isUp ? "UP" : "DOWN"));
        }
        boolean up = configLoaded && started && !ingress.isDraining();
        body.put("status", up ? "UP" : "DOWN");
        Answers.json(exchange, up ? 200 : 503, body);
    }

}
