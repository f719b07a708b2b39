package dev.caravan.transport.http;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code caravan.trustedProxies}: the proxies (IP addresses and CIDR ranges, a comma list) whose
 * {@code X-Forwarded-For} is believed. From any other peer the header is ignored: a client could write anything in
 * it. From a trusted one the client is the right-most address that is not itself a trusted proxy (each proxy appends
 * the address it saw, so only the entries to the right of the first untrusted one were written by proxies we trust).
 */
public final class TrustedProxies {

    public static final TrustedProxies NONE = new TrustedProxies(List.of());

    /** Entries read from one X-Forwarded-For; a longer chain is a client padding it. */
    private static final int MAX_HOPS = 32;

    private record Range(byte[] network, int prefixBits) {
        boolean contains(byte[] address) {
            if (address.length != network.length) {
                return false;
            }
            int bits = prefixBits;
            for (int i = 0; i < address.length && bits > 0; i++, bits -= 8) {
                int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
                if ((address[i] & mask) != (network[i] & mask)) {
                    return false;
                }
            }
            return true;
        }
    }

    private final List<Range> ranges;

    private TrustedProxies(List<Range> ranges) {
        this.ranges = ranges;
    }

    /** Parses the property; a bad entry stops the start (a typo must not silently trust nobody, or everybody). */
    public static TrustedProxies parse(String list) {
        if (list == null || list.isBlank()) {
            return NONE;
        }
        List<Range> ranges = new ArrayList<>();
        for (String entry : list.split(",")) {
            String e = entry.trim();
            if (e.isEmpty()) {
                continue;
            }
            int slash = e.indexOf('/');
            byte[] address = literal(slash < 0 ? e : e.substring(0, slash));
            if (address == null) {
                throw new IllegalArgumentException("caravan.trustedProxies: '" + e + "' is not an IP address or CIDR range");
            }
            int bits = address.length * 8;
            if (slash >= 0) {
                try {
                    bits = Integer.parseInt(e.substring(slash + 1));
                } catch (NumberFormatException x) {
                    bits = -1;
                }
                if (bits < 0 || bits > address.length * 8) {
                    throw new IllegalArgumentException("caravan.trustedProxies: '" + e + "' has a bad prefix length");
                }
            }
            ranges.add(new Range(address, bits));
        }
        return new TrustedProxies(List.copyOf(ranges));
    }

    public boolean isEmpty() {
        return ranges.isEmpty();
    }

    /**
     * The client's address: {@code peer} unless it is a trusted proxy, then from {@code forwardedFor} (every
     * X-Forwarded-For value in order, or null).
     */
    public String clientAddress(String peer, List<String> forwardedFor) {
        if (ranges.isEmpty() || forwardedFor == null || forwardedFor.isEmpty() || !trusted(literal(peer))) {
            return peer;
        }
        List<String> hops = new ArrayList<>();
        for (String value : forwardedFor) {
            for (String hop : value.split(",")) {
                hops.add(hop.trim());
            }
        }
        String client = peer;
        for (int i = hops.size() - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--, seen++) {
            String hop = withoutPort(hops.get(i));
            byte[] address = literal(hop);
            if (address == null) {
                return client; // garbage (or "unknown"): the last hop a trusted proxy vouched for
            }
            client = text(address);
            if (!trusted(address)) {
                return client;
            }
        }
        return client; // every hop is a trusted proxy: the left-most is as far as we can see
    }

    private boolean trusted(byte[] address) {
        if (address == null) {
            return false;
        }
        for (Range r : ranges) {
            if (r.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /** {@code 1.2.3.4:5678} and {@code [::1]:80} as proxies may write them, without the port. */
    private static String withoutPort(String hop) {
        if (hop.startsWith("[")) {
            int end = hop.indexOf(']');
            return end > 0 ? hop.substring(1, end) : hop;
        }
        int colon = hop.indexOf(':');
        if (colon > 0 && hop.indexOf(':', colon + 1) < 0) {
            return hop.substring(0, colon); // one colon: IPv4 with a port
        }
        return hop;
    }

    /** The bytes of an IP literal, or null when {@code text} is not one (never a DNS lookup). */
    static byte[] literal(String text) {
        if (text == null || text.isEmpty() || text.length() > 45) {
            return null;
        }
        boolean colon = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == ':') {
                colon = true;
            } else if (!(c == '.' || Character.digit(c, 16) >= 0)) {
                return null;
            }
        }
        if (!colon && !text.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
            return null; // InetAddress reads "1" or "1.2" as IPv4 shorthands, and letters would be a host name
        }
        try {
            return InetAddress.getByName(text).getAddress(); // a literal with ':' is never looked up either
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static String text(byte[] address) {
        try {
            return InetAddress.getByAddress(address).getHostAddress();
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e); // only for a wrong length, which literal() never returns
        }
    }
}
