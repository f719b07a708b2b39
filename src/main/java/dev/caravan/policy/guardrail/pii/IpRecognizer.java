package dev.caravan.policy.guardrail.pii;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * IPv4 and IPv6 addresses, parsed by hand (no {@code InetAddress}, which may resolve names). Every IPv4 range is
 * flagged, loopback and private included: in a prompt they still identify a host. Not flagged: a dotted run longer
 * than four parts (1.2.3.4.5), a quad right after "v", "version", "release" or "build", a MAC address (six groups,
 * no "::"), a clock time (12:30:45).
 */
final class IpRecognizer implements Recognizer {
    private static final Pattern V4 = Pattern.compile("(?<![\\w.])(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})(?![\\w]|\\.\\d)");
    private static final Pattern V6 = Pattern.compile(
            "(?<![\\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\\d{1,3}\\.){3}\\d{1,3})?(?![\\w:]|\\.\\d)");
    private static final Pattern VERSION_BEFORE = Pattern.compile("(?i)(?:\\bv|\\bversion|\\brelease|\\bbuild)[\\s:=]*$");

    @Override
    public Entity entity() {
        return Entity.IP;
    }

    @Override
    public void find(String text, List<Finding> out) {
        if (text.indexOf('.') >= 0) {
            Matcher m = V4.matcher(text);
            while (m.find()) {
                if (octets(m) && !afterVersionWord(text, m.start())) {
                    out.add(new Finding(Entity.IP, m.start(), m.end(), "ipv4"));
                }
            }
        }
        if (text.indexOf(':') >= 0) {
            Matcher m = V6.matcher(text);
            while (m.find()) {
                if (isIpv6(m.group())) {
                    out.add(new Finding(Entity.IP, m.start(), m.end(), "ipv6"));
                }
            }
        }
    }

    private static boolean octets(Matcher m) {
        for (int g = 1; g <= 4; g++) {
            String o = m.group(g);
            if (Integer.parseInt(o) > 255 || (o.length() > 1 && o.charAt(0) == '0')) {
                return false;
            }
        }
        return true;
    }

    private static boolean afterVersionWord(String text, int start) {
        return VERSION_BEFORE.matcher(text.substring(Math.max(0, start - 12), start)).find();
    }

    /** Eight groups of 1-4 hex digits, or fewer with exactly one "::"; an IPv4 tail counts as two groups. */
    static boolean isIpv6(String s) {
        String a = s.toLowerCase(Locale.ROOT);
        int lastColon = a.lastIndexOf(':');
        if (a.indexOf('.', lastColon) > 0) {
            Matcher m = V4.matcher(a.substring(lastColon + 1));
            if (!m.matches() || !octets(m)) {
                return false;
            }
            a = a.substring(0, lastColon + 1) + "0:0";
        }
        int dc = a.indexOf("::");
        if (dc < 0) {
            return groups(a) == 8;
        }
        if (a.indexOf("::", dc + 1) >= 0 || a.contains(":::")) {
            return false;
        }
        int left = dc == 0 ? 0 : groups(a.substring(0, dc));
        int right = dc + 2 == a.length() ? 0 : groups(a.substring(dc + 2));
        // "::" alone is the unspecified address, but in prose it is punctuation: need one group at least.
        return left >= 0 && right >= 0 && left + right >= 1 && left + right <= 7;
    }

    /** Number of colon-separated groups of 1-4 hex digits, or -1 when one is empty or too long. */
    private static int groups(String part) {
        String[] groups = part.split(":", -1);
        for (String g : groups) {
            if (g.isEmpty() || g.length() > 4) {
                return -1;
            }
        }
        return groups.length;
    }
}
