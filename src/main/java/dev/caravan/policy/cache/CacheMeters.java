package dev.caravan.policy.cache;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The cache's metrics: {@code caravan_cache_total{result}} (hit, semantic, miss, bypass, coalesced),
 * {@code caravan_cache_saved_usd_total} (what the upstream calls a hit or a follower did not make would have cost),
 * {@code caravan_cache_entries} and {@code caravan_cache_bytes} (the exact store), and
 * {@code caravan_cache_semantic_entries}. Five result names: a bounded label.
 */
final class CacheMeters {

    private final Map<String, Counter> results;
    private final Counter saved;

    CacheMeters(MeterRegistry registry, ResponseCache cache) {
        results = Map.of(
                "hit", counter(registry, "hit"),
                "semantic", counter(registry, "semantic"),
                "miss", counter(registry, "miss"),
                "bypass", counter(registry, "bypass"),
                "coalesced", counter(registry, "coalesced"));
        saved = Counter.builder("caravan.cache.saved.usd")
                .description("USD the cache saved: the cost of the upstream calls its hits and followers did not make")
                .register(registry);
        gauge(registry, "caravan.cache.entries", "answers held by the exact cache", cache, c -> c.store().entries());
        gauge(registry, "caravan.cache.bytes", "bytes held by the exact cache", cache, c -> c.store().bytes());
        gauge(registry, "caravan.cache.semantic.entries", "prompts held by the semantic index", cache,
                ResponseCache::semanticEntries);
    }

    private static Counter counter(MeterRegistry registry, String result) {
        return Counter.builder("caravan.cache").tag("result", result)
                .description("cache lookups by result").register(registry);
    }

    private static void gauge(MeterRegistry registry, String name, String help, ResponseCache cache,
                              ToDoubleFunction<ResponseCache> value) {
        Gauge.builder(name, cache, value).description(help).register(registry);
    }

    void count(String result) {
        results.get(result).increment();
    }

    void saved(long nanos) {
        if (nanos > 0) {
            saved.increment(nanos / 1e9);
        }
    }
}
