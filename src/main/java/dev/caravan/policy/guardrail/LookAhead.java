package dev.caravan.policy.guardrail;

import java.util.ArrayList;
import java.util.List;

/**
 * The growing text of one stream field (one choice's content, or one tool call's arguments): each piece that arrives
 * is added, and whatever can no longer become part of a hit is released at once, transformed; the rest waits for
 * the next piece. What waits is decided by the check's {@link TextCheck#holdFrom}, and a hit is never cut: if one
 * begins before the hold point and ends after it, the hold moves back to its start. Bounded by
 * {@link TextCheck#maxHold()}: past it the older text is released (scanned), and a hit that crosses the bound is
 * released whole, transformed, rather than held longer.
 *
 * <p>The check scans the held text together with up to {@value #CONTEXT} released characters (raw, never
 * re-released), so recognizers that look behind a match (AWS key context, "version 1.2.3.4", a '-' glued to a
 * number) see what they would in the whole answer. Not thread-safe: one stream's loop owns it.
 */
public final class LookAhead {

    /** What the buffer does to the text it releases; {@code hits} are offsets in {@code text}, sorted, disjoint. */
    @FunctionalInterface
    public interface Transform {
        String apply(String text, List<Hit> hits);
    }

    /** Released characters kept as the scan's context: the longest look-behind a recognizer uses is 60 (AWS). */
    static final int CONTEXT = 64;

    private final TextCheck check;
    private final Transform transform;
    private final int context;
    private final StringBuilder held = new StringBuilder();
    private String before = ""; // the last released characters, raw
    private long position;      // characters released so far, raw

    /** A buffer that holds what {@code check} says may still become a hit and releases the rest through {@code transform}. */
    public LookAhead(TextCheck check, Transform transform) {
        this(check, transform, CONTEXT);
    }

    private LookAhead(TextCheck check, Transform transform, int context) {
        this.check = check;
        this.transform = transform;
        this.context = context;
    }

    /** Releases text with its hits redacted or masked ({@link Redaction}); other actions release it unchanged. */
    public static LookAhead checking(TextCheck check, Action action) {
        return new LookAhead(check, (text, hits) -> Redaction.apply(text, hits, action));
    }

    /**
     * Releases text with this request's placeholders restored, holding a trailing prefix of one ("&lt;EM") until it
     * is complete or cannot be one.
     *
     * @param jsonString the field is the content of a JSON string (tool-call arguments): originals go in escaped
     */
    public static LookAhead restoring(Placeholders placeholders, boolean jsonString) {
        TextCheck rule = new TextCheck() {
            @Override
            public List<Hit> scan(String text) {
                return List.of(); // a placeholder is never cut by the hold rule, so restoring needs no offsets
            }

            @Override
            public int holdFrom(CharSequence text) {
                return placeholders.holdFrom(text);
            }

            @Override
            public int maxHold() {
                return Math.max(1, placeholders.maxLength());
            }
        };
        Transform restore = jsonString
                ? (text, hits) -> placeholders.restoreInJson(text)
                : (text, hits) -> placeholders.restore(text);
        return new LookAhead(rule, restore, 0);
    }

    /** Adds a piece of the field; returns what can be released now, transformed (often "" or all of it). */
    public String push(String piece) {
        if (piece == null || piece.isEmpty()) {
            return ""; // nothing changed since the last piece
        }
        held.append(piece);
        return release(false);
    }

    /** The field is complete: everything still held, transformed. The buffer is empty (and reusable) after. */
    public String finish() {
        return release(true);
    }

    /** Characters held now. */
    public int held() {
        return held.length();
    }

    /** Characters released so far, before transforming: where the next released text starts in the whole field. */
    public long position() {
        return position;
    }

    /**
     * The scan context kept after a release: the last {@code context} raw characters before {@code hold}, cut after
     * their last digit or '@' (but never shorter than the one character a look-behind reads). A number or address
     * already released would otherwise be found again on every piece: a phone costs 17 us a scan (libphonenumber),
     * an email 6 us, prose under 1 (measured, 64-char context); no recognizer's look-behind needs them.
     */
    private String context(String text, int hold) {
        int from = Math.max(0, hold - context);
        for (int i = hold - 1; i >= from; i--) {
            char c = text.charAt(i);
            if ((c >= '0' && c <= '9') || c == '@') {
                from = Math.min(i + 1, hold - 1);
                break;
            }
        }
        return text.substring(from, hold);
    }

    private String release(boolean all) {
        if (held.length() == 0) {
            return "";
        }
        String text = before.isEmpty() ? held.toString() : before + held;
        int ctx = before.length();
        int len = text.length();
        int hold = all ? len : Math.max(ctx, Math.min(len, check.holdFrom(text)));
        if (hold < len - check.maxHold()) {
            hold = len - check.maxHold();
        }
        if (hold <= ctx) {
            return "";
        }
        List<Hit> hits = new ArrayList<>(2);
        for (Hit h : check.scan(text)) {
            if (h.end() <= ctx) {
                continue; // released before
            }
            int start = Math.max(h.start(), ctx); // begun in released text only if it outgrew the look-ahead
            if (start >= hold) {
                break;
            }
            if (h.end() > hold) { // never cut a hit: held whole, or released whole when holding it would pass the bound
                if (len - start > check.maxHold()) {
                    hits.add(new Hit(start - ctx, h.end() - ctx, h.guard(), h.entity()));
                    hold = h.end();
                } else {
                    hold = start;
                }
                break;
            }
            hits.add(new Hit(start - ctx, h.end() - ctx, h.guard(), h.entity()));
        }
        if (hold <= ctx) {
            return "";
        }
        String raw = text.substring(ctx, hold);
        String out = transform.apply(raw, hits);
        held.delete(0, hold - ctx);
        before = context == 0 ? "" : context(text, hold);
        position += raw.length();
        return out;
    }
}
