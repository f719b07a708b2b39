package dev.caravan.stream;

import dev.caravan.usage.CanonicalText;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.provider.ChatStream;
import dev.caravan.provider.StreamSink;
import dev.caravan.usage.Usage;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What a stream is besides its bytes: the call step's answer when the client asked for a stream, between the
 * upstream's {@link ChatStream} and whoever writes it (the HTTP relay). It reads the usage the upstream reports or
 * estimates it from the text, times the first token, runs the policies' stream hooks on each canonical chunk, and
 * tells its listeners once how it ended. After {@link #start} every signal runs on the writer's event loop.
 */
public final class MeteredStream implements ChatStream {

    /** How a stream ended; ABANDONED: the route failed after the upstream answered, nothing was relayed. */
    public enum Outcome { COMPLETED, CLIENT_CLOSED, UPSTREAM_ERROR, IDLE_TIMEOUT, POLICY_ENDED, ABANDONED }

    /** How a stream ended, for post-processing. {@code ttftNanos} is -1 when no content arrived. */
    public record End(Outcome outcome, Usage usage, long ttftNanos, GatewayException error) {
    }

    // the completion text kept for a token estimate in case the upstream reports no usage; past this, 4 chars a token
    private static final int MAX_KEPT_TEXT = 1 << 20;

    private final ChatStream upstream;
    private final Function<CharSequence, Usage> estimate;
    private final long requestStartNanos;
    private final boolean free; // an answer the gateway already had (a cache hit): its usage is shown, never charged
    private final List<Consumer<End>> endListeners = new CopyOnWriteArrayList<>();
    private volatile List<StreamHook> hooks = List.of(); // set on the request's thread, read on the writer's loop

    // confined to the writer's loop once started
    private StreamSink sink;
    private Executor loop;
    private boolean started;
    private boolean ended;
    private long wanted;              // chunks the writer asked for and has not had
    private boolean asked;            // one chunk is asked of the upstream
    private boolean draining;         // a delivery is on the stack: a request from inside it only adds demand
    private boolean upstreamDone;     // the upstream (or a hook) ended; the terminal waits for pending chunks
    private GatewayException terminalError;
    private Outcome terminalOutcome;
    // chunks hooks released and the writer has not asked for yet: bounded by what one hook releases at once
    private final ArrayDeque<ObjectNode> pending = new ArrayDeque<>(2);
    private volatile long lastUpstreamNanos;
    private long ttftNanos = -1;
    private Usage usage = Usage.NONE;
    private final StringBuilder completionText = new StringBuilder();
    private long textBeyondKept;

    /** @param estimate usage from the completion text, for an upstream that reports none */
    public MeteredStream(ChatStream upstream, Function<CharSequence, Usage> estimate, long requestStartNanos) {
        this(upstream, estimate, requestStartNanos, false);
    }

    /** @param free the answer costs nothing (a cache hit): the end reports no usage, whatever the chunks show */
    public MeteredStream(ChatStream upstream, Function<CharSequence, Usage> estimate, long requestStartNanos,
                         boolean free) {
        this.upstream = upstream;
        this.estimate = estimate;
        this.requestStartNanos = requestStartNanos;
        this.free = free;
    }

    /** The hooks each chunk passes through, in order; set before the stream starts (the after-call step). */
    public void hooks(List<StreamHook> hooks) {
        this.hooks = List.copyOf(hooks);
    }

    @Override
    public Map<String, String> headers() {
        return upstream.headers();
    }

    /** Runs once when the stream ends, however it ends; in the order added. */
    public void onEnd(Consumer<End> listener) {
        endListeners.add(listener);
    }

    /** The usage so far; final once the terminal signal reached the sink. */
    public Usage usage() {
        return usage;
    }

    /** When the upstream last sent something (a chunk a hook dropped counts: the upstream was not silent). */
    public long lastUpstreamNanos() {
        return lastUpstreamNanos;
    }

    @Override
    public void start(StreamSink sink) {
        throw new UnsupportedOperationException("a metered stream starts on its writer's loop: start(sink, loop)");
    }

    /** Attaches the writer; every signal to it runs on {@code loop}, where it calls {@link #request} and the rest. */
    public void start(StreamSink sink, Executor loop) {
        this.sink = sink;
        this.loop = loop;
        this.started = true;
        lastUpstreamNanos = System.nanoTime();
        upstream.start(new StreamSink() {
            @Override
            public void onChunk(ObjectNode chunk) {
                loop.execute(() -> upstreamChunk(chunk));
            }

            @Override
            public void onComplete() {
                loop.execute(MeteredStream.this::upstreamComplete);
            }

            @Override
            public void onError(GatewayException error) {
                loop.execute(() -> terminal(Outcome.UPSTREAM_ERROR, error));
            }
        });
    }

    @Override
    public void request(long n) {
        if (ended) {
            return;
        }
        wanted += n;
        drain();
    }

    /** The writer stops the stream (client gone): the upstream is released and the listeners hear it. */
    @Override
    public void cancel() {
        stop(Outcome.CLIENT_CLOSED, null);
    }

    /** The writer ended the stream for its own reason (client gone, idle upstream); nothing more is delivered. */
    public void stop(Outcome outcome, GatewayException error) {
        if (ended) {
            return;
        }
        if (outcome == Outcome.CLIENT_CLOSED && started && !upstreamDone && hooksKeepUpstream()) {
            readOnWithoutClient();
            return;
        }
        upstream.cancel();
        end(outcome, error);
    }

    // the client left but a hook needs the rest (requests waiting on this one): read on, write nothing
    private static final long HEADLESS_SILENCE_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    private boolean headless;

    private boolean hooksKeepUpstream() {
        for (StreamHook hook : hooks) {
            try {
                if (hook.keepsUpstream()) {
                    return true;
                }
            } catch (RuntimeException e) {
                return false;
            }
        }
        return false;
    }

    private void readOnWithoutClient() {
        headless = true;
        sink = new StreamSink() {
            @Override
            public void onChunk(ObjectNode chunk) {
            }

            @Override
            public void onComplete() {
            }

            @Override
            public void onError(GatewayException error) {
            }
        };
        wanted = Long.MAX_VALUE / 2;
        watchHeadless();
        drain();
    }

    /** Nobody's idle timer guards a stream without its client: this one gives up after a minute of silence. */
    private void watchHeadless() {
        if (loop instanceof java.util.concurrent.ScheduledExecutorService timer) {
            timer.schedule(() -> {
                if (ended) {
                    return;
                }
                if (System.nanoTime() - lastUpstreamNanos > HEADLESS_SILENCE_NANOS || !hooksKeepUpstream()) {
                    upstream.cancel();
                    end(Outcome.CLIENT_CLOSED, null);
                } else {
                    watchHeadless();
                }
            }, 1, java.util.concurrent.TimeUnit.SECONDS);
        }
    }

    /** The route failed after the upstream answered: release it; nothing was relayed. */
    public void abandon() {
        if (!started && !ended) { // not started: no loop owns this stream yet
            upstream.cancel();
            end(Outcome.ABANDONED, null);
        }
    }

    private void upstreamChunk(ObjectNode chunk) {
        if (ended || upstreamDone) {
            return;
        }
        if (headless && !hooksKeepUpstream()) { // nobody waits any more: stop reading
            upstream.cancel();
            end(Outcome.CLIENT_CLOSED, null);
            return;
        }
        asked = false;
        lastUpstreamNanos = System.nanoTime();
        meter(chunk);
        pass(0, chunk);
        drain();
    }

    private void upstreamComplete() {
        if (ended || upstreamDone) {
            return;
        }
        // each hook releases what it holds, through the hooks after it
        for (int i = 0; i < hooks.size() && !upstreamDone; i++) {
            try {
                hooks.get(i).onComplete(out(i + 1));
            } catch (RuntimeException e) {
                out(i + 1).fail(hookFailed(e));
            }
        }
        terminal(Outcome.COMPLETED, null);
    }

    /** Chunk through hooks {@code from}.. in order; what the last emits waits for the writer's demand. */
    private void pass(int from, ObjectNode chunk) {
        if (upstreamDone) {
            return;
        }
        if (from == hooks.size()) {
            pending.add(chunk);
            return;
        }
        try {
            hooks.get(from).onChunk(chunk, out(from + 1));
        } catch (RuntimeException e) {
            out(from + 1).fail(hookFailed(e)); // a broken hook ends its stream with an error, never the loop
        }
    }

    private static GatewayException hookFailed(RuntimeException e) {
        if (e instanceof GatewayException g) {
            return g;
        }
        org.slf4j.LoggerFactory.getLogger(MeteredStream.class).warn("A stream hook failed: {}", e.toString());
        return new GatewayException(500, "server_error", "policy_failed", "A policy failed inside the gateway.");
    }

    private StreamHook.Out out(int next) {
        return new StreamHook.Out() {
            @Override
            public void emit(ObjectNode chunk) {
                pass(next, chunk);
            }

            @Override
            public void fail(GatewayException error) {
                if (!upstreamDone) {
                    upstream.cancel();
                    // what the hooks released before the stop still reaches the client (a guardrail's text before
                    // its finding, its content_filter finish); nothing after it does: the upstream is cancelled
                    terminal(Outcome.POLICY_ENDED, error);
                }
            }
        };
    }

    private void terminal(Outcome outcome, GatewayException error) {
        if (ended || upstreamDone) {
            return;
        }
        upstreamDone = true;
        terminalOutcome = outcome;
        terminalError = error;
        drain();
    }

    /** Hands pending chunks to the writer as it asks; asks the upstream when none is pending (a drop asks again). */
    private void drain() {
        if (draining || ended || !started) {
            return;
        }
        draining = true;
        try {
            while (wanted > 0 && !pending.isEmpty() && !ended) {
                wanted--;
                sink.onChunk(pending.poll());
            }
        } finally {
            draining = false;
        }
        if (ended) {
            return;
        }
        if (upstreamDone) {
            if (pending.isEmpty()) {
                deliverTerminal();
            }
        } else if (wanted > 0 && pending.isEmpty() && !asked) {
            asked = true;
            upstream.request(1);
        }
    }

    private void deliverTerminal() {
        countUsage();
        if (terminalError == null) {
            sink.onComplete();
        } else {
            sink.onError(terminalError);
        }
        // read on without its client: the client saw a cut stream, whatever the upstream did after
        end(headless ? Outcome.CLIENT_CLOSED : terminalOutcome, terminalError);
    }

    private void meter(ObjectNode chunk) {
        JsonNode u = chunk.get("usage");
        if (u != null && u.isObject()) {
            usage = Usage.fromOpenAi(u);
        } else if (usage.isEmpty()) {
            keepText(chunk);
        }
        if (ttftNanos < 0 && hasContent(chunk)) {
            ttftNanos = lastUpstreamNanos - requestStartNanos;
        }
    }

    private void keepText(ObjectNode chunk) {
        for (JsonNode choice : chunk.path("choices")) {
            CanonicalText.eachGenerated(choice.path("delta"), keeper);
        }
    }

    // one sink for every chunk: nothing allocated per chunk
    private final java.util.function.Consumer<String> keeper = this::keep;

    private void keep(String text) {
        if (completionText.length() + text.length() <= MAX_KEPT_TEXT) {
            completionText.append(text);
        } else {
            textBeyondKept += text.length();
        }
    }

    private static boolean hasContent(ObjectNode chunk) {
        for (JsonNode choice : chunk.path("choices")) {
            JsonNode delta = choice.path("delta");
            if (delta.path("content").asText("").length() > 0 || delta.has("tool_calls")
                    || delta.path("reasoning_content").asText("").length() > 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Usage from the stream, or counted from what was relayed when the upstream sent none, however the stream ended:
     * a client that leaves early, an error or an idle timeout must not make the tokens spent free.
     */
    private void countUsage() {
        if (usage.isEmpty()) {
            Usage counted = estimate.apply(completionText);
            long beyond = textBeyondKept / 4;
            usage = new Usage(counted.promptTokens(), counted.completionTokens() + beyond,
                    counted.totalTokens() + beyond, 0, 0, true);
        }
    }

    private void end(Outcome outcome, GatewayException error) {
        if (ended) {
            return;
        }
        ended = true;
        if (outcome != Outcome.ABANDONED) {
            countUsage();
        }
        End end = new End(outcome, free ? Usage.NONE : usage, ttftNanos, error);
        RuntimeException failed = null;
        for (Consumer<End> listener : endListeners) {
            try {
                listener.accept(end);
            } catch (RuntimeException e) { // the later listeners (the open-stream count among them) still hear it
                if (failed == null) {
                    failed = e;
                } else {
                    failed.addSuppressed(e);
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }
}
