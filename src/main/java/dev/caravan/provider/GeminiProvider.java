package dev.caravan.provider;

import dev.caravan.GatewayException;

import java.util.concurrent.CompletableFuture;

/** Placeholder: the Gemini adapter is being written. */
public final class GeminiProvider implements Provider {

    public GeminiProvider(UpstreamClient http) {
    }

    @Override
    public CompletableFuture<ChatResult> chat(ChatCall call) {
        return CompletableFuture.failedFuture(GatewayException.badGateway("not_implemented", "not yet"));
    }

    @Override
    public CompletableFuture<ChatStream> chatStream(ChatCall call) {
        return CompletableFuture.failedFuture(GatewayException.badGateway("not_implemented", "not yet"));
    }
}
