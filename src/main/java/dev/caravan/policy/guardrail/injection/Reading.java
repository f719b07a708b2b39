package dev.caravan.policy.guardrail.injection;

import java.util.Arrays;

/**
 * One lower-case reading of a text (see {@link Folded}) with its words indexed once, so that the many rules'
 * {@link Phrase} hints cost a binary search each instead of a scan of the text each: 1 KB has about 170 words,
 * the rules about 200 hints, and scanning 1 KB for each hint cost 100 us where the index costs under 10.
 */
final class Reading {

    final String text;
    private String[] words;

    Reading(String text) {
        this.text = text;
    }

    /**
     * Whether the text holds {@code hint}: a hint of ASCII letters is the start of a word ("ignor" for ignore,
     * ignoring); any other (a space, a symbol, another script) is looked for as is, and so is one marked with a
     * leading {@code *} ("*gpt" for ChatGPT, BasedGPT).
     */
    boolean has(String hint) {
        if (hint.charAt(0) == '*') {
            return text.contains(hint.substring(1));
        }
        if (!isAsciiWord(hint)) {
            return text.contains(hint);
        }
        String[] w = words();
        int at = Arrays.binarySearch(w, hint);
        if (at >= 0) {
            return true;
        }
        int next = -at - 1;
        return next < w.length && w[next].startsWith(hint);
    }

    private String[] words() {
        if (words == null) {
            String[] found = new String[Math.max(4, text.length() / 4)];
            int n = 0;
            int start = -1;
            for (int i = 0; i <= text.length(); i++) {
                boolean letter = i < text.length() && isAsciiLetter(text.charAt(i));
                if (letter && start < 0) {
                    start = i;
                } else if (!letter && start >= 0) {
                    if (n == found.length) {
                        found = Arrays.copyOf(found, n * 2);
                    }
                    found[n++] = text.substring(start, i);
                    start = -1;
                }
            }
            String[] sorted = Arrays.copyOf(found, n);
            Arrays.sort(sorted);
            words = sorted;
        }
        return words;
    }

    private static boolean isAsciiWord(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (!isAsciiLetter(s.charAt(i))) {
                return false;
            }
        }
        return !s.isEmpty();
    }

    private static boolean isAsciiLetter(char c) {
        return c >= 'a' && c <= 'z';
    }
}
