package dev.caravan.policy.guardrail.injection;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One text prepared once for every phrase rule, in up to three readings, each lower case:
 * <ul>
 *   <li>{@link #lower}: NFKC (full-width and "mathematical" letters become ASCII), lower-cased;</li>
 *   <li>{@link #visible}: {@code lower} without invisible format characters (zero-width spaces and joiners, word
 *       joiner, soft hyphen, bidi controls, tag characters), so "ig(U+200B)nore" reads "ignore"; {@code null} when the
 *       text has none;</li>
 *   <li>{@link #plain}: {@code visible} with leetspeak digits and symbols read as letters ("1gn0r3" reads "ignore"),
 *       Cyrillic and Greek look-alikes read as Latin, and letters spaced out one by one ("i g n o r e", "i.g.n.o.r.e") joined;
 *       {@code null} when that changes nothing (and not built at all for a text with no such character, nearly all).</li>
 * </ul>
 * The semantic detector embeds {@link #forEmbedding} instead: NFKC and visible, case kept.
 */
final class Folded {

    final String lower;
    final String visible;
    final String plain;
    /** {@link #plain} with a leetspeak "1" read as "l" ("a11", "ru1es") instead of "i" ("1gn0r3"); null when the same. */
    final String plainL;
    /** Runs of single letters spaced out with single spaces ("i g n o r e a l l"), joined: their word breaks are lost. */
    final List<String> squashed;

    private Folded(String lower, String visible, String plain, String plainL, List<String> squashed) {
        this.lower = lower;
        this.visible = visible;
        this.plain = plain;
        this.plainL = plainL;
        this.squashed = squashed;
    }

    static Folded of(String text) {
        String lower = nfkc(text).toLowerCase(Locale.ROOT);
        String visible = stripInvisible(lower);
        String base = visible == null ? lower : visible;
        if (!mayBeObfuscated(base)) {
            return new Folded(lower, visible, null, null, List.of());
        }
        List<String> squashed = new ArrayList<>(0);
        String plain = deobfuscate(base, 'i', squashed);
        String plainL = base.indexOf('1') < 0 ? plain : deobfuscate(base, 'l', new ArrayList<>());
        return new Folded(lower, visible, plain.equals(base) ? null : plain, plainL.equals(plain) ? null : plainL, squashed);
    }

    /**
     * Whether {@code text} has a leetspeak character next to a letter, a look-alike letter, or three single letters in
     * a row ("i g n"): a scan of the characters, much cheaper than building {@link #plain} for the 99 % without.
     */
    private static boolean mayBeObfuscated(String text) {
        int singles = 0;
        int n = text.length();
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            boolean wordChar;
            if (c < 0x80) {
                wordChar = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
                boolean leet = (c >= '0' && c <= '9' && c != '2' && c != '6') || c == '!' || c == '|' || c == '@' || c == '$' || c == '+';
                if (leet) {
                    boolean after = i + 1 < n && Character.isLetter(text.charAt(i + 1));
                    // a symbol counts before a letter only: "help!" ends a sentence, "h!dden" hides an i
                    boolean before = c >= '0' && c <= '9' && i > 0 && Character.isLetter(text.charAt(i - 1));
                    if (after || before) {
                        return true;
                    }
                }
            } else {
                if (c >= 0x370 && c <= 0x45F) {
                    return true; // Greek or Cyrillic: may be a look-alike
                }
                wordChar = Character.isLetterOrDigit(c);
            }
            if (!wordChar) {
                continue;
            }
            boolean alone = (i == 0 || !Character.isLetterOrDigit(text.charAt(i - 1)))
                    && (i + 1 == n || !Character.isLetterOrDigit(text.charAt(i + 1)));
            if (!alone) {
                singles = 0;
            } else if (++singles >= 3) {
                return true;
            }
        }
        return false;
    }

    /** The text the embedder sees: NFKC, invisible characters removed, case kept. */
    static String forEmbedding(String text) {
        String n = nfkc(text);
        String v = stripInvisible(n);
        return v == null ? n : v;
    }

    private static String nfkc(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) >= 0x80) {
                return Normalizer.isNormalized(text, Normalizer.Form.NFKC) ? text : Normalizer.normalize(text, Normalizer.Form.NFKC);
            }
        }
        return text; // ASCII is its own NFKC form: most prompts skip the normalizer's tables
    }

    /** Whether {@code c} (a UTF-16 unit) renders as nothing: the characters a hidden-text trick hides behind. */
    static boolean isInvisible(char c) {
        return (c >= '\u200B' && c <= '\u200F') // zero-width space, non-joiner, joiner, LRM, RLM
                || (c >= '\u202A' && c <= '\u202E') // bidi embeddings and overrides
                || (c >= '\u2060' && c <= '\u2064') // word joiner, invisible operators
                || (c >= '\u2066' && c <= '\u2069') // bidi isolates
                || c == '\uFEFF' || c == '\u00AD' || c == '\u180E' || c == '\u034F';
    }

    /** {@code text} without invisible characters and tag characters (U+E0000-E007F), or null when it has none. */
    static String stripInvisible(String text) {
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean tag = c == '\uDB40' && i + 1 < text.length() && text.charAt(i + 1) >= '\uDC00'
                    && text.charAt(i + 1) <= '\uDC7F';
            if (tag || isInvisible(c)) {
                if (out == null) {
                    out = new StringBuilder(text.length()).append(text, 0, i);
                }
                if (tag) {
                    i++;
                }
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? null : out.toString();
    }

    // a run of three or more single letters, each followed by one separator: "i g n o r e", "i-g-n-o-r-e"
    private static final Pattern SPACED = Pattern.compile("(?<![\\p{L}\\p{N}])[\\p{L}\\p{N}]([ .\\-_*·|/])(?:[\\p{L}\\p{N}][ .\\-_*·|/]){1,}[\\p{L}\\p{N}](?![\\p{L}\\p{N}])");

    private static String deobfuscate(String text, char one, List<String> squashed) {
        StringBuilder b = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            b.append(plainLetter(text, i, one));
        }
        String mapped = b.toString();
        Matcher m = SPACED.matcher(mapped);
        if (!m.find()) {
            return mapped;
        }
        StringBuilder joined = new StringBuilder(mapped.length());
        int last = 0;
        do {
            String run = m.group();
            char separator = run.charAt(1);
            // "r-e-v-e-a-l y-o-u-r": drop the dashes, keep the spaces; "i g n o r e a l l": the spaces are all there is
            String letters = run.replace(String.valueOf(separator), "");
            joined.append(mapped, last, m.start()).append(letters);
            if (separator == ' ' && letters.length() >= 6) {
                squashed.add(letters);
            }
            last = m.end();
        } while (m.find());
        return joined.append(mapped, last, mapped.length()).toString();
    }

    /**
     * The letter a leetspeak character stands for, when it stands between letters or at a word's edge next to one
     * ("pr3v10us", "4ll") or alone; a digit among digits ("2024") stays a digit.
     */
    private static char plainLetter(String text, int i, char one) {
        char c = text.charAt(i);
        char letter = switch (c) {
            case '0' -> 'o';
            case '1' -> one;
            case '!', '|' -> 'i';
            case '3' -> 'e';
            case '4', '@' -> 'a';
            case '5', '$' -> 's';
            case '7', '+' -> 't';
            case '8' -> 'b';
            case '9' -> 'g';
            // Cyrillic letters that look Latin
            case 'а' -> 'a';
            case 'е' -> 'e';
            case 'о' -> 'o';
            case 'р' -> 'p';
            case 'с' -> 'c';
            case 'у' -> 'y';
            case 'х' -> 'x';
            case 'і' -> 'i';
            case 'ѕ' -> 's';
            // Greek letters that look Latin
            case 'α' -> 'a';
            case 'ε' -> 'e';
            case 'ι' -> 'i';
            case 'κ' -> 'k';
            case 'ν' -> 'v';
            case 'ο' -> 'o';
            case 'ρ' -> 'p';
            case 'τ' -> 't';
            case 'υ' -> 'u';
            default -> c;
        };
        if (letter == c || c >= 'α') { // a look-alike letter is read as Latin wherever it stands
            return letter;
        }
        boolean before = i > 0 && letterLike(text.charAt(i - 1));
        boolean after = i + 1 < text.length() && letterLike(text.charAt(i + 1));
        if (!Character.isDigit(c)) {
            return after ? letter : c; // a symbol stands for a letter only before one: "d!sregard", "@ll", not "hello!"
        }
        // alone between separators, as in "1 g n 0 r 3": read it as a letter; "page 3" becoming "page e" harms nothing
        boolean alone = (i == 0 || !Character.isLetterOrDigit(text.charAt(i - 1)))
                && (i + 1 == text.length() || !Character.isLetterOrDigit(text.charAt(i + 1)));
        return before || after || alone ? letter : c;
    }

    /** A letter, or a digit leetspeak uses for one: in "a11" each 1 has a letter-like neighbour. */
    private static boolean letterLike(char c) {
        return Character.isLetter(c) || c == '0' || c == '1' || c == '3' || c == '4' || c == '5' || c == '7';
    }
}
