package dev.caravan.core;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** Which client headers an upstream may see (tracing, the user agent); everything else, the key above all, stays. */
public final class HeaderAllowList {

    public static final Set<String> TO_UPSTREAM = Set.of("traceparent", "tracestate", "user-agent");

    private HeaderAllowList() {
    }

    /** The client headers on the allow-list, lower-case names, for the upstream call. */
    public static Map<String, String> toUpstream(ClientRequest request) {
        Map<String, String> out = new HashMap<>();
        for (String name : TO_UPSTREAM) {
            String v = request.header(name);
            if (v != null) {
                out.put(name, v);
            }
        }
        return out;
    }
}
