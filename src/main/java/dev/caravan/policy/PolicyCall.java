package dev.caravan.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One request as the policies see it: what is asked, by whom, of which model. Made by the before-call step only
 * when a policy is configured, and carried on the exchange to the after-call step, the stream and the end.
 */
public final class PolicyCall {

    private final PolicyChain chain;
    private final long enabled;
    private final String requestId;
    private final String operation;
    private final boolean anthropic;
    private final boolean streaming;
    private final String model;
    private final String keyId;
    private final String team;
    private volatile ObjectNode request;
    private volatile long ran; // written on the request's loop, read when the stream or the request ends
    private final AtomicBoolean ended = new AtomicBoolean();
    private Map<String, Object> attributes; // one entry per policy by convention: bounded by the chain

    PolicyCall(PolicyChain chain, long enabled, String requestId, String operation, boolean anthropic,
               boolean streaming, String model, String keyId, String team, ObjectNode request) {
        this.chain = chain;
        this.enabled = enabled;
        this.requestId = requestId;
        this.operation = operation;
        this.anthropic = anthropic;
        this.streaming = streaming;
        this.model = model;
        this.keyId = keyId;
        this.team = team;
        this.request = request;
    }

    public String requestId() {
        return requestId;
    }

    /** {@code chat} (chat completions and /v1/messages), {@code embeddings} or {@code count_tokens}. */
    public String operation() {
        return operation == null ? "chat" : operation;
    }

    /** The client speaks Anthropic's Messages API (errors and streams are rendered in its shape). */
    public boolean anthropicClient() {
        return anthropic;
    }

    public boolean streaming() {
        return streaming;
    }

    /** The model name the client asked for (the routed one; a policy cannot re-route). */
    public String model() {
        return model;
    }

    public String keyId() {
        return keyId;
    }

    /** The key's team, or null. */
    public String team() {
        return team;
    }

    /** The canonical (OpenAI-shaped) request as the call will send it, after earlier policies' changes. */
    public ObjectNode request() {
        return request;
    }

    /** A policy's own state for this request, between its hooks (e.g. a cache key from before to after). */
    public synchronized Object attribute(String name) {
        return attributes == null ? null : attributes.get(name);
    }

    public synchronized void attribute(String name, Object value) {
        if (attributes == null) {
            attributes = new HashMap<>(4);
        }
        attributes.put(name, value);
    }

    PolicyChain chain() {
        return chain;
    }

    boolean enabled(int index) {
        return (enabled & (1L << index)) != 0;
    }

    boolean ran(int index) {
        return (ran & (1L << index)) != 0;
    }

    void ran(int index, boolean yes) {
        ran = yes ? ran | (1L << index) : ran;
    }

    void request(ObjectNode changed) {
        request = changed;
    }

    /** True the first time only: the end-hooks run once however many ways the request is seen to end. */
    boolean end() {
        return ended.compareAndSet(false, true);
    }
}
