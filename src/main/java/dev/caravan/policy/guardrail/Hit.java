package dev.caravan.policy.guardrail;

/**
 * One span of text a guard objects to: {@code [start, end)} in the text it scanned, the guard that found it
 * ({@code pii}, {@code deny}) and what it is ({@code email}, {@code card}..., or {@code pattern-1} for the first deny
 * pattern). Holds no matched text, so it can be logged and counted without leaking it.
 */
public record Hit(int start, int end, String guard, String entity) {

    public Hit {
        if (start < 0 || end <= start || guard == null || entity == null) {
            throw new IllegalArgumentException("bad hit " + guard + "/" + entity + " [" + start + "," + end + ")");
        }
    }

    /** What a redaction writes in its place: {@code [EMAIL]} for PII, {@code [REDACTED]} for a deny pattern. */
    public String label() {
        return guard.equals("pii") ? "[" + entity.toUpperCase(java.util.Locale.ROOT) + "]" : "[REDACTED]";
    }
}
