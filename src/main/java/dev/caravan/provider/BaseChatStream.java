package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;

import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/** What every stream shares: one sink, one terminal signal, silence after cancel. */
abstract class BaseChatStream implements ChatStream {

    private final Map<String, String> headers;
    private final AtomicBoolean ended = new AtomicBoolean();
    protected volatile StreamSink sink;
    protected volatile boolean cancelled;
    // an upstream may end or fail before the sink is attached; the ending waits for it
    private GatewayException earlyFailure;
    private boolean earlyCompletion;

    BaseChatStream(Map<String, String> headers) {
        this.headers = Map.copyOf(headers);
    }

    @Override
    public Map<String, String> headers() {
        return headers;
    }

    @Override
    public void start(StreamSink sink) {
        GatewayException pending;
        synchronized (this) {
            if (this.sink != null) {
                throw new IllegalStateException("a stream has one sink");
            }
            this.sink = sink;
            pending = earlyFailure;
        }
        if (pending != null && !cancelled) {
            sink.onError(pending);
        } else if (earlyCompletion && !cancelled) {
            sink.onComplete();
        }
    }

    protected boolean isOpen() {
        return !ended.get() && !cancelled;
    }

    protected void emit(ObjectNode chunk) {
        if (isOpen()) {
            sink.onChunk(chunk);
        }
    }

    protected void complete() {
        if (ended.compareAndSet(false, true) && !cancelled) {
            StreamSink s;
            synchronized (this) {
                s = sink;
                if (s == null) {
                    earlyCompletion = true;
                    return;
                }
            }
            s.onComplete();
        }
    }

    protected void fail(GatewayException error) {
        if (ended.compareAndSet(false, true) && !cancelled) {
            StreamSink s;
            synchronized (this) {
                s = sink;
                if (s == null) {
                    earlyFailure = error;
                    return;
                }
            }
            s.onError(error);
        }
    }

    @Override
    public void cancel() {
        cancelled = true;
        boolean wasOpen = !ended.getAndSet(true);
        onCancel(wasOpen);
    }

    /** Releases the upstream: close the connection, stop timers. {@code wasOpen} is false after a normal end. */
    protected abstract void onCancel(boolean wasOpen);
}
