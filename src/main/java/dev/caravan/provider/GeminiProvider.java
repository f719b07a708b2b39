package dev.caravan.provider;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.Json;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.usage.Usage;
import io.netty.handler.codec.http.HttpHeaders;

import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * Google's Gemini API ({@code generativelanguage.googleapis.com}, v1beta): {@code generateContent},
 * {@code streamGenerateContent?alt=sse}, {@code batchEmbedContents} and {@code countTokens}, the key in
 * {@code x-goog-api-key}. {@link GeminiRequest} and {@link GeminiResponse} translate the bodies,
 * {@link GeminiSseStream} the events; errors ({@code {"error":{"code","message","status"}}}) map in
 * {@link UpstreamErrors}, except a refused key, which Google answers with 400.
 */
public final class GeminiProvider implements Provider {

    private final UpstreamPost post;

    public GeminiProvider(UpstreamClient http) {
        this.post = new UpstreamPost(http);
    }

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        ObjectNode body = GeminiRequest.generateContent(call.body());
        return post.json(call, uri(call, "generateContent"), headers(call, "application/json"), body,
                        answer -> answer.has("candidates") || answer.has("promptFeedback"), "a GenerateContentResponse")
                .thenApply(answer -> {
                    ObjectNode completion = GeminiResponse.completion(answer.body(), completionId(call), model(call));
                    return new ChatResult(completion, answer.headers(), Usage.fromOpenAi(completion.get("usage")));
                });
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body = GeminiRequest.generateContent(call.body());
        String id = completionId(call);
        return post.stream(call, uri(call, "streamGenerateContent?alt=sse"),
                headers(call, "text/event-stream"), body,
                (headers, upstream) -> new GeminiSseStream(deployment, headers, upstream, id));
    }

    @Override
    public CompletableFuture<Long> countTokens(ChatCall call) {
        ObjectNode body = GeminiRequest.countTokens(call.body(), model(call));
        return post.json(call, uri(call, "countTokens"), headers(call, "application/json"), body,
                        answer -> answer.path("totalTokens").canConvertToLong(), "a token count")
                .thenApply(answer -> Usage.tokens(answer.body().path("totalTokens")));
    }

    /**
     * One {@code batchEmbedContents} call for all inputs. Gemini reports no token usage for embeddings: the result
     * carries {@link Usage#NONE}, and the call step counts the inputs and marks the usage as estimated.
     */
    @Override
    public CompletableFuture<ChatResult> embeddings(ChatCall call) {
        String model = model(call);
        List<String> inputs = Embeddings.inputs(call.body());
        JsonNode dimensions = call.body().get("dimensions");
        boolean base64 = "base64".equals(call.body().path("encoding_format").asText());
        ObjectNode body = Json.object();
        ArrayNode requests = body.putArray("requests");
        for (String input : inputs) {
            ObjectNode request = requests.addObject();
            request.put("model", "models/" + model);
            request.putObject("content").putArray("parts").addObject().put("text", input);
            if (dimensions != null && dimensions.canConvertToInt()) {
                request.put("outputDimensionality", dimensions.asInt());
            }
        }
        return post.json(call, uri(call, "batchEmbedContents"), headers(call, "application/json"), body,
                        answer -> answer.path("embeddings").isArray() && answer.path("embeddings").size() == inputs.size(),
                        "one embedding per input")
                .thenApply(answer -> {
                    ObjectNode list = Json.object();
                    list.put("object", "list");
                    ArrayNode data = list.putArray("data");
                    JsonNode embeddings = answer.body().path("embeddings");
                    for (int i = 0; i < embeddings.size(); i++) {
                        data.add(Embeddings.item(i, Embeddings.floats(embeddings.get(i).path("values")), base64));
                    }
                    list.put("model", model);
                    return new ChatResult(list, answer.headers(), Usage.NONE);
                });
    }

    private static URI uri(ChatCall call, String method) {
        return URI.create(call.deployment().provider().baseUrl() + "/v1beta/models/"
                + URLEncoder.encode(model(call), StandardCharsets.UTF_8) + ":" + method);
    }

    /** The deployment's model without the "models/" prefix Google's own listings put on it. */
    private static String model(ChatCall call) {
        String model = call.deployment().model();
        return model.startsWith("models/") ? model.substring("models/".length()) : model;
    }

    private static String completionId(ChatCall call) {
        return "chatcmpl-" + (call.requestId() != null ? call.requestId() : UUID.randomUUID().toString());
    }

    private static HttpHeaders headers(ChatCall call, String accept) {
        HttpHeaders headers = UpstreamPost.headers(call, accept);
        String key = call.deployment().provider().apiKey();
        if (key != null) {
            headers.set("x-goog-api-key", key);
        }
        return headers;
    }
}
