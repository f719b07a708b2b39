package dev.caravan.policy.guardrail;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What {@link Action#REDACT} and {@link Action#MASK} write over the hits in a text. Every other action leaves the
 * text as it is (BLOCK and ALERT are the caller's to carry out, DEIDENTIFY is {@link Placeholders}').
 */
public final class Redaction {

    /** At most this many letters and digits of a masked span stay readable: a card's last four. */
    static final int MASK_KEEP = 4;

    private Redaction() {
    }

    /**
     * The text with each hit replaced: REDACT writes {@link Hit#label()}; MASK keeps separators and the last four
     * letters or digits, starring the other letters and digits ({@code 4111 1111 1111 1111} to
     * {@code **** **** **** 1111}), but never shows more than half of a span's letters and digits, so a short match
     * ("abc") is starred whole rather than kept whole. Hits may come in any order; an overlap is written once.
     *
     * @throws IllegalArgumentException when a hit lies outside the text (offsets from another text)
     */
    public static String apply(String text, List<Hit> hits, Action action) {
        if (hits.isEmpty() || (action != Action.REDACT && action != Action.MASK)) {
            return text;
        }
        List<Hit> sorted = hits;
        if (!isSorted(hits)) {
            sorted = new ArrayList<>(hits);
            sorted.sort(Comparator.comparingInt(Hit::start));
        }
        StringBuilder out = new StringBuilder(text.length() + 8 * hits.size());
        int at = 0;
        for (Hit hit : sorted) {
            if (hit.end() > text.length()) {
                throw new IllegalArgumentException("hit " + hit + " lies outside a text of " + text.length() + " chars");
            }
            if (hit.end() <= at) {
                continue; // inside the previous hit
            }
            int start = Math.max(hit.start(), at);
            out.append(text, at, start);
            if (action == Action.REDACT) {
                out.append(hit.label());
            } else {
                mask(text, start, hit.end(), out);
            }
            at = hit.end();
        }
        return out.append(text, at, text.length()).toString();
    }

    private static boolean isSorted(List<Hit> hits) {
        for (int i = 1; i < hits.size(); i++) {
            if (hits.get(i).start() < hits.get(i - 1).start()) {
                return false;
            }
        }
        return true;
    }

    private static void mask(String text, int start, int end, StringBuilder out) {
        int alnum = 0;
        for (int i = start; i < end; ) {
            int cp = text.codePointAt(i);
            if (Character.isLetterOrDigit(cp)) {
                alnum++;
            }
            i += Character.charCount(cp);
        }
        int starred = alnum - Math.min(MASK_KEEP, alnum / 2);
        for (int i = start; i < end; ) {
            int cp = text.codePointAt(i);
            if (Character.isLetterOrDigit(cp) && starred > 0) {
                out.append('*');
                starred--;
            } else {
                out.appendCodePoint(cp);
            }
            i += Character.charCount(cp);
        }
    }
}
