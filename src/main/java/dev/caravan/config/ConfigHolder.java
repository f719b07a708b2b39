package dev.caravan.config;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Holds the live {@link GatewayConfig}; a reload swaps it atomically, so a request sees one snapshot throughout.
 * The live snapshot is the file's config with the keys and teams made through the admin API beside it: a reload of
 * the file keeps them, and a change to them keeps the file's. It also remembers which watched files were last
 * refused, for {@code /health/ready}.
 */
public final class ConfigHolder {

    private final AtomicReference<GatewayConfig> current = new AtomicReference<>();
    private GatewayConfig file;                                  // guarded by this
    private Map<String, KeyConfig> apiKeys = Map.of();           // guarded by this
    private Map<String, TeamConfig> apiTeams = Map.of();         // guarded by this
    private final List<Consumer<GatewayConfig>> listeners = new CopyOnWriteArrayList<>();
    // file name -> when its last reload was refused; one entry per watched file at most, removed when it reloads
    private final Map<String, String> refused = new TreeMap<>();

    public ConfigHolder(GatewayConfig initial) {
        current.set(initial);
        file = initial;
    }

    /** The admin API's keys (by secret hash) and teams, as last swapped in. */
    public synchronized Map<String, KeyConfig> runtimeKeys() {
        return apiKeys;
    }

    public synchronized Map<String, TeamConfig> runtimeTeams() {
        return apiTeams;
    }

    /** The config as the file defines it, without the admin API's keys and teams. */
    public synchronized GatewayConfig file() {
        return file;
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
        swap(next, next.withRuntime(apiKeys, apiTeams));
    }

    /**
     * Swaps in the admin API's keys and teams beside the file's config, as {@link #replace} does (a failing listener
     * brings the previous ones back and is thrown).
     *
     * @param keys  run-time keys by the SHA-256 hex of each secret that is valid now
     * @param teams run-time teams by name
     */
    public synchronized void replaceRuntime(Map<String, KeyConfig> keys, Map<String, TeamConfig> teams) {
        Map<String, KeyConfig> previousKeys = apiKeys;
        Map<String, TeamConfig> previousTeams = apiTeams;
        apiKeys = Map.copyOf(keys);
        apiTeams = Map.copyOf(teams);
        try {
            swap(file, file.withRuntime(apiKeys, apiTeams));
        } catch (RuntimeException | Error e) {
            apiKeys = previousKeys;
            apiTeams = previousTeams;
            throw e;
        }
    }

    private void swap(GatewayConfig nextFile, GatewayConfig next) {
        GatewayConfig previousFile = file;
        file = nextFile;
        GatewayConfig previous = current.getAndSet(next);
        try {
            listeners.forEach(l -> l.accept(next));
        } catch (RuntimeException | Error e) {
            if (e instanceof VirtualMachineError) {
                throw e; // out of memory or worse: nothing to restore with
            }
            current.set(previous);
            file = previousFile;
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
