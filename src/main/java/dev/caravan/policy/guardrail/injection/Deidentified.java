package dev.caravan.policy.guardrail.injection;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * De-identification placeholders ({@code <EMAIL_1>}, {@code <PHONE_2>}, {@code [EMAIL]}, {@code [CARD]}) replaced by
 * an ordinary value of their kind before a text is embedded. The gateway de-identifies personal data before the
 * detector sees a request, so placeholders are common in what it scores; MiniLM reads an unknown bracketed capital
 * token as markup, and markup sits near the fake-delimiter attacks ({@code [INST]}, {@code <|im_start|>}): "Remind
 * [EMAIL] about the meeting." scored 0.66 against the attacks, "Remind sam@example.com about the meeting." reads as the
 * errand it is.
 *
 * <p>Only the embedding sees the substitute; the rules read the text as sent. The bracketed form without a number is
 * replaced only for the entity names in {@link #VALUES} ({@code [INST]}, {@code [SYSTEM]} stay); the numbered form
 * {@code <NAME_n>} for any upper-case name, which no chat template uses.
 */
final class Deidentified {

    /** An ordinary value per entity kind: the gateway's ({@code Entity}) and the usual NER labels. */
    private static final Map<String, String> VALUES = Map.ofEntries(
            Map.entry("EMAIL", "sam@example.com"), Map.entry("EMAIL_ADDRESS", "sam@example.com"),
            Map.entry("PHONE", "555 0100"), Map.entry("PHONE_NUMBER", "555 0100"),
            Map.entry("CARD", "4111 1111"), Map.entry("CREDIT_CARD", "4111 1111"),
            Map.entry("IBAN", "DE44 5001"), Map.entry("SSN", "078-05-1120"), Map.entry("IP", "10.0.0.7"),
            Map.entry("IP_ADDRESS", "10.0.0.7"), Map.entry("SECRET", "abc123"),
            Map.entry("PERSON", "Sam"), Map.entry("NAME", "Sam"), Map.entry("ADDRESS", "12 Main Street"),
            Map.entry("LOCATION", "Springfield"), Map.entry("CITY", "Springfield"), Map.entry("DATE", "May 4"),
            Map.entry("URL", "example.com"), Map.entry("ORG", "Acme"), Map.entry("ORGANIZATION", "Acme"));
    private static final String DEFAULT = "12345"; // <ORDER_1>, <ACCOUNT_2>: an identifier

    private static final Pattern PLACEHOLDER = Pattern.compile("<([A-Z][A-Z]*(?:_[A-Z]+)*)_(\\d{1,4})>|[\\[<]([A-Z][A-Z_]*)[\\]>]");

    private Deidentified() {
    }

    /** {@code text} with its placeholders replaced; the same string when it has none. */
    static String normalize(String text) {
        if (text.indexOf('<') < 0 && text.indexOf('[') < 0) {
            return text;
        }
        Matcher m = PLACEHOLDER.matcher(text);
        StringBuilder out = null;
        int last = 0;
        while (m.find()) {
            String value;
            if (m.group(1) != null) {
                value = VALUES.getOrDefault(m.group(1), DEFAULT);
            } else {
                value = VALUES.get(m.group(3));
                if (value == null) {
                    continue; // [INST], <SYS>, [SYSTEM]: not a placeholder
                }
            }
            if (out == null) {
                out = new StringBuilder(text.length());
            }
            out.append(text, last, m.start()).append(value);
            last = m.end();
        }
        return out == null ? text : out.append(text, last, text.length()).toString();
    }
}
