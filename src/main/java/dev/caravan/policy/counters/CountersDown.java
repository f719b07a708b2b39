package dev.caravan.policy.counters;

import dev.caravan.core.GatewayException;

import java.util.Map;
import java.util.concurrent.CompletionException;

/** The answer when the counters cannot be consulted and the config says to fail closed ({@code limits.failClosed}). */
public final class CountersDown {

    private CountersDown() {
    }

    public static GatewayException answer(Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof GatewayException g) {
            return g;
        }
        if (!(cause instanceof Counters.Unavailable)) {
            org.slf4j.LoggerFactory.getLogger(CountersDown.class).warn("Counters failed: {}", cause.toString());
        }
        return new GatewayException(503, "server_error", "limits_unavailable", null,
                "Rate limits and budgets cannot be checked right now; try again shortly.", Map.of("Retry-After", "1"));
    }
}
