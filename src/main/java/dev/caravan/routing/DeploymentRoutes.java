package dev.caravan.routing;

import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.GatewayConfig;
import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Keeps one Camel route per configured deployment, stamped from the {@code deployment} route template
 * (routes/deployment.camel.yaml) and named {@code deployment-<id>}: on start, on every config reload, and again when
 * the template file itself is reloaded. A removed deployment's route is stopped gracefully, so calls in flight on it
 * finish first. Breaker state is not in the routes ({@link DeploymentRegistry}), so none of this forgets it.
 */
public final class DeploymentRoutes {

    public static final String TEMPLATE_ID = "deployment";
    private static final String PREFIX = "deployment-";
    private static final Logger LOG = LoggerFactory.getLogger(DeploymentRoutes.class);

    private final CamelContext context;

    public DeploymentRoutes(CamelContext context) {
        this.context = context;
    }

    public synchronized void sync(GatewayConfig config) {
        Set<String> wanted = config.allDeployments().stream().map(DeploymentConfig::id).collect(Collectors.toCollection(TreeSet::new));
        Set<String> existing = stamped();
        for (String id : wanted) {
            if (!existing.contains(id)) {
                add(id);
            }
        }
        for (String id : existing) {
            if (!wanted.contains(id)) {
                remove(id);
            }
        }
    }

    /** After the template changed: every deployment route again, from the new template. */
    public synchronized void restamp(GatewayConfig config) {
        for (String id : stamped()) {
            remove(id);
        }
        sync(config);
    }

    private Set<String> stamped() {
        return context.getRoutes().stream().map(Route::getRouteId).filter(id -> id.startsWith(PREFIX))
                .map(id -> id.substring(PREFIX.length())).collect(Collectors.toCollection(TreeSet::new));
    }

    private void add(String id) {
        try {
            context.addRouteFromTemplate(PREFIX + id, TEMPLATE_ID, Map.of("deploymentId", id));
        } catch (Exception e) {
            // the root cause says what is wrong (an endpoint option, a missing bean); Camel's own message dumps the route
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            throw new IllegalStateException("cannot create the route of deployment " + id + ": " + root.getMessage(), e);
        }
    }

    private void remove(String id) {
        try {
            context.getRouteController().stopRoute(PREFIX + id); // graceful: in-flight calls finish
            context.removeRoute(PREFIX + id);
            LOG.info("Removed the route of deployment '{}'", id);
        } catch (Exception e) {
            LOG.warn("Could not remove the route of deployment '{}': {}", id, e.getMessage());
        }
    }
}
