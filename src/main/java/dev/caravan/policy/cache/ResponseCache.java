package dev.caravan.policy.cache;

import dev.caravan.work.CpuPool;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.LoggerFactory;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * One gateway's cache state, which outlives config reloads (each reload makes a new {@link CachePolicy} over it):
 * the store of answers, the requests in flight, the semantic index (made on first use: its model loads in about a
 * second and takes ~110 MB, so a gateway that never turns the semantic cache on never loads it), and the metrics.
 */
public final class ResponseCache implements AutoCloseable {

    private final ResponseStore store;
    private final Flights flights = new Flights();
    private final CacheMeters meters;
    private final CpuPool cpu;
    private final Supplier<SemanticSide> semanticFactory;
    private volatile SemanticSide semantic;
    private final AtomicBoolean preparing = new AtomicBoolean();
    private volatile boolean failed; // a model that cannot load is said once, not tried on every request

    /** @param cpu where large requests are hashed (null: on the caller's thread) */
    public ResponseCache(ResponseStore store, Supplier<SemanticSide> semanticFactory, MeterRegistry registry,
                         CpuPool cpu) {
        this.store = store;
        this.cpu = cpu;
        this.semanticFactory = semanticFactory;
        this.meters = new CacheMeters(registry, this);
    }

    ResponseStore store() {
        return store;
    }

    CpuPool cpu() {
        return cpu;
    }

    Flights flights() {
        return flights;
    }

    CacheMeters meters() {
        return meters;
    }

    /**
     * The semantic side, or null while it is being made (its model loads off the request path, in about a second; a
     * request meanwhile is served by the exact cache alone, and the first one asks for it to be made).
     */
    SemanticSide semantic() {
        SemanticSide s = semantic;
        if (s == null) {
            prepareSemantic();
        }
        return s;
    }

    private synchronized void makeSemantic() {
        if (semantic == null) {
            try {
                semantic = semanticFactory.get();
            } catch (RuntimeException | LinkageError e) {
                LoggerFactory.getLogger(ResponseCache.class).warn("The semantic cache cannot start ({}); the exact cache serves alone", e.toString());
                failed = true;
            } finally {
                preparing.set(false);
            }
        }
    }

    /** Makes the semantic side now, off the request path (a config that turns it on, at start or on reload). */
    public void prepareSemantic() {
        if (semantic != null || failed || !preparing.compareAndSet(false, true)) {
            return;
        }
        Thread warm = new Thread(this::makeSemantic, "caravan-semantic-warm-up");
        warm.setDaemon(true);
        warm.start();
    }

    double semanticEntries() {
        SemanticSide s = semantic;
        return s == null ? 0 : s.entries();
    }

    /** {@code DELETE /admin/cache}: every entry whose namespace and model match (null matches any); how many went. */
    public CompletionStage<Long> clear(String namespace, String model) {
        SemanticSide s = semantic;
        if (s != null) {
            s.clear(namespace, model);
        }
        return store.clear(namespace, model).exceptionally(e -> 0L); // the answers removed; their vectors went with them
    }

    @Override
    public void close() {
        store.close();
        SemanticSide s = semantic;
        if (s != null) {
            s.close();
        }
    }

    static <T> CompletableFuture<T> done(T value) {
        return CompletableFuture.completedFuture(value);
    }
}
