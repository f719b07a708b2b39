package dev.caravan.transport.http;

import dev.caravan.core.ClientRequest;
import io.netty.handler.codec.http.HttpResponse;
import org.apache.camel.Exchange;
import org.apache.camel.Message;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * CORS for browser callers, off unless {@code caravan.cors.allowedOrigins} names origins (a comma list, or {@code *}).
 * Off: no {@code Access-Control-*} header is ever sent. On: a preflight ({@code OPTIONS} with
 * {@code Access-Control-Request-Method}) from an allowed origin is answered with the path's methods, the requested
 * headers and a max age; every answer to an allowed origin carries {@code Access-Control-Allow-Origin}. Answers vary by
 * {@code Origin} then, so they say so ({@code Vary: Origin}) for caches in between. No credentials mode: keys travel
 * in headers the browser sends explicitly, never in cookies.
 */
public final class Cors {

    /** Headers a browser may read from an answer: Caravan's own (its cost too) and the rate-limit ones. */
    static final String EXPOSED = "x-caravan-request-id, x-caravan-deployment, x-caravan-region, x-caravan-attempts, x-caravan-fallback, "
            + Responder.COST_HEADER + ", retry-after, x-request-id, request-id, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, "
            + "x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens";
    /** Preflight without Access-Control-Request-Headers: what the OpenAI and Anthropic SDKs send. */
    static final String DEFAULT_HEADERS = "authorization, content-type, x-api-key, anthropic-version, anthropic-beta, "
            + "x-caravan-cache, x-caravan-fallbacks, traceparent, tracestate";
    // the requested header list is echoed, so only a bounded list of header-name tokens is (browser SDKs send a dozen)
    private static final Pattern HEADER_LIST = Pattern.compile("[A-Za-z0-9!#$%&'*+.^_`|~-]+(\\s*,\\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+){0,63}");
    private static final int MAX_HEADER_LIST = 2048;

    private final boolean any;
    private final Set<String> origins;
    private final long maxAgeSeconds;

    /**
     * @param allowedOrigins comma list of origins ({@code https://app.example.com}), {@code *} for any, empty for off
     * @param maxAgeSeconds  how long a browser may cache a preflight's answer
     */
    public Cors(String allowedOrigins, long maxAgeSeconds) {
        Set<String> list = Arrays.stream(allowedOrigins == null ? new String[0] : allowedOrigins.split(","))
                .map(String::trim).filter(o -> !o.isEmpty()).map(Cors::normalize).collect(Collectors.toUnmodifiableSet());
        this.any = list.contains("*");
        this.origins = list;
        this.maxAgeSeconds = maxAgeSeconds;
    }

    public boolean enabled() {
        return any || !origins.isEmpty();
    }

    /** The last step of each listener's route: CORS headers on the answer, whole or the head of a stream. */
    public void decorate(Exchange exchange) {
        if (!enabled()) {
            return;
        }
        Message out = exchange.getMessage();
        if (out.getBody() instanceof HttpResponse head) {
            apply(exchange, (name, value) -> head.headers().set(name, value));
        } else {
            apply(exchange, out::setHeader);
        }
    }

    /** Adds the headers through {@code set}; nothing when CORS is off or the request has no {@code Origin}. */
    void apply(Exchange exchange, BiConsumer<String, String> set) {
        ClientRequest request = ClientRequest.of(exchange);
        if (!enabled() || request == null) {
            return;
        }
        String origin = request.header("origin");
        if (origin == null) {
            return;
        }
        if (!any) {
            set.accept("Vary", "Origin");
        }
        if (!allows(origin)) {
            return;
        }
        set.accept("Access-Control-Allow-Origin", any ? "*" : origin);
        boolean preflight = "OPTIONS".equals(request.method()) && request.header("access-control-request-method") != null;
        String allow = Ingress.allowedMethods(request.path());
        if (preflight && allow != null) {
            set.accept("Access-Control-Allow-Methods", allow);
            String asked = request.header("access-control-request-headers");
            boolean echo = asked != null && asked.length() <= MAX_HEADER_LIST && HEADER_LIST.matcher(asked.trim()).matches();
            set.accept("Access-Control-Allow-Headers", echo ? asked.trim().toLowerCase(Locale.ROOT) : DEFAULT_HEADERS);
            set.accept("Access-Control-Max-Age", Long.toString(maxAgeSeconds));
        } else {
            set.accept("Access-Control-Expose-Headers", EXPOSED);
        }
    }

    boolean allows(String origin) {
        return any || origins.contains(normalize(origin));
    }

    /** Scheme and host compare case-insensitively; a trailing slash in config is forgiven. */
    private static String normalize(String origin) {
        String o = origin.trim().toLowerCase(Locale.ROOT);
        return o.endsWith("/") ? o.substring(0, o.length() - 1) : o;
    }
}
