package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.config.DeploymentConfig;
import io.netty.buffer.ByteBuf;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Map;

/**
 * An upstream's server-sent events as canonical chunks: the SSE framing, the demand and the back-pressure every
 * streaming adapter shares; a subclass translates one event at a time ({@link #onEvent}). All state lives on the
 * upstream connection's event loop; chunks wait in a short queue until the client asks for them, and past
 * {@link #HIGH_WATER} queued the connection stops reading.
 */
abstract class SseChatStream extends BaseChatStream {
    private static final int HIGH_WATER = 32;
    private static final int MAX_LINE = 8 * 1024 * 1024;
    // what an upstream may make the client's encoder hold, whatever its events say: OpenAI's n is at most 128;
    // a thousand tool calls and 16 MiB of their arguments are far past any model's output limit
    static final int MAX_CHOICES = 128;
    static final int MAX_TOOL_CALLS = 1024;
    static final long MAX_TOOL_ARGUMENT_CHARS = 16L * 1024 * 1024;

    protected final DeploymentConfig deployment;
    private final UpstreamClient.Call call;
    private final ArrayDeque<ObjectNode> ready = new ArrayDeque<>();
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
    private final StringBuilder data = new StringBuilder();
    private String eventName;
    private long demand;
    private boolean paused;
    private boolean finishSeen;
    private boolean doneSeen;
    private boolean ended;
    private Throwable endError;
    private GatewayException errorAfterQueued;
    private long toolArgumentChars;

    SseChatStream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call) {
        super(headers);
        this.deployment = deployment;
        this.call = call;
    }

    /**
     * One event: {@code event} is its {@code event:} field or null, {@code data} its joined {@code data:} lines.
     * Translates it with {@link #push}, {@link #finishSeen()}, {@link #done()} or {@link #endWith}.
     */
    protected abstract void onEvent(String event, String data);

    /** Called once when the upstream body ends cleanly, before the stream decides how it ended. */
    protected void onUpstreamEnd() {
    }

    /** A canonical chunk for the client; one past the stream's bounds ends the stream as garbage instead. */
    protected final void push(ObjectNode chunk) {
        if (!isOpen()) {
            return;
        }
        String problem = outOfBounds(chunk);
        if (problem != null) {
            garbage(problem);
            return;
        }
        ready.add(chunk);
    }

    private String outOfBounds(ObjectNode chunk) {
        JsonNode choices = chunk.path("choices");
        if (choices.size() > MAX_CHOICES) {
            return "more than " + MAX_CHOICES + " choices in one event";
        }
        for (JsonNode choice : choices) {
            if (!within(choice.path("index"), MAX_CHOICES)) {
                return "a choice index outside 0.." + (MAX_CHOICES - 1);
            }
            for (JsonNode toolCall : choice.path("delta").path("tool_calls")) {
                if (!within(toolCall.path("index"), MAX_TOOL_CALLS)) {
                    return "a tool-call index outside 0.." + (MAX_TOOL_CALLS - 1);
                }
                JsonNode arguments = toolCall.path("function").path("arguments");
                if (arguments.isTextual()) {
                    toolArgumentChars += arguments.textValue().length();
                    if (toolArgumentChars > MAX_TOOL_ARGUMENT_CHARS) {
                        return "tool-call arguments longer than " + MAX_TOOL_ARGUMENT_CHARS + " characters";
                    }
                }
            }
        }
        return null;
    }

    /** An index, when there is one, in [0, bound). */
    private static boolean within(JsonNode index, int bound) {
        return !index.isNumber() || (index.canConvertToInt() && index.asInt() >= 0 && index.asInt() < bound);
    }

    /**
     * The event a chunk was read from, for a stream passed through ({@link dev.caravan.core.PassThrough#EVENT}): the
     * client's writer relays it as the upstream wrote it, or changed where a policy changed the chunk's text.
     */
    protected static ObjectNode upstreamEvent(String event, String data, ObjectNode json) {
        ObjectNode raw = dev.caravan.core.Json.object();
        if (event == null) {
            raw.putNull("event");
        } else {
            raw.put("event", event);
        }
        return raw.put("data", data).set("json", json);
    }

    /** The model said why it stopped: a body that ends after this ended well even without a terminal event. */
    protected final void finishSeen() {
        finishSeen = true;
    }

    /** The terminal event: nothing after it counts, and the stream completes once the queue drains. */
    protected final void done() {
        doneSeen = true;
    }

    /**
     * The upstream said it failed (an error event): what it sent before still reaches the client, then the error.
     * Nothing more is read.
     */
    protected final void failAfterQueued(GatewayException error) {
        errorAfterQueued = error;
        doneSeen = true;
        call.cancel();
    }

    /** Ends the stream with an error now, dropping what is queued, and closes the upstream connection. */
    protected final void endWith(GatewayException error) {
        ready.clear();
        fail(error);
        call.cancel();
    }

    protected final void garbage(String what) {
        endWith(UpstreamErrors.garbage(deployment, what));
    }

    @Override
    public void request(long n) {
        call.runOnLoop(() -> {
            demand += n;
            drain();
        });
    }

    void feed(ByteBuf content) {
        if (!isOpen() || doneSeen) {
            return;
        }
        while (content.isReadable()) {
            byte b = content.readByte();
            if (b == '\n') {
                onLine(line.toString(StandardCharsets.UTF_8));
                line.reset();
                if (!isOpen()) {
                    return;
                }
            } else if (b != '\r') {
                if (line.size() >= MAX_LINE) {
                    garbage("an event line longer than " + MAX_LINE + " bytes");
                    return;
                }
                line.write(b);
            }
        }
        drain();
    }

    private void onLine(String text) {
        if (doneSeen) {
            return;
        }
        if (text.isEmpty()) {
            dispatch();
        } else if (text.startsWith("data:")) {
            if (data.length() + text.length() > MAX_LINE) {
                garbage("an event larger than " + MAX_LINE + " bytes");
                return;
            }
            if (!data.isEmpty()) {
                data.append('\n');
            }
            data.append(text, text.length() > 5 && text.charAt(5) == ' ' ? 6 : 5, text.length());
        } else if (text.startsWith("event:")) {
            eventName = text.substring(text.length() > 6 && text.charAt(6) == ' ' ? 7 : 6).trim();
        }
        // "id:", "retry:" and ":" comments carry nothing a chat stream needs
    }

    private void dispatch() {
        String event = eventName;
        eventName = null;
        if (data.isEmpty()) {
            return;
        }
        String payload = data.toString();
        data.setLength(0);
        onEvent(event, payload);
    }

    void upstreamEnded(Throwable error) {
        if (error == null) {
            onLine(""); // a last event without its blank line
            if (isOpen()) {
                onUpstreamEnd();
            }
        }
        ended = true;
        endError = error;
        drain();
    }

    private void drain() {
        while (demand > 0 && !ready.isEmpty() && isOpen()) {
            demand--;
            emit(ready.poll());
        }
        if (!isOpen()) {
            return;
        }
        if (ready.isEmpty() && errorAfterQueued != null) {
            fail(errorAfterQueued);
            return;
        }
        if (ready.isEmpty() && (ended || doneSeen)) {
            if (doneSeen || (endError == null && finishSeen)) {
                complete();
                if (!ended) {
                    call.setReading(true); // read the rest so the connection returns to the pool
                }
            } else {
                fail(UpstreamErrors.badGatewayMidStream(deployment));
            }
            return;
        }
        boolean full = ready.size() >= HIGH_WATER;
        if (full != paused) {
            paused = full;
            call.setReading(!full);
        }
    }

    @Override
    protected void onCancel(boolean wasOpen) {
        if (wasOpen) {
            call.cancel();
        }
    }
}
