package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.usage.Usage;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * OpenAI's chat-completions wire, which is also the canonical shape: the body passes through with the model name
 * swapped for the deployment's, so fields the gateway does not model reach the upstream untouched. Serves every
 * host of that wire; {@link Host} holds what differs between them (URL, credential header, known quirks).
 */
public final class OpenAiProvider implements Provider {

    /** Where the OpenAI wire is spoken, how the credential travels, and which quirks are smoothed over. */
    public enum Host {
        /** OpenAI: {@code <baseUrl>/chat/completions}, a bearer token. */
        OPENAI,
        /** Azure OpenAI: the deployment in the path, an {@code api-version}, an {@code api-key} header. */
        AZURE,
        /**
         * Mistral: no {@code stream_options} (usage always ends the stream), {@code max_tokens} and
         * {@code random_seed} under their own names, {@code "any"} for a required tool, tool-call ids of exactly nine
         * letters and digits, and no OpenAI-only fields.
         */
        MISTRAL,
        /**
         * A generic OpenAI-compatible server (vLLM, Ollama, LM Studio, Together...): {@code max_tokens} for
         * {@code max_completion_tokens}; tool-call deltas without an index or id get them; a tool-call turn that
         * ends with "stop" ends with "tool_calls".
         */
        COMPATIBLE
    }

    // OpenAI-only request fields Mistral refuses ("extra inputs are not permitted")
    private static final List<String> NOT_FOR_MISTRAL = List.of("user", "logit_bias", "logprobs", "top_logprobs",
            "service_tier", "store", "metadata", "modalities", "audio", "reasoning_effort", "stream_options");

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
        int i = 0;
        for (JsonNode c : calls) {
            if (c instanceof ObjectNode call) {
                if (!call.hasNonNull("id")) {
                    call.put("id", "call_" + i);
                }
                if (!call.has("type")) {
                    call.put("type", "function");
                }
            }
            i++;
        }
        if ("stop".equals(choice.path("finish_reason").asText())) {
            choice.put("finish_reason", "tool_calls");
        }
    }

    /** OpenAI's SSE events, already canonical; a compatible server's tool-call deltas are completed on the way. */
    static final class OpenAiSseStream extends SseChatStream {
        private final boolean fixToolCalls;
        private boolean toolCallsSeen;

        OpenAiSseStream(DeploymentConfig deployment, Map<String, String> headers, UpstreamClient.Call call,
                        boolean fixToolCalls) {
            super(deployment, headers, call);
            this.fixToolCalls = fixToolCalls;
        }

        @Override
        protected void onEvent(String event, String data) {
            if (data.equals("[DONE]")) {
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
            push(chunk);
        }

        private void fixDelta(ObjectNode choice) {
            JsonNode calls = choice.path("delta").path("tool_calls");
            if (calls.isArray()) {
                int i = 0;
                for (JsonNode c : calls) {
                    if (c instanceof ObjectNode call && !call.has("index")) {
                        call.put("index", i); // servers that send each call whole, without an index
                    }
                    if (c instanceof ObjectNode call && call.path("function").has("name") && !call.hasNonNull("id")) {
                        call.put("id", "call_" + call.path("index").asInt());
                        call.put("type", "function");
                    }
                    i++;
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
