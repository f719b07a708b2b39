package dev.caravan.transport.bus;

import dev.caravan.config.BusConfig;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stamps each configured bus's route from its template (routes/ingress-bus.camel.yaml) once the routes are loaded,
 * and tells {@code /health/ready} which buses are up. The {@code bus:} block is read at start only.
 */
public final class BusRoutes implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BusRoutes.class);

    private final List<BusAdapter> adapters;
    private final List<BusAdapter> running = new ArrayList<>();

    public BusRoutes(List<BusAdapter> adapters) {
        this.adapters = List.copyOf(adapters);
    }

    public synchronized void start(CamelContext context, BusConfig bus) {
        for (BusAdapter adapter : adapters) {
            if (!adapter.configured(bus)) {
                continue;
            }
            String id = "bus-" + adapter.name();
            try {
                Map<String, Object> parameters = adapter.prepare(context, bus);
                context.addRouteFromTemplate(id, id, parameters);
                running.add(adapter);
                LOG.info("Bus {} on: its requests go through the same steps as HTTP requests", adapter.name());
            } catch (Exception e) {
                throw new IllegalStateException("cannot start bus " + adapter.name() + ": "
                        + BusAdapter.rootCause(e).getMessage(), e);
            }
        }
    }

    /** Each running bus and whether its broker answers now (empty when no bus is configured). */
    public synchronized Map<String, Boolean> status() {
        Map<String, Boolean> status = new LinkedHashMap<>();
        running.forEach(a -> status.put(a.name(), a.up()));
        return status;
    }

    @Override
    public synchronized void close() {
        running.forEach(BusAdapter::close);
        running.clear();
    }
}
