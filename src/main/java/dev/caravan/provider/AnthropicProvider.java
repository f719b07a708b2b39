package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;
import dev.caravan.config.DeploymentConfig;
import dev.caravan.config.ProviderConfig;
import dev.caravan.usage.Usage;
import io.netty.handler.codec.http.HttpHeaders;

import java.net.URI;
import java.util.concurrent.CompletableFuture;

/**
 * Anthropic's Messages API: {@code <baseUrl>/v1/messages} with an {@code x-api-key} and an
 * {@code anthropic-version}. {@link AnthropicTranslator} maps requests and whole answers, {@link AnthropicSseStream}
 * maps streamed ones; errors come back in Anthropic's {@code {"type":"error","error":{...}}} shape, which
 * {@link UpstreamErrors} reads as it is.
 */
public final class AnthropicProvider implements Provider {

    private final UpstreamPost post;

    public AnthropicProvider(UpstreamClient http) {
        this.post = new UpstreamPost(http);
    }

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        ObjectNode body;
        try {
            body = AnthropicTranslator.request(call.body(), call.deployment().model(), false);
        } catch (GatewayException e) {
            return CompletableFuture.failedFuture(e);
        }
        return post.json(call, uri(call.deployment(), "/v1/messages"), headers(call, "application/json"), body,
                        AnthropicProvider::isMessage, "an Anthropic message")
                .thenApply(answer -> {
                    ObjectNode canonical = AnthropicTranslator.response(answer.body());
                    return new ChatResult(canonical, answer.headers(), Usage.fromOpenAi(canonical.get("usage")));
                });
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        DeploymentConfig deployment = call.deployment();
        ObjectNode body;
        try {
            body = AnthropicTranslator.request(call.body(), deployment.model(), true);
        } catch (GatewayException e) {
            return CompletableFuture.failedFuture(e);
        }
        return post.stream(call, uri(deployment, "/v1/messages"), headers(call, "text/event-stream"), body,
                (headers, upstream) -> new AnthropicSseStream(deployment, headers, upstream));
    }

    @Override
    public CompletableFuture<Long> countTokens(ChatCall call) {
        ObjectNode body;
        try {
            body = AnthropicTranslator.countRequest(call.body(), call.deployment().model());
        } catch (GatewayException e) {
            return CompletableFuture.failedFuture(e);
        }
        return post.json(call, uri(call.deployment(), "/v1/messages/count_tokens"), headers(call, "application/json"),
                        body, answer -> answer.path("input_tokens").isIntegralNumber(), "a token count")
                .thenApply(answer -> Usage.tokens(answer.body().get("input_tokens")));
    }

    private static boolean isMessage(ObjectNode answer) {
        return "message".equals(answer.path("type").asText()) && answer.path("content").isArray();
    }

    private static URI uri(DeploymentConfig deployment, String path) {
        return URI.create(deployment.provider().baseUrl() + path);
    }

    private static HttpHeaders headers(ChatCall call, String accept) {
        HttpHeaders headers = UpstreamPost.headers(call, accept);
        ProviderConfig provider = call.deployment().provider();
        if (provider.apiKey() != null) {
            headers.set("x-api-key", provider.apiKey());
        }
        headers.set("anthropic-version", provider.apiVersion() != null ? provider.apiVersion()
                : ProviderConfig.DEFAULT_ANTHROPIC_VERSION);
        return headers;
    }
}
