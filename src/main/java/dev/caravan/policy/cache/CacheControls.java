package dev.caravan.policy.cache;

import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.config.ConfigLoader;
import dev.caravan.core.GatewayException;
import dev.caravan.core.Json;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A request's own say over the cache: header {@code x-caravan-cache} or body {@code caravan.cache}, a comma-separated
 * list ({@code no-cache}, {@code no-store}, {@code ttl=5m}, {@code namespace=docs}) or, in the body, an object of the
 * same names ({@code {"no-store": true, "ttl": "5m"}}). Anything else is the client's 400.
 *
 * @param noCache   skip the lookup (the answer is still stored)
 * @param noStore   do not store the answer
 * @param ttl       this answer's TTL instead of the configured one, or null
 * @param namespace a namespace of the caller's, apart from every other, or {@code default}
 */
public record CacheControls(boolean noCache, boolean noStore, Duration ttl, String namespace) {

    public static final String DEFAULT_NAMESPACE = "default";
    public static final CacheControls NONE = new CacheControls(false, false, null, DEFAULT_NAMESPACE);

    static final Duration MAX_TTL = Duration.ofDays(30);
    private static final Pattern NAMESPACE = Pattern.compile("^[A-Za-z0-9._:-]{1,64}$");
    private static final String PARAM = "caravan.cache";

    public static CacheControls parse(String value) {
        if (value == null || value.isBlank()) {
            return NONE;
        }
        String text = value.trim();
        if (text.startsWith("{")) {
            JsonNode object = Json.parseObjectOrNull(text);
            if (object == null) {
                throw invalid("must be a list such as \"no-store, ttl=5m\" or an object of those names");
            }
            return fromObject(object);
        }
        boolean noCache = false;
        boolean noStore = false;
        Duration ttl = null;
        String namespace = DEFAULT_NAMESPACE;
        for (String part : text.split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            String name = (eq < 0 ? p : p.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
            String arg = eq < 0 ? null : p.substring(eq + 1).trim();
            switch (name) {
                case "" -> { }
                case "no-cache" -> noCache = true;
                case "no-store" -> noStore = true;
                case "ttl" -> ttl = ttl(arg);
                case "namespace" -> namespace = namespace(arg);
                default -> throw invalid("'" + GatewayException.quote(name)
                        + "' is not a cache control (no-cache, no-store, ttl=<duration>, namespace=<name>)");
            }
        }
        return new CacheControls(noCache, noStore, ttl, namespace);
    }

    private static CacheControls fromObject(JsonNode o) {
        boolean noCache = false;
        boolean noStore = false;
        Duration ttl = null;
        String namespace = DEFAULT_NAMESPACE;
        for (var it = o.fields(); it.hasNext(); ) {
            var e = it.next();
            switch (e.getKey().toLowerCase(Locale.ROOT)) {
                case "no-cache", "nocache" -> noCache = e.getValue().asBoolean();
                case "no-store", "nostore" -> noStore = e.getValue().asBoolean();
                case "ttl" -> ttl = ttl(e.getValue().asText());
                case "namespace" -> namespace = namespace(e.getValue().asText());
                default -> throw invalid("'" + GatewayException.quote(e.getKey())
                        + "' is not a cache control (no-cache, no-store, ttl, namespace)");
            }
        }
        return new CacheControls(noCache, noStore, ttl, namespace);
    }

    private static Duration ttl(String text) {
        Duration ttl;
        try {
            ttl = ConfigLoader.parseDuration(text == null ? "" : text);
        } catch (IllegalArgumentException e) {
            throw invalid("ttl must be a duration such as 30s, 5m or 1h");
        }
        if (ttl.isZero() || ttl.compareTo(MAX_TTL) > 0) {
            throw invalid("ttl must be between 1ms and 30d");
        }
        return ttl;
    }

    private static String namespace(String text) {
        if (text == null || !NAMESPACE.matcher(text).matches()) {
            throw invalid("namespace must be 1 to 64 letters, digits or . _ : -");
        }
        return text;
    }

    private static GatewayException invalid(String why) {
        return GatewayException.badRequest("invalid_cache_control", PARAM, "Invalid cache control: " + why + ".");
    }
}
