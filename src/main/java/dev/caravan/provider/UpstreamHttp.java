package dev.caravan.provider;

import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The one HTTP client for every upstream, and the allow-list of upstream headers a client may see.
 * {@code java.net.http.HttpClient} is asynchronous, so a waiting call holds no thread, and it streams bodies.
 */
public final class UpstreamHttp {

    static {
        // A pooled keep-alive connection the upstream closed just as we reused it fails before any response byte.
        // The JDK retries that case on a fresh connection (ConnectionExpiredException), but only for idempotent
        // methods unless this is set; our POSTs never reached the server in that case, so retrying is safe.
        if (System.getProperty("jdk.httpclient.enableAllMethodRetry") == null) {
            System.setProperty("jdk.httpclient.enableAllMethodRetry", "true");
        }
    }

    /** Upstream response headers a client may see; everything else stays inside the gateway. */
    public static final Set<String> RESPONSE_HEADER_ALLOW_LIST = Set.of(
            "x-request-id", "openai-processing-ms", "openai-version", "retry-after", "retry-after-ms",
            "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
            "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens");

    private final HttpClient client;

    public UpstreamHttp() {
        this.client = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public HttpClient client() {
        return client;
    }

    public static Map<String, String> allowedHeaders(HttpHeaders headers) {
        Map<String, String> out = new HashMap<>();
        for (Map.Entry<String, List<String>> e : headers.map().entrySet()) {
            String name = e.getKey().toLowerCase(Locale.ROOT);
            if (RESPONSE_HEADER_ALLOW_LIST.contains(name) && !e.getValue().isEmpty()) {
                out.put(name, e.getValue().get(0));
            }
        }
        return out;
    }
}
