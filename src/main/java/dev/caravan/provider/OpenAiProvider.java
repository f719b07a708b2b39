package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.core.PassThrough;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.usage.Usage;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * OpenAI's chat-completions wire, which is also the canonical shape: the body passes through with the model name
 * swapped for the deployment's, so fields the gateway does not model reach the upstream untouched. Serves every
 * host of that wire; {@link Host} holds what differs between them (URL, credential header, known quirks). A request
 * the canonical one does not model is passed through to the upstream's own {@code /responses} or {@code /completions}
 * as the client wrote it, model swapped ({@link ResponsesWire}, {@link CompletionsWire} read the answer back).
 */
public final class OpenAiProvider implements Provider {

    /** Where the OpenAI wire is spoken, how the credential travels, and which quirks are smoothed over. */
    public enum Host {
        /** OpenAI: {@code <baseUrl>/chat/completions}, a bearer token. */
        OPENAI,
        /** Azure OpenAI: the deployment in the path, an {@code api-version}, an {@code api-key} header. */
        AZURE,
        /**
         * Mistral: no {@code stream_options} (usage always rides on the stream's finish chunk, and is moved to a
         * chunk of its own), {@code max_tokens}, {@code random_seed} and {@code output_dimension} under their own
         * names, {@code "any"} for a required tool, tool-call ids of exactly nine letters and digits, no OpenAI-only
         * fields, embeddings asked as floats (base64 is encoded here).
         */
        MISTRAL,
        /**
         * A generic OpenAI-compatible server (vLLM, Ollama, LM Studio, Together...): {@code max_tokens} for
         * {@code max_completion_tokens}; tool calls without an index or id get them (a unique id, the next index for
         * a call that names its function); a tool-call turn that ends with "stop" ends with "tool_calls".
         */
        COMPATIBLE
    }

    // OpenAI-only request fields Mistral refuses ("extra inputs are not permitted")
    private static final List<String> NOT_FOR_MISTRAL = List.of("user", "safety_identifier", "logit_bias", "logprobs",
            "top_logprobs", "service_tier", "store", "metadata", "modalities", "audio", "reasoning_effort", "verbosity",
            "web_search_options", "stream_options");

    private final UpstreamPost post;
    private final Host host;

    public OpenAiProvider(UpstreamClient http, Host host) {
        this.post = new UpstreamPost(http);
        this.host = host;
    }

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        ObjectNode body = upstreamBody(call);
        body.remove("stream");
        body.remove("stream_options");
        return post.json(call, uri(call, "chat/completions"), headers(call, "application/json"), body,
                        answer -> answer.has("choices"), "a chat completion")
                .thenApply(answer -> {
                    if (host == Host.COMPATIBLE) {
                        for (JsonNode choice : answer.body().path("choices")) {
                            fixToolCallTurn((ObjectNode) choice, choice.path("message"));
                        }
                    }
                    return new ChatResult(answer.body(), answer.headers(), Usage.fromOpenAi(answer.body().get("usage")));
                });
    }

    @Override
    public CompletableFuture<ChatResult> embeddings(ChatCall call) {
        ObjectNode body = upstreamBody(call);
        boolean base64 = "base64".equals(body.path("encoding_format").asText());
        if (host == Host.MISTRAL) {
            body.remove("encoding_format"); // floats only: the gateway encodes base64 itself
            body.remove("user");
            JsonNode dimensions = body.remove("dimensions");
            if (dimensions != null) {
                body.set("output_dimension", dimensions);
            }
        }
        return post.json(call, uri(call, "embeddings"), headers(call, "application/json"), body,
                        answer -> answer.path("data").isArray(), "an embeddings list")
                .thenApply(answer -> {
                    if (base64 && host == Host.MISTRAL) {
                        Embeddings.floatsToBase64(answer.body());
                    }
                    return new ChatResult(answer.body(), answer.headers(), Usage.fromOpenAi(answer.body().get("usage")));
                });
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body = upstreamBody(call);
        body.put("stream", true);
        if (host != Host.MISTRAL) {
            // ask for usage so it is counted; the relay to the client hides it again if the client did not ask
            ((ObjectNode) body.with("stream_options")).put("include_usage", true);
        }
        return post.stream(call, uri(call, "chat/completions"), headers(call, "text/event-stream"), body,
                (headers, upstream) -> new OpenAiSseStream(deployment, headers, upstream, host == Host.COMPATIBLE));
    }

    @Override
    public CompletableFuture<ChatResult> passThrough(ChatCall call, String endpoint) {
        ObjectNode body = passedBody(call);
        body.remove("stream");
        body.remove("stream_options");
        boolean responses = PassThrough.RESPONSES.equals(endpoint);
        return post.json(call, uri(call, endpoint), headers(call, "application/json"), body,
                        answer -> responses ? answer.path("output").isArray() : answer.has("choices"),
                        responses ? "a response" : "a text completion")
                .thenApply(answer -> responses
                        ? new ChatResult(ResponsesWire.view(answer.body()), answer.headers(),
                                Usage.fromResponses(answer.body().get("usage")), answer.body())
                        : new ChatResult(CompletionsWire.view(answer.body()), answer.headers(),
                                Usage.fromOpenAi(answer.body().get("usage")), answer.body()));
    }

    @Override
    public CompletableFuture<ChatStream> passThroughStream(ChatCall call, String endpoint) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body = passedBody(call);
        body.put("stream", true);
        boolean responses = PassThrough.RESPONSES.equals(endpoint);
        if (!responses) {
            // usage is counted; the client's writer hides it again if the client did not ask (response.completed
            // carries it on the Responses stream)
            ((ObjectNode) body.with("stream_options")).put("include_usage", true);
        }
        return post.stream(call, uri(call, endpoint), headers(call, "text/event-stream"), body,
                (headers, upstream) -> responses ? new ResponsesWire.Stream(deployment, headers, upstream)
                        : new CompletionsWire.Stream(deployment, headers, upstream));
    }

    /** The client's own body with the deployment's model: nothing else is changed. */
    private static ObjectNode passedBody(ChatCall call) {
        ObjectNode body = call.body().deepCopy();
        body.put("model", call.deployment().model());
        return body;
    }

    private URI uri(ChatCall call, String operation) {
        DeploymentConfig deployment = call.deployment();
        if (host == Host.AZURE) {
            return URI.create(deployment.provider().baseUrl() + "/openai/deployments/"
                    + URLEncoder.encode(deployment.model(), StandardCharsets.UTF_8)
                    + "/" + operation + "?api-version=" + deployment.provider().apiVersion());
        }
        return URI.create(deployment.provider().baseUrl() + "/" + operation);
    }

    private HttpHeaders headers(ChatCall call, String accept) {
        HttpHeaders headers = UpstreamPost.headers(call, accept);
        String key = call.deployment().provider().apiKey();
        if (key != null) {
            if (host == Host.AZURE) {
                headers.set("api-key", key);
            } else {
                headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + key);
            }
        }
        return headers;
    }

    private ObjectNode upstreamBody(ChatCall call) {
        ObjectNode body = call.body().deepCopy();
        body.put("model", call.deployment().model());
        if (host == Host.MISTRAL || host == Host.COMPATIBLE) {
            JsonNode maxCompletion = body.remove("max_completion_tokens");
            if (maxCompletion != null && !body.has("max_tokens")) {
                body.set("max_tokens", maxCompletion);
            }
        }
        if (host == Host.MISTRAL) {
            NOT_FOR_MISTRAL.forEach(body::remove);
            JsonNode seed = body.remove("seed");
            if (seed != null) {
                body.set("random_seed", seed);
            }
            if ("required".equals(body.path("tool_choice").asText())) {
                body.put("tool_choice", "any");
            }
            MistralToolIds.rewrite(body.path("messages"));
        }
        return body;
    }

    /** A tool-call turn some servers end with "stop"; tool calls some servers send without an id or a type. */
    private static void fixToolCallTurn(ObjectNode choice, JsonNode message) {
        JsonNode calls = message.path("tool_calls");
        if (!calls.isArray() || calls.isEmpty()) {
            return;
        }
        for (JsonNode c : calls) {
            if (c instanceof ObjectNode call) {
                if (call.path("id").asText("").isEmpty()) {
                    call.put("id", newToolCallId());
                }
                if (!call.has("type")) {
                    call.put("type", "function");
                }
            }
        }
        if ("stop".equals(choice.path("finish_reason").asText())) {
            choice.put("finish_reason", "tool_calls");
        }
    }

    /**
     * An id for a tool call the server left without one. Unique, not positional: a conversation replays every
     * turn's calls, and providers a fallback may reach (Anthropic) refuse a repeated id.
     */
    static String newToolCallId() {
        return "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }

    /**
     * OpenAI's SSE events, already canonical; usage sent inside a content chunk (Mistral) moves to its own last
     * chunk, and a compatible server's tool-call deltas are completed on the way.
     */
    static final class OpenAiSseStream extends SseChatStream {
        private final boolean fixToolCalls;
        private boolean toolCallsSeen;
        private int toolCallsStarted;
        private ObjectNode pendingUsage;

        OpenAiSseStream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call,
                        boolean fixToolCalls) {
            super(deployment, headers, call);
            this.fixToolCalls = fixToolCalls;
        }

        @Override
        protected void onEvent(String event, String data) {
            if (data.equals("[DONE]")) {
                flushUsage();
                done();
                return;
            }
            ObjectNode chunk = Json.parseObjectOrNull(data);
            if (chunk == null) {
                garbage("a stream event that is not JSON");
                return;
            }
            if (chunk.has("error")) {
                failAfterQueued(UpstreamErrors.fromStatus(deployment, 500, Json.bytes(chunk), Map.of()));
                return;
            }
            for (JsonNode choice : chunk.path("choices")) {
                if (fixToolCalls) {
                    fixDelta((ObjectNode) choice);
                }
                if (choice.hasNonNull("finish_reason")) {
                    finishSeen();
                }
            }
            if (chunk.path("usage").isObject() && !chunk.path("choices").isEmpty()) {
                // OpenAI's contract is a last chunk with no choices carrying usage; openai-java's accumulator reads
                // a chunk with usage as that one and drops its choices (Mistral's finish_reason, a whole tool call)
                pendingUsage = chunk.deepCopy();
                pendingUsage.putArray("choices");
                chunk.putNull("usage");
            } else if (chunk.has("usage") && chunk.path("choices").isEmpty()) {
                pendingUsage = null; // the server's own usage chunk
            }
            push(chunk);
        }

        @Override
        protected void onUpstreamEnd() {
            flushUsage(); // a server that ends after its finish chunk without [DONE]
        }

        private void flushUsage() {
            if (pendingUsage != null) {
                push(pendingUsage);
                pendingUsage = null;
            }
        }

        private void fixDelta(ObjectNode choice) {
            JsonNode calls = choice.path("delta").path("tool_calls");
            if (calls.isArray()) {
                for (JsonNode c : calls) {
                    if (!(c instanceof ObjectNode call)) {
                        continue;
                    }
                    boolean starts = call.path("function").has("name");
                    if (!call.path("index").isIntegralNumber()) {
                        // no index: a call that names its function is the next one, a bare fragment continues the last
                        call.put("index", starts ? toolCallsStarted : Math.max(0, toolCallsStarted - 1));
                    }
                    toolCallsStarted = Math.max(toolCallsStarted, call.get("index").asInt() + 1);
                    if (starts && call.path("id").asText("").isEmpty()) {
                        call.put("id", newToolCallId());
                        call.put("type", "function");
                    }
                }
                toolCallsSeen |= !calls.isEmpty();
            }
            if (toolCallsSeen && "stop".equals(choice.path("finish_reason").asText())) {
                choice.put("finish_reason", "tool_calls");
            }
        }
    }

    /** Mistral accepts only tool-call ids of nine letters and digits; ids from other providers are mapped, stably. */
    static final class MistralToolIds {
        private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

        private MistralToolIds() {
        }

        static void rewrite(JsonNode messages) {
            for (JsonNode m : messages) {
                if (!(m instanceof ObjectNode message)) {
                    continue;
                }
                if (message.path("tool_call_id").isTextual()) {
                    message.put("tool_call_id", map(message.path("tool_call_id").asText()));
                }
                if (message.path("tool_calls") instanceof ArrayNode calls) {
                    for (JsonNode c : calls) {
                        if (c instanceof ObjectNode call && call.path("id").isTextual()) {
                            call.put("id", map(call.path("id").asText()));
                        }
                    }
                }
            }
        }

        static String map(String id) {
            if (id.length() == 9 && id.chars().allMatch(ch -> ALPHABET.indexOf(ch) >= 0)) {
                return id;
            }
            long h = 1125899906842597L;
            for (int i = 0; i < id.length(); i++) {
                h = 31 * h + id.charAt(i);
            }
            StringBuilder out = new StringBuilder(9);
            for (int i = 0; i < 9; i++) {
                out.append(ALPHABET.charAt((int) Math.floorMod(h, ALPHABET.length())));
                h = h / ALPHABET.length() ^ (h << 7) ^ i;
            }
            return out.toString();
        }
    }
}
