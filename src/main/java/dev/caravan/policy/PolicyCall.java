package dev.caravan.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ModelConfig;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
    private final java.util.Set<String> regions;
    private final ModelConfig modelConfig;
    private final List<DeploymentConfig> deployments;
    private volatile ObjectNode request;
    private final dev.caravan.core.ClientRequest client;
    private final com.fasterxml.jackson.databind.JsonNode controls;
    private final boolean passesThrough;
    private final String ingress;
    private volatile Map<String, String> responseHeaders; // bounded: a handful of names, set by the policies
    private volatile long ran; // written on the request's loop, read when the stream or the request ends
    private final AtomicBoolean ended = new AtomicBoolean();
    private Map<String, Object> attributes; // one entry per policy by convention: bounded by the chain

    PolicyCall(PolicyChain chain, long enabled, String requestId, String operation, boolean anthropic,
               boolean streaming, ModelConfig modelConfig, List<DeploymentConfig> deployments, String keyId,
               String team, java.util.Set<String> regions, ObjectNode request, dev.caravan.core.ClientRequest client,
               com.fasterxml.jackson.databind.JsonNode controls, boolean passesThrough, String ingress) {
        this.chain = chain;
        this.enabled = enabled;
        this.requestId = requestId;
        this.operation = operation;
        this.anthropic = anthropic;
        this.streaming = streaming;
        this.model = modelConfig == null ? null : modelConfig.name();
        this.modelConfig = modelConfig;
        this.deployments = deployments == null ? List.of() : deployments;
        this.keyId = keyId;
        this.team = team;
        this.regions = regions;
        this.request = request;
        this.client = client;
        this.controls = controls;
        this.passesThrough = passesThrough;
        this.ingress = ingress;
    }

    /** How the request came in: {@code http}, or its bus ({@code jms}, {@code amqp}, {@code kafka}). */
    public String ingress() {
        return ingress;
    }

    /**
     * Some deployment may get the client's own body rather than {@link #request()} ({@code caravan.passThrough}: a
     * hosted tool, a text completion for a server with {@code /completions}); its answer is the upstream's own.
     */
    public boolean passesThrough() {
        return passesThrough;
    }

    /** The size of the client's request body in bytes (0 when the door had none): what hashing it would cost. */
    public int requestBytes() {
        return client == null || client.body() == null ? 0 : client.body().length;
    }

    /**
     * A per-request control of Caravan's ({@code cache}, {@code fallbacks}): the header {@code x-caravan-<name>},
     * else the body's {@code caravan.<name>} (text as it is, an object or list as JSON), else null.
     */
    public String control(String name) {
        String header = client == null ? null : client.header("x-caravan-" + name);
        if (header != null) {
            return header;
        }
        com.fasterxml.jackson.databind.JsonNode body = controls == null ? null : controls.get(name);
        if (body == null || body.isNull()) {
            return null;
        }
        return body.isValueNode() ? body.asText() : body.toString();
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

    /** The routed model's config (its limits, its deployments), or null when the request named none it knows. */
    public ModelConfig modelConfig() {
        return modelConfig;
    }

    /**
     * The deployments the call step may try, ranked by the route step: what a policy prices a request at before the
     * call (the answering one is in {@link EndFacts#deployment()}). Fallback models' deployments are not in it.
     */
    public List<DeploymentConfig> deployments() {
        return deployments;
    }

    /** Adds a header to the answer the client gets, whatever it is (a success, a refusal, an upstream error). */
    public void responseHeader(String name, String value) {
        Map<String, String> headers = responseHeaders;
        if (headers == null) {
            synchronized (this) {
                if (responseHeaders == null) {
                    responseHeaders = new ConcurrentHashMap<>(8);
                }
                headers = responseHeaders;
            }
        }
        headers.put(name, value);
    }

    /** The headers the policies added, or null when none did. */
    public Map<String, String> responseHeaders() {
        return responseHeaders;
    }

    public String keyId() {
        return keyId;
    }

    /** The key's team, or null. */
    /** The regions the caller may be served in (null: any): what an answer it is given may have come from. */
    public java.util.Set<String> regions() {
        return regions;
    }

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
