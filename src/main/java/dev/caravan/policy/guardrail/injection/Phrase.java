package dev.caravan.policy.guardrail.injection;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One attack pattern and the literal words a text must contain before the pattern is worth running: at least one
 * word of every group (a hint of letters is a word's start, see {@link Reading#has}). A regex with a leading alternation costs 20-50 us per KB whether or not it matches, and a
 * rule has ten of them; {@code String.contains} of a few hints costs well under a microsecond, and most prompts
 * contain none, so the regexes run only on the texts that might match.
 */
record Phrase(Pattern pattern, List<List<Reading.Hint>> hints) {

    /** A pattern worth running when the text contains any of {@code anyOf}. */
    static Phrase of(String regex, String... anyOf) {
        return new Phrase(Pattern.compile(regex), List.of(hints(anyOf)));
    }

    /** This pattern, worth running only when the text also contains one of {@code anyOf}. */
    Phrase and(String... anyOf) {
        List<List<Reading.Hint>> more = new ArrayList<>(hints);
        more.add(hints(anyOf));
        return new Phrase(pattern, List.copyOf(more));
    }

    private static List<Reading.Hint> hints(String... words) {
        return java.util.Arrays.stream(words).map(Reading.Hint::of).toList();
    }

    boolean worthRunning(Reading reading) {
        for (List<Reading.Hint> group : hints) {
            boolean any = false;
            for (Reading.Hint hint : group) {
                if (reading.has(hint)) {
                    any = true;
                    break;
                }
            }
            if (!any) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether any phrase matches the reading outside the spans {@link Quotes} shields ({@code codeShields}: code
     * always shields, as for delimiter tokens in a template).
     */
    static boolean anyUnshielded(List<Phrase> phrases, Reading reading, boolean codeShields) {
        Quotes quotes = null;
        for (Phrase p : phrases) {
            if (!p.worthRunning(reading)) {
                continue;
            }
            Matcher m = p.pattern.matcher(reading.text);
            while (m.find()) {
                if (quotes == null) {
                    quotes = Quotes.of(reading.text);
                }
                if (!quotes.shields(m.start(), m.end(), codeShields)) {
                    return true;
                }
            }
        }
        return false;
    }
}
