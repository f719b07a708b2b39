package dev.caravan.config;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Holds the live {@link GatewayConfig}; a reload swaps it atomically, so a request sees one snapshot throughout.
 * It also remembers which watched files were last refused, for {@code /health/ready}.
 */
public final class ConfigHolder {

    private final AtomicReference<GatewayConfig> current = new AtomicReference<>();
    private final List<Consumer<GatewayConfig>> listeners = new CopyOnWriteArrayList<>();
    // file name -> when its last reload was refused; one entry per watched file at most, removed when it reloads
    private final Map<String, String> refused = new TreeMap<>();

    public ConfigHolder(GatewayConfig initial) {
        current.set(initial);
    }

    public GatewayConfig get() {
        return current.get();
    }

    /**
     * Swaps in {@code next} and tells every listener (deployment state, deployment routes). If a listener fails,
     * the previous config comes back and the listeners are told again, so the running state is the old one
     * throughout, and the failure is thrown.
     */
    public synchronized void replace(GatewayConfig next) {
        GatewayConfig previous = current.getAndSet(next);
        try {
            listeners.forEach(l -> l.accept(next));
        } catch (RuntimeException | Error e) {
            if (e instanceof VirtualMachineError) {
                throw e; // out of memory or worse: nothing to restore with
            }
            current.set(previous);
            if (previous != null) {
                for (Consumer<GatewayConfig> l : listeners) {
                    try {
                        l.accept(previous);
                    } catch (RuntimeException | LinkageError again) {
                        e.addSuppressed(again);
                    }
                }
            }
            throw e;
        }
    }

    /** Called after each swap, on the thread that made it; throwing refuses the swap ({@link #replace}). */
    public void onChange(Consumer<GatewayConfig> listener) {
        listeners.add(listener);
    }

    /** Records the outcome of a reload of one watched file ({@code null} reason: it applied). */
    public synchronized void reloaded(String file, String refusedAt) {
        if (refusedAt == null) {
            refused.remove(file);
        } else {
            refused.put(file, refusedAt);
        }
    }

    /** {@code ok}, or which watched files hold an edit that was refused (the versions before them serve). */
    public synchronized String lastReload() {
        if (refused.isEmpty()) {
            return "ok";
        }
        StringBuilder out = new StringBuilder("failed: ");
        refused.forEach((file, at) -> out.append(out.length() > 8 ? ", " : "").append(file).append(" at ").append(at));
        return out.append(" (refused, the previous version keeps serving; the log says why)").toString();
    }
}
