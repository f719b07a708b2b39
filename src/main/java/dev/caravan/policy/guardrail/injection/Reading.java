package dev.caravan.policy.guardrail.injection;

/**
 * One lower-case reading of a text (see {@link Folded}) with the starts of its words indexed once, so that the many
 * rules' {@link Phrase} hints cost one probe each instead of a scan of the text each: 1 KB has about 170 words and
 * the rules about 400 hint checks; scanning 1 KB per hint cost 100 us, a sorted word list 60 us, this index under
 * 10 us. The index keeps the hash of every word prefix of 2 to {@value #MAX_PREFIX} letters in an open-addressing
 * table ({@code int}s, twice as many slots as the text has letters, so bounded by the text); two prefixes may share
 * a hash, which only lets a regex run that need not have: a hint is a filter, never the verdict.
 */
final class Reading {

    /** The longest prefix indexed: no hint is longer. */
    static final int MAX_PREFIX = 16;

    final String text;
    private int[] table;
    private Boolean ascii;

    Reading(String text) {
        this.text = text;
    }

    /**
     * A hint prepared once: a hint of ASCII letters is the start of a word ("ignor" for ignore, ignoring); a hint of
     * several words ("as your") is its longest word; one with no word of three letters ("#", "![", "a.i.") or marked
     * with a leading {@code *} ("*gpt" for ChatGPT, BasedGPT) is looked for as is; one in another script is looked
     * for as is, and not at all in an ASCII text.
     */
    record Hint(String literal, int key, boolean foreign) {
        static Hint of(String hint) {
            if (hint.charAt(0) == '*') {
                return new Hint(hint.substring(1), 0, false);
            }
            String word = longestAsciiWord(hint);
            if (word == null || (word.length() < 3 && word.length() < hint.length())) { // "a.i.": "a" would pass everything
                return new Hint(hint, 0, hint.chars().anyMatch(c -> c >= 0x80));
            }
            String prefix = word.length() > MAX_PREFIX ? word.substring(0, MAX_PREFIX) : word;
            return new Hint(null, prefixKey(prefix.hashCode(), prefix.length()), false);
        }
    }

    /** Whether the text may hold {@code hint} (a filter: a yes may be wrong, a no never is). */
    boolean has(Hint hint) {
        if (hint.literal != null) {
            return (!hint.foreign || !ascii()) && text.contains(hint.literal);
        }
        int[] t = table();
        for (int slot = hint.key & (t.length - 1); t[slot] != 0; slot = (slot + 1) & (t.length - 1)) {
            if (t[slot] == hint.key) {
                return true;
            }
        }
        return false;
    }

    /** {@link #has(Hint)} for a hint not prepared in advance. */
    boolean has(String hint) {
        return has(Hint.of(hint));
    }

    private int[] table() {
        if (table == null) {
            int letters = 0;
            for (int i = 0; i < text.length(); i++) {
                letters += isAsciiLetter(text.charAt(i)) ? 1 : 0;
            }
            int[] t = new int[Integer.highestOneBit(Math.max(16, letters * 2)) << 1];
            int hash = 0;
            int length = 0;
            for (int i = 0; i <= text.length(); i++) {
                char c = i < text.length() ? text.charAt(i) : ' ';
                if (!isAsciiLetter(c)) {
                    hash = 0;
                    length = 0;
                    continue;
                }
                hash = 31 * hash + c; // String.hashCode, a letter at a time: the hash of each prefix
                if (++length >= 2 && length <= MAX_PREFIX) {
                    add(t, prefixKey(hash, length));
                }
            }
            table = t;
        }
        return table;
    }

    private static void add(int[] t, int key) {
        int slot = key & (t.length - 1);
        while (t[slot] != 0 && t[slot] != key) {
            slot = (slot + 1) & (t.length - 1);
        }
        t[slot] = key;
    }

    private static int prefixKey(int hash, int length) {
        int k = (hash * 0x9E3779B9) ^ (length * 0x85EBCA6B);
        k ^= k >>> 15;
        return k == 0 ? 1 : k;
    }

    /** The longest run of ASCII letters in {@code hint} when the hint has no other letters, else null. */
    private static String longestAsciiWord(String hint) {
        String best = null;
        int start = -1;
        for (int i = 0; i <= hint.length(); i++) {
            char c = i < hint.length() ? hint.charAt(i) : ' ';
            if (isAsciiLetter(c)) {
                start = start < 0 ? i : start;
                continue;
            }
            if (Character.isLetter(c)) {
                return null; // another script: no ASCII word stands for it
            }
            if (start >= 0 && (best == null || i - start > best.length())) {
                best = hint.substring(start, i);
            }
            start = -1;
        }
        return best;
    }

    private boolean ascii() {
        if (ascii == null) {
            boolean all = true;
            for (int i = 0; i < text.length() && all; i++) {
                all = text.charAt(i) < 0x80;
            }
            ascii = all;
        }
        return ascii;
    }

    private static boolean isAsciiLetter(char c) {
        return c >= 'a' && c <= 'z';
    }
}
