package dev.caravan.policy.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.caravan.core.Json;

/**
 * An event as its row holds it: strings cut to their columns (NULs and unpaired surrogates, which a database
 * would refuse or change, replaced), before and after as JSON text without secrets. The hash is computed over
 * exactly these values, so what the database gives back verifies.
 */
record StoredEvent(long tsMillis, String actor, String role, String action, String target, String team,
                   String outcome, String beforeJson, String afterJson, String requestId, String source) {

    /** The widths of V3__audit_log.sql. */
    static final int JSON_WIDTH = 16_384;
    /** What a cut JSON keeps of its text: even escaped six times over it fits its column. */
    static final int TRUNCATED_HEAD = 2_000;

    static StoredEvent of(AuditEvent e) {
        return new StoredEvent(e.tsMillis(), fit(e.actor(), 256), fit(e.role(), 32),
                fit(e.action() == null ? "unknown" : e.action(), 64), fit(e.target(), 512), fit(e.team(), 128),
                fit(e.outcome() == null ? "success" : e.outcome(), 16), json(e.before()), json(e.after()),
                fit(e.requestId(), 64), fit(e.source(), 128));
    }

    /** The event back, its JSON parsed (a row whose JSON was edited into nonsense shows it as a string). */
    AuditEvent event() {
        return new AuditEvent(tsMillis, actor, role, action, target, team, outcome, parse(beforeJson),
                parse(afterJson), requestId, source);
    }

    private static String json(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return null;
        }
        String text = clean(Json.string(SecretFields.strip(node)));
        if (text.length() <= JSON_WIDTH) {
            return text;
        }
        // too long for its column: a marked stub that says so, with the start of the text
        String stub = Json.string(Json.object().put("_truncated", true).put("length", text.length())
                .put("head", cut(text, TRUNCATED_HEAD)));
        return clean(stub);
    }

    private static JsonNode parse(String text) {
        if (text == null) {
            return null;
        }
        try {
            return Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            return Json.MAPPER.getNodeFactory().textNode(text);
        }
    }

    static String fit(String s, int width) {
        return s == null ? null : cut(clean(s), width);
    }

    /** Without NULs (PostgreSQL refuses them) and unpaired surrogates (UTF-8 cannot carry them). */
    static String clean(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1));
            boolean bad = c == '\0' || (Character.isSurrogate(c) && !pair);
            if (bad && out == null) {
                out = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (out != null) {
                if (c == '\0') {
                    continue;
                }
                out.append(bad ? '\uFFFD' : c);
                if (pair) {
                    out.append(s.charAt(++i));
                }
            } else if (pair) {
                i++;
            }
        }
        return out == null ? s : out.toString();
    }

    /** At most {@code width} chars, never half a surrogate pair. */
    private static String cut(String s, int width) {
        if (s.length() <= width) {
            return s;
        }
        int end = Character.isHighSurrogate(s.charAt(width - 1)) ? width - 1 : width;
        return s.substring(0, end);
    }
}
