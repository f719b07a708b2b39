package dev.caravan.provider;

import io.netty.handler.codec.http.HttpHeaders;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The allow-list of upstream response headers a client may see; everything else stays inside the gateway. */
public final class UpstreamHeaders {

    public static final Set<String> ALLOW_LIST = Set.of(
            "x-request-id", "openai-processing-ms", "openai-version", "retry-after", "retry-after-ms",
            "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
            "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
            // Anthropic's
            "request-id", "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining",
            "anthropic-ratelimit-tokens-reset", "anthropic-ratelimit-input-tokens-limit",
            "anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset",
            "anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-output-tokens-remaining",
            "anthropic-ratelimit-output-tokens-reset");

    private UpstreamHeaders() {
    }

    public static Map<String, String> allowed(HttpHeaders headers) {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, String> e : headers) {
            String name = e.getKey().toLowerCase(Locale.ROOT);
            if (ALLOW_LIST.contains(name)) {
                out.putIfAbsent(name, e.getValue());
            }
        }
        return out;
    }
}
