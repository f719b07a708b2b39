package dev.caravan.policy.guardrail.pii;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Payment cards: 13-19 digits, either contiguous or in groups split by one kind of separator (space or dash) as
 * cards are printed (4-4-4-4[-1..3], Amex 4-6-5, Diners 4-6-4), passing Luhn and starting with a known issuer
 * prefix (13-digit Visa excepted, see {@link #issuer}). Luhn alone passes one random number in ten; the issuer
 * table removes most of the rest.
 */
final class CardRecognizer implements Recognizer {
    // At most 18 optional separators: bounded, so a long digit run costs a constant per start position.
    private static final Pattern CANDIDATE = Pattern.compile("(?<![\\w.,-])\\d(?:[ -]?\\d){12,22}(?![\\w-]|[.,]\\d)");

    @Override
    public Entity entity() {
        return Entity.CARD;
    }

    @Override
    public void find(String text, List<Finding> out) {
        Matcher m = CANDIDATE.matcher(text);
        while (m.find()) {
            String raw = m.group();
            if (!wellGrouped(raw)) {
                continue;
            }
            String digits = raw.replaceAll("[ -]", "");
            if (digits.length() < 13 || digits.length() > 19 || !luhn(digits)) {
                continue;
            }
            String issuer = issuer(digits);
            if (issuer != null) {
                out.add(new Finding(Entity.CARD, m.start(), m.end(), issuer));
            }
        }
    }

    static boolean wellGrouped(String raw) {
        boolean spaces = raw.indexOf(' ') >= 0;
        boolean dashes = raw.indexOf('-') >= 0;
        if (!spaces && !dashes) {
            return true;
        }
        if (spaces && dashes) {
            return false;
        }
        String[] groups = raw.split(spaces ? " " : "-");
        if (groups.length == 3 && groups[0].length() == 4 && groups[1].length() == 6
                && (groups[2].length() == 5 || groups[2].length() == 4)) {
            return true; // Amex 4-6-5, Diners 4-6-4
        }
        for (int i = 0; i < groups.length - 1; i++) {
            if (groups[i].length() != 4) {
                return false;
            }
        }
        int last = groups[groups.length - 1].length();
        return groups.length >= 4 && last >= 1 && last <= 4;
    }

    static boolean luhn(String digits) {
        int sum = 0;
        boolean twice = false;
        for (int i = digits.length() - 1; i >= 0; i--) {
            int d = digits.charAt(i) - '0';
            if (twice) {
                d *= 2;
                if (d > 9) {
                    d -= 9;
                }
            }
            sum += d;
            twice = !twice;
        }
        return sum % 10 == 0;
    }

    /** The issuer whose published prefix and length the number fits, or null. */
    static String issuer(String d) {
        int len = d.length();
        int p2 = Integer.parseInt(d.substring(0, 2));
        int p3 = Integer.parseInt(d.substring(0, 3));
        int p4 = Integer.parseInt(d.substring(0, 4));
        int p6 = Integer.parseInt(d.substring(0, 6));
        if ((p2 == 34 || p2 == 37) && len == 15) {
            return "amex";
        }
        // 13-digit Visa numbers are long out of circulation, and every tenth 13-digit id starting with 4 passes Luhn.
        if (d.charAt(0) == '4' && (len == 16 || len == 19)) {
            return "visa";
        }
        if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && len == 16) {
            return "mastercard";
        }
        if ((p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925))
                && len >= 16 && len <= 19) {
            return "discover";
        }
        if (p4 >= 3528 && p4 <= 3589 && len >= 16 && len <= 19) {
            return "jcb";
        }
        if (((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39) && len >= 14 && len <= 19) {
            return "diners";
        }
        if (p2 == 62 && len >= 16 && len <= 19) {
            return "unionpay";
        }
        if ((p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759 || p4 == 6761
                || p4 == 6762 || p4 == 6763) && len >= 12 && len <= 19) {
            return "maestro";
        }
        return null;
    }
}
