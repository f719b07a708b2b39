package dev.caravan.provider;

import java.util.Map;

/**
 * A streamed answer whose upstream has answered with success headers. Nothing is delivered until a sink is
 * attached and asks for chunks, so a slow client slows the upstream read instead of filling memory.
 */
public interface ChatStream {

    /** Upstream response headers already filtered to the allow-list. */
    Map<String, String> headers();

    /** Attaches the one sink; chunks flow as demand allows. */
    void start(StreamSink sink);

    /** Asks for {@code n} more chunks. */
    void request(long n);

    /** Stops the upstream call (client gone, idle timeout, shutdown). The sink hears nothing more. */
    void cancel();
}
