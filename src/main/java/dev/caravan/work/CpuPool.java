package dev.caravan.work;

import dev.caravan.core.GatewayException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.util.concurrent.EventExecutor;

import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Where CPU-heavy steps run (token counts today; embeddings and guardrail models next), never on an event loop: one
 * 1 MiB prompt takes up to 2 s to tokenize, and on a loop it stalls every request of that loop. A fixed pool of
 * daemon threads ({@code caravan-cpu-N}) with a bounded queue; the result hops back to the event loop that asked, so
 * the request carries on where it was. When the queue is full the caller learns it at once ({@link #busy}) and
 * chooses: refuse with 503 or do a cheaper, bounded version of the work itself.
 */
public final class CpuPool implements AutoCloseable {

    private final ThreadPoolExecutor executor;
    private final Iterable<? extends EventExecutor> loops;
    private final Counter rejected;

    /**
     * @param threads one per core: the work is CPU-bound, more threads only take turns
     * @param queue   tasks waiting for a thread; past it new work is refused, so a burst of huge counts cannot
     *                queue minutes of work (nor its memory) behind itself
     * @param loops   the event loops whose callers get their result back on their own loop
     */
    public CpuPool(int threads, int queue, Iterable<? extends EventExecutor> loops, MeterRegistry meters) {
        AtomicInteger n = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queue), r -> {
                    Thread t = new Thread(r, "caravan-cpu-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.AbortPolicy());
        this.loops = loops;
        Gauge.builder("caravan.cpu.queue", executor, e -> e.getQueue().size())
                .description("CPU-heavy tasks waiting for a thread of the caravan-cpu pool").register(meters);
        this.rejected = Counter.builder("caravan.cpu.rejected")
                .description("CPU-heavy tasks refused because the caravan-cpu queue was full").register(meters);
    }

    /** Whether {@code e} is the refusal of a full pool. */
    public static boolean isBusy(Throwable e) {
        return e instanceof Busy;
    }

    /**
     * Runs {@code work} on the pool. The future completes on the calling event loop (or on the pool thread when the
     * caller is on none); with {@link Busy}, a 503 with Retry-After, when the queue is full.
     */
    public <T> CompletableFuture<T> submit(Supplier<T> work) {
        Task<T> task = new Task<>(work, callerLoop());
        try {
            executor.execute(task);
        } catch (RejectedExecutionException full) {
            rejected.increment();
            task.result.completeExceptionally(new Busy());
        }
        return task.result;
    }

    /** One piece of work and where its result goes. */
    private static final class Task<T> implements Runnable {
        final CompletableFuture<T> result = new CompletableFuture<>();
        private final Supplier<T> work;
        private final Executor back;

        Task(Supplier<T> work, Executor back) {
            this.work = work;
            this.back = back;
        }

        @Override
        public void run() {
            T value = null;
            Throwable failure = null;
            try {
                value = work.get();
            } catch (Throwable t) {
                failure = t;
            }
            T v = value;
            Throwable f = failure;
            Runnable deliver = () -> {
                if (f != null) {
                    result.completeExceptionally(f);
                } else {
                    result.complete(v);
                }
            };
            try {
                back.execute(deliver);
            } catch (RejectedExecutionException loopGone) {
                deliver.run(); // the loop is shutting down: complete here rather than never
            }
        }

        void abandon() {
            result.completeExceptionally(new Busy());
        }
    }

    /** As {@link #submit}, but a full pool runs {@code instead} (cheap, bounded work) on the calling thread. */
    public <T> CompletableFuture<T> submitOr(Supplier<T> work, Supplier<T> instead) {
        CompletableFuture<T> submitted = submit(work);
        if (submitted.isCompletedExceptionally() && submitted.handle((v, e) -> isBusy(e)).join()) {
            try {
                return CompletableFuture.completedFuture(instead.get());
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        return submitted;
    }

    private Executor callerLoop() {
        for (EventExecutor loop : loops) {
            if (loop.inEventLoop()) {
                return loop;
            }
        }
        return Runnable::run;
    }

    /** Stops the threads; work still queued is answered as refused, so no caller waits for it forever. */
    @Override
    public void close() {
        for (Runnable queued : executor.shutdownNow()) {
            if (queued instanceof Task<?> task) {
                task.abandon();
            }
        }
    }

    /** The pool's queue is full: the caller may retry in a second. */
    public static final class Busy extends GatewayException {
        Busy() {
            super(503, "api_error", "gateway_busy", null,
                    "The gateway has too much CPU-heavy work queued (token counting); retry shortly.",
                    Map.of("Retry-After", "1"));
        }
    }
}
