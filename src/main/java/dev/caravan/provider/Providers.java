package dev.caravan.provider;

import java.util.Map;

/** Finds the adapter for a provider's {@code type}; adding a provider family is one adapter and one entry here. */
public final class Providers {

    private final Map<String, Provider> byType;

    public Providers(Map<String, Provider> byType) {
        this.byType = Map.copyOf(byType);
    }

    public Provider forType(String type) {
        Provider p = byType.get(type);
        if (p == null) {
            throw new IllegalStateException("no adapter for provider type " + type);
        }
        return p;
    }
}
