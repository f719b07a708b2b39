package dev.caravan.policy.guardrail.pii;

import com.google.i18n.phonenumbers.PhoneNumberMatch;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.PhoneNumberUtil.Leniency;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Phone numbers libphonenumber finds with {@link Leniency#VALID}: valid for their region, international
 * ({@code +44 20 7946 0958}) or national in the default region. A bare digit run without a "+" and without any
 * separator is not flagged: written that way it is usually an order, invoice or epoch timestamp, and people write
 * phone numbers with spaces, dashes, dots or parentheses. Neither is a number glued to a "-", "#" or "/" before it
 * (ORD-..., #..., paths) or a ":" after it (clock times), or inside a longer digit run.
 */
final class PhoneRecognizer implements Recognizer {
    private static final PhoneNumberUtil UTIL = PhoneNumberUtil.getInstance();

    /**
     * Runs of digits and phone punctuation with 7 to 15 digits (E.164 allows at most 15). findNumbers over whole
     * prose costs about 1 ms per KB (measured), so it only reads these spans: 20-40 us each, where a longer span
     * (a card, an IBAN) cost 120 us as it hunted for inner numbers. The glue checks still read the whole text.
     * Cost of the bound: two numbers joined only by " / " form one long span and are missed.
     */
    private static final Pattern SPAN = Pattern.compile("[+(]?\\d[\\d \\u00A0().\\-/]{5,40}\\d\\)?");

    /** A span that is just a date (2026-12-01, 01.12.2026, 12/01/2026): skipped before the costly call. */
    private static final Pattern DATE = Pattern.compile("\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}|\\d{1,2}[-/.]\\d{1,2}[-/.]\\d{2,4}");

    private final String defaultRegion;

    PhoneRecognizer(String defaultRegion) {
        if (!UTIL.getSupportedRegions().contains(defaultRegion)) {
            throw new IllegalArgumentException("unknown phone region '" + defaultRegion + "'");
        }
        this.defaultRegion = defaultRegion;
    }

    @Override
    public Entity entity() {
        return Entity.PHONE;
    }

    @Override
    public void find(String text, List<Finding> out) {
        Matcher span = SPAN.matcher(text);
        while (span.find()) {
            int digits = digits(span.group());
            if (digits >= 7 && digits <= 15 && !DATE.matcher(span.group().trim()).matches()) {
                findIn(text, span.start(), span.group(), out);
            }
        }
    }

    private void findIn(String text, int offset, String span, List<Finding> out) {
        for (PhoneNumberMatch match : UTIL.findNumbers(span, defaultRegion, Leniency.VALID, Long.MAX_VALUE)) {
            int start = offset + match.start();
            int end = offset + match.end();
            String raw = match.rawString();
            boolean international = raw.startsWith("+");
            boolean formatted = raw.chars().anyMatch(c -> c == ' ' || c == '-' || c == '.' || c == '(' || c == '/');
            if ((international || formatted) && !glued(text, start, end)) {
                out.add(new Finding(Entity.PHONE, start, end,
                        international ? "international" : "national-" + defaultRegion.toLowerCase()));
            }
        }
    }

    private static int digits(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); i++) {
            if (Character.isDigit(s.charAt(i))) {
                n++;
            }
        }
        return n;
    }

    private static boolean glued(String text, int start, int end) {
        if (start > 0) {
            char before = text.charAt(start - 1);
            if (before == '-' || before == '#' || before == '/' || before == '.' || Character.isLetterOrDigit(before)) {
                return true;
            }
        }
        // A ":" right after is a clock time (2026-12-01 10:00:00), which the span cut before its colon.
        return end < text.length()
                && (Character.isLetterOrDigit(text.charAt(end)) || text.charAt(end) == '-' || text.charAt(end) == ':');
    }
}
