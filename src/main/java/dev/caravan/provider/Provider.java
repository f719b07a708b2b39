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

    /**
     * A request passed through ({@link dev.caravan.core.PassThrough}), whole: {@code call.body()} is the client's own
     * body, sent to the upstream's {@code endpoint} with the deployment's model; the result's body is the answer's
     * canonical view and its {@link ChatResult#wire()} the answer as the upstream wrote it. Only asked of a
     * deployment whose provider {@link dev.caravan.config.ProviderConfig#servesOwn serves} the endpoint.
     */
    default CompletableFuture<ChatResult> passThrough(ChatCall call, String endpoint) {
        return CompletableFuture.failedFuture(cannotPassThrough(call, endpoint));
    }

    /** The same, streamed: canonical chunks, each carrying the upstream event it was read from. */
    default CompletableFuture<ChatStream> passThroughStream(ChatCall call, String endpoint) {
        return CompletableFuture.failedFuture(cannotPassThrough(call, endpoint));
    }

    private static dev.caravan.core.GatewayException cannotPassThrough(ChatCall call, String endpoint) {
        return dev.caravan.core.GatewayException.badRequest("unsupported_operation", "model",
                "Deployment '" + call.deployment().id() + "' has no /" + endpoint + " endpoint.");
    }

    /** OpenAI's embeddings: the body is the canonical {@code /v1/embeddings} request. */
    default CompletableFuture<ChatResult> embeddings(ChatCall call) {
        return CompletableFuture.failedFuture(dev.caravan.core.GatewayException.badRequest("unsupported_operation", "model",
                "Deployment '" + call.deployment().id() + "' cannot make embeddings."));
    }
}
