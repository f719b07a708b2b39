package dev.caravan.policy;

import dev.caravan.config.GatewayConfig;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The configured policies in order, built once per config (start and each reload) and immutable after: a request
 * keeps the chain it started with, whatever a reload builds meanwhile. At most 64 policies (the loader refuses more),
 * so which are on for a request, and which ran, are each one {@code long}.
 */
public final class PolicyChain {

    public static final PolicyChain EMPTY = new PolicyChain(List.of(), List.of(), Map.of(), Map.of());

    private final List<String> names;
    private final List<Policy> policies;
    private final Map<String, Long> offForModel;
    private final Map<String, Long> offForKey;

    private PolicyChain(List<String> names, List<Policy> policies, Map<String, Long> offForModel,
                        Map<String, Long> offForKey) {
        this.names = names;
        this.policies = policies;
        this.offForModel = offForModel;
        this.offForKey = offForKey;
    }

    /** Each {@code policies:} entry made by its registered factory; a factory that refuses its block throws. */
    public static PolicyChain build(GatewayConfig gateway, PolicyRegistry registry) {
        GatewayConfig.Policies config = gateway.policies();
        if (config.chain().isEmpty()) {
            return EMPTY;
        }
        List<String> names = config.chain().stream().map(GatewayConfig.Policies.Entry::name).toList();
        List<Policy> policies = config.chain().stream().map(e -> registry.create(e.name(), e.settings(), gateway)).toList();
        return new PolicyChain(names, policies, masks(config.offForModel(), names), masks(config.offForKey(), names));
    }

    private static Map<String, Long> masks(Map<String, Set<String>> off, List<String> names) {
        Map<String, Long> masks = new HashMap<>();
        off.forEach((owner, offNames) -> {
            long mask = 0;
            for (String name : offNames) {
                mask |= 1L << names.indexOf(name);
            }
            masks.put(owner, mask);
        });
        return Map.copyOf(masks);
    }

    public boolean isEmpty() {
        return policies.isEmpty();
    }

    int size() {
        return policies.size();
    }

    Policy policy(int index) {
        return policies.get(index);
    }

    String name(int index) {
        return names.get(index);
    }

    /** The policies on for a call of {@code model} with {@code keyId} (null when unknown), one bit each. */
    long enabledFor(String model, String keyId) {
        long all = size() == 64 ? -1L : (1L << size()) - 1;
        long off = (model == null ? 0L : offForModel.getOrDefault(model, 0L))
                | (keyId == null ? 0L : offForKey.getOrDefault(keyId, 0L));
        return all & ~off;
    }
}
