package dev.caravan.policy.guardrail.injection;

/**
 * Text a reader cannot see. {@code unicode-tag}: Unicode tag characters (U+E0020-E007E) spell ASCII that renders as
 * nothing but reaches the model's tokenizer; their only legitimate use is a subdivision flag (🏴 + "gbeng" + cancel
 * tag), which is allowed. {@code zero-width}: zero-width characters wedged inside words ("ig(U+200B)no(U+200B)re"), the
 * trick that hides a phrase from a keyword filter; {@link InjectionRules} also reports {@code zero-width} when a
 * phrase rule matches only once they are removed.
 *
 * <p>Left alone: a zero-width joiner in an emoji sequence (👩‍💻), a non-joiner in Persian or Hindi, a byte-order
 * mark, a stray zero-width space or two from a web page: fewer than {@link #ZERO_WIDTH_IN_WORDS} between Latin
 * letters.
 */
final class HiddenTextRule {

    /** Zero-width characters between two ASCII letters from which a text is flagged; copy-paste strays are 1-2. */
    static final int ZERO_WIDTH_IN_WORDS = 3;

    private HiddenTextRule() {
    }

    /** Whether {@code text} carries tag characters other than a flag's. */
    static boolean hasTagText(String text) {
        for (int i = 0; i + 1 < text.length(); i++) {
            if (isTag(text, i) && !isFlagTag(text, i)) {
                return true;
            }
        }
        return false;
    }

    /** Whether zero-width characters split Latin words {@link #ZERO_WIDTH_IN_WORDS} times or more. */
    static boolean splitsWords(String text) {
        int count = 0;
        for (int i = 1; i + 1 < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\u200B' || c == '\u200C' || c == '\u200D' || c == '\u2060' || c == '\uFEFF' || c == '\u00AD' || c == '\u180E') {
                int before = i - 1;
                int after = i + 1;
                while (after < text.length() && Folded.isInvisible(text.charAt(after))) {
                    after++;
                }
                if (after < text.length() && isAsciiLetter(text.charAt(before)) && isAsciiLetter(text.charAt(after))) {
                    if (++count >= ZERO_WIDTH_IN_WORDS) {
                        return true;
                    }
                }
                i = after - 1;
            }
        }
        return false;
    }

    private static boolean isAsciiLetter(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }

    private static boolean isTag(String text, int i) {
        return text.charAt(i) == '\uDB40' && i + 1 < text.length() && text.charAt(i + 1) >= '\uDC00' && text.charAt(i + 1) <= '\uDC7F';
    }

    /** A tag inside 🏴 + up to 7 tags (a-z, 0-9) + cancel tag: an England, Scotland or Wales flag. */
    private static boolean isFlagTag(String text, int at) {
        int start = at;
        while (start >= 2 && isTag(text, start - 2)) {
            start -= 2;
        }
        if (start < 2 || !text.startsWith("\uD83C\uDFF4", start - 2)) {
            return false;
        }
        int end = start;
        while (isTag(text, end)) {
            char low = text.charAt(end + 1);
            boolean cancel = low == '\uDC7F';
            boolean letterOrDigit = (low >= '\uDC61' && low <= '\uDC7A') || (low >= '\uDC30' && low <= '\uDC39');
            if (cancel) {
                return (end - start) / 2 <= 7;
            }
            if (!letterOrDigit) {
                return false;
            }
            end += 2;
        }
        return false;
    }
}
