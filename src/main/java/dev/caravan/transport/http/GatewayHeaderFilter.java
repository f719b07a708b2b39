package dev.caravan.transport.http;

import dev.caravan.provider.UpstreamHeaders;
import org.apache.camel.Exchange;
import org.apache.camel.component.netty.http.NettyHttpHeaderFilterStrategy;

import java.util.Locale;
import java.util.Set;

/**
 * Response headers are allow-listed: Camel copies message headers onto the wire by default, so a client header
 * (its key above all) or an upstream header could be echoed. Only Caravan's own and the named upstream ones pass.
 */
public final class GatewayHeaderFilter extends NettyHttpHeaderFilterStrategy {

    /** The gateway's own headers; upstream ones pass by {@link UpstreamHeaders#ALLOW_LIST}. */
    static final Set<String> OWN = Set.of("allow", "cache-control", "retry-after", "vary");

    @Override
    protected boolean extendedFilter(Direction direction, String key, Object value, Exchange exchange) {
        if (direction == Direction.IN) {
            return false;
        }
        return !allowedOut(key);
    }

    public static boolean allowedOut(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.startsWith("x-caravan-") || n.startsWith("x-ratelimit-") || n.startsWith("access-control-") || OWN.contains(n)
                || UpstreamHeaders.ALLOW_LIST.contains(n);
    }
}
