package dev.caravan.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;

/** Receives a stream's canonical chunks; exactly one of {@link #onComplete()} or {@link #onError} ends it. */
public interface StreamSink {

    void onChunk(ObjectNode chunk);

    void onComplete();

    void onError(GatewayException error);
}
