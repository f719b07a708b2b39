package dev.caravan.stream;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.caravan.core.GatewayException;

/**
 * Sees each canonical chunk (OpenAI's chunk shape) of one stream before the client's encoder, on the stream's event
 * loop. Per chunk it may pass it ({@code out.emit(chunk)}), change it (emit another), hold it (emit nothing now,
 * emit it later), drop it (emit nothing: the next chunk is asked for, so demand stays right), or end the stream with
 * an error ({@code out.fail}). One hook per stream: it may keep state in its fields.
 */
public interface StreamHook {

    /** Where a hook sends what the client should see. */
    interface Out {
        void emit(ObjectNode chunk);

        /**
         * Ends the stream with an error event: what was emitted before still reaches the client, then the error;
         * nothing after it does (the upstream is cancelled).
         */
        void fail(GatewayException error);
    }

    void onChunk(ObjectNode chunk, Out out);

    /** The upstream finished: release what is held, before the stream's end is written. */
    default void onComplete(Out out) {
    }

    /**
     * Asked when the client leaves mid-stream: true when this hook still needs the rest of the upstream's answer
     * (the cache, for requests waiting on this one), so the upstream is read to its end with nobody writing it. Asked
     * again on each later chunk; the first false (and any silence over a minute) cancels the upstream.
     */
    default boolean keepsUpstream() {
        return false;
    }
}
