package dev.caravan.config;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/** Holds the live {@link GatewayConfig}; a reload swaps it atomically, so a request sees one snapshot throughout. */
public final class ConfigHolder {

    private final AtomicReference<GatewayConfig> current = new AtomicReference<>();
    private final List<Consumer<GatewayConfig>> listeners = new CopyOnWriteArrayList<>();

    public ConfigHolder(GatewayConfig initial) {
        current.set(initial);
    }

    public GatewayConfig get() {
        return current.get();
    }

    public void replace(GatewayConfig next) {
        current.set(next);
        listeners.forEach(l -> l.accept(next));
    }

    /** Called after each successful swap, on the thread that made it. */
    public void onChange(Consumer<GatewayConfig> listener) {
        listeners.add(listener);
    }
}
