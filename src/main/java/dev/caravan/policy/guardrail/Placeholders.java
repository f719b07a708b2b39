package dev.caravan.policy.guardrail;

import com.fasterxml.jackson.core.io.JsonStringEncoder;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One request's de-identified originals, for {@link Action#DEIDENTIFY}: the provider reads {@code <EMAIL_1>},
 * {@code <PHONE_1>}, {@code <CARD_2>}, the client gets the originals back in the answer. Numbers count per entity
 * from 1 and are stable within this object: the same original text always gets the same placeholder.
 *
 * <p>Never colliding: placeholder-shaped text already in the request ({@code <EMAIL_1>} typed by the user) is
 * reserved and its number skipped, so the model never sees one token with two meanings and such text is never
 * "restored". {@link #deidentify} reserves what is in the text it is given; call {@link #reserve} on the request's
 * other text parts first when a literal may sit in a part that is de-identified later.
 *
 * <p>Bounded: at most {@value #MAX_ENTRIES} originals per request and {@value #MAX_RESERVED} reserved literals;
 * beyond either, hits are redacted ({@code [EMAIL]}) instead, which the answer cannot restore but which never leaks.
 *
 * <p>Thread-safe: written on the request's thread (the input), read on the stream's event loop (the answer); every
 * method holds this object's lock, which is uncontended, and text without a '&lt;' is restored without taking it.
 */
public final class Placeholders {

    public static final int MAX_ENTRIES = 1000;
    public static final int MAX_RESERVED = 4 * MAX_ENTRIES;

    private static final Pattern SHAPE = Pattern.compile("<[A-Z]+_\\d{1,9}>");

    private final Map<String, String> placeholderOf = new HashMap<>();  // original -> placeholder
    private final Map<String, String> originalOf = new HashMap<>();     // placeholder -> original
    private final Map<String, Integer> lastNumber = new HashMap<>();    // label -> last number given
    private final Set<String> reserved = new HashSet<>();
    private boolean saturated; // more reserved literals than the bound: no number can be promised free
    private int maxLength;     // the longest placeholder given, for the stream's look-ahead

    /** Marks the placeholder-shaped literals in a text of the request as taken. */
    public synchronized void reserve(CharSequence text) {
        String s = text.toString();
        if (s.indexOf('<') < 0) {
            return;
        }
        Matcher m = SHAPE.matcher(s);
        while (m.find()) {
            if (reserved.size() >= MAX_RESERVED) {
                saturated = true;
                return;
            }
            reserved.add(m.group());
        }
    }

    /**
     * The text with each PII hit replaced by its placeholder; a hit of another guard (a deny pattern) is redacted
     * with its label instead, in the same pass: what an operator forbids is not sent, nor restored later.
     *
     * @param hits hits in {@code text} (from {@link TextCheck#scan}); any order
     */
    public synchronized String deidentify(String text, List<Hit> hits) {
        if (hits.isEmpty()) {
            return text;
        }
        reserve(text);
        List<Hit> sorted = new ArrayList<>(hits);
        sorted.sort(Comparator.comparingInt(Hit::start));
        StringBuilder out = new StringBuilder(text.length() + 12 * hits.size());
        int at = 0;
        for (Hit hit : sorted) {
            if (hit.end() > text.length()) {
                throw new IllegalArgumentException("hit " + hit + " lies outside a text of " + text.length() + " chars");
            }
            if (hit.end() <= at) {
                continue;
            }
            int start = Math.max(hit.start(), at);
            out.append(text, at, start).append(replacement(hit, text.substring(start, hit.end())));
            at = hit.end();
        }
        return out.append(text, at, text.length()).toString();
    }

    private String replacement(Hit hit, String original) {
        if (!hit.guard().equals("pii")) {
            return hit.label();
        }
        String known = placeholderOf.get(original);
        if (known != null) {
            return known;
        }
        if (saturated || originalOf.size() >= MAX_ENTRIES) {
            return hit.label();
        }
        String label = label(hit.entity());
        int n = lastNumber.getOrDefault(label, 0);
        String placeholder;
        do {
            n++;
            placeholder = "<" + label + "_" + n + ">";
        } while (reserved.contains(placeholder));
        lastNumber.put(label, n);
        placeholderOf.put(original, placeholder);
        originalOf.put(placeholder, original);
        maxLength = Math.max(maxLength, placeholder.length());
        return placeholder;
    }

    /** EMAIL for "email": capitals only, so every placeholder has the one shape {@code <[A-Z]+_n>}. */
    private static String label(String entity) {
        StringBuilder label = new StringBuilder(entity.length());
        for (char c : entity.toUpperCase(Locale.ROOT).toCharArray()) {
            if (c >= 'A' && c <= 'Z') {
                label.append(c);
            }
        }
        return label.isEmpty() ? "PII" : label.toString();
    }

    /** The text with this request's placeholders replaced by their originals; other text, look-alikes too, as is. */
    public String restore(String text) {
        return restore(text, false);
    }

    /**
     * Like {@link #restore}, for text that is the content of a JSON string (tool-call arguments as they stream):
     * each original is written JSON-escaped, so a quote or backslash in it keeps the arguments valid JSON.
     */
    public String restoreInJson(String jsonStringContent) {
        return restore(jsonStringContent, true);
    }

    private String restore(String text, boolean json) {
        if (text == null || text.indexOf('<') < 0) {
            return text;
        }
        synchronized (this) {
            if (originalOf.isEmpty()) {
                return text;
            }
            StringBuilder out = null;
            int at = 0;
            int len = text.length();
            for (int open = text.indexOf('<'); open >= 0; open = text.indexOf('<', open + 1)) {
                int close = -1;
                for (int i = open + 1; i < Math.min(len, open + maxLength); i++) { // at most one placeholder long
                    char c = text.charAt(i);
                    if (c == '>') {
                        close = i;
                        break;
                    }
                    if (!isShapeChar(c)) {
                        break;
                    }
                }
                String original = close < 0 ? null : originalOf.get(text.substring(open, close + 1));
                if (original != null) {
                    if (out == null) {
                        out = new StringBuilder(len + 32);
                    }
                    out.append(text, at, open).append(json ? escaped(original) : original);
                    at = close + 1;
                    open = close;
                }
            }
            return out == null ? text : out.append(text, at, len).toString();
        }
    }

    private static String escaped(String original) {
        return new String(JsonStringEncoder.getInstance().quoteAsString(original));
    }

    private static boolean isShapeChar(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }

    /**
     * For an answer still streaming: the index of a trailing '&lt;' whose following text could still grow into a
     * placeholder ("&lt;EM", "&lt;EMAIL_", "&lt;EMAIL_1"), else the text's length. Holds at most one placeholder.
     */
    public synchronized int holdFrom(CharSequence text) {
        int len = text.length();
        int stop = Math.max(0, len - (maxLength - 1));
        for (int i = len - 1; i >= stop; i--) {
            char c = text.charAt(i);
            if (c == '<') {
                return i;
            }
            if (!isShapeChar(c)) {
                return len;
            }
        }
        return len;
    }

    /** The longest placeholder given so far (0 when none): how much a stream ever holds to restore one. */
    public synchronized int maxLength() {
        return maxLength;
    }

    public synchronized boolean isEmpty() {
        return originalOf.isEmpty();
    }

    /** How many originals this request de-identified. */
    public synchronized int size() {
        return originalOf.size();
    }
}
