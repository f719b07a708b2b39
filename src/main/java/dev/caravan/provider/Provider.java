package dev.caravan.provider;

import java.util.concurrent.CompletableFuture;

/**
 * One provider family's adapter: translates the canonical OpenAI chat request to its wire format and back.
 * Failures complete the futures with a {@link dev.caravan.core.GatewayException}.
 */
public interface Provider {

    /** A whole answer. */
    CompletableFuture<ChatResult> chat(ChatCall call);

    /** Completes when the upstream has answered with success headers; errors before that complete it exceptionally. */
    CompletableFuture<ChatStream> chatStream(ChatCall call);

    /**
     * Counts the input tokens of a canonical chat request with the provider's own counting endpoint, for
     * {@code /v1/messages/count_tokens}. Completes with -1 when the provider has none: the gateway then estimates.
     */
    default CompletableFuture<Long> countTokens(ChatCall call) {
        return CompletableFuture.completedFuture(-1L);
    }

    /** OpenAI's embeddings: the body is the canonical {@code /v1/embeddings} request. */
    default CompletableFuture<ChatResult> embeddings(ChatCall call) {
        return CompletableFuture.failedFuture(dev.caravan.core.GatewayException.badRequest("unsupported_operation", "model",
                "Deployment '" + call.deployment().id() + "' cannot make embeddings."));
    }
}
