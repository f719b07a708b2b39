package dev.caravan.policy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.config.GatewayConfig;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Policies by the name config/gateway.yaml gives them, as {@code Providers} holds adapters: a new policy registers
 * its factory in one line (Caravan's composition root for built-in ones, a test for its own) and nothing else
 * changes. Bounded by the code: names are registered by code, never by requests or config.
 */
public final class PolicyRegistry {

    /** Makes one policy from its {@code policies:} block (an empty object for a bare name). */
    @FunctionalInterface
    public interface Factory {
        Policy create(JsonNode settings);
    }

    /** Makes one policy from its block and the whole config it serves (teams, keys, models: a limit's table). */
    @FunctionalInterface
    public interface ConfiguredFactory {
        Policy create(JsonNode settings, GatewayConfig config);
    }

    private static final PolicyRegistry SHARED = new PolicyRegistry();

    private final Map<String, ConfiguredFactory> factories = new ConcurrentHashMap<>();
    private final PolicyRegistry parent;

    public PolicyRegistry() {
        this(null);
    }

    /**
     * A registry of one gateway's own policies (built-ins bound to its counters and ledger) that also knows every
     * name {@code parent} knows: two gateways in one JVM never share each other's state.
     */
    public PolicyRegistry(PolicyRegistry parent) {
        this.parent = parent;
    }

    /** The process's registry: config is read before any gateway object exists, so the names must be known first. */
    public static PolicyRegistry shared() {
        return SHARED;
    }

    /** Registers (or replaces) the factory for {@code name}. */
    public PolicyRegistry register(String name, Factory factory) {
        factories.put(name, (settings, config) -> factory.create(settings));
        return this;
    }

    /** Registers (or replaces) a factory that reads the config it serves: made again on every reload. */
    public PolicyRegistry register(String name, ConfiguredFactory factory) {
        factories.put(name, factory);
        return this;
    }

    public boolean knows(String name) {
        return factories.containsKey(name) || parent != null && parent.knows(name);
    }

    Policy create(String name, JsonNode settings, GatewayConfig config) {
        ConfiguredFactory factory = factories.get(name);
        if (factory == null && parent != null && parent.knows(name)) {
            return parent.create(name, settings, config);
        }
        if (factory == null) {
            throw new IllegalArgumentException("no policy is registered as '" + name + "'");
        }
        return factory.create(settings, config);
    }
}
