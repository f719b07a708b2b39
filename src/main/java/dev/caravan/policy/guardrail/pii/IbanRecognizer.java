package dev.caravan.policy.guardrail.pii;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * IBAN: two-letter country, two check digits and the BBAN, contiguous or in space-separated groups of four, upper
 * case as printed. The length must match the country's (ISO 13616 registry, the countries below) and the number
 * must pass mod-97 == 1, which a random string passes once in 97 tries.
 */
final class IbanRecognizer implements Recognizer {
    private static final Pattern CANDIDATE = Pattern.compile(
            "(?<![A-Za-z0-9])[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])");

    /** Country to total IBAN length; a country not listed is not flagged rather than guessed. */
    private static final Map<String, Integer> LENGTHS = Map.ofEntries(
            Map.entry("AD", 24), Map.entry("AE", 23), Map.entry("AT", 20), Map.entry("BA", 20), Map.entry("BE", 16),
            Map.entry("BG", 22), Map.entry("BH", 22), Map.entry("BR", 29), Map.entry("CH", 21), Map.entry("CY", 28),
            Map.entry("CZ", 24), Map.entry("DE", 22), Map.entry("DK", 18), Map.entry("EE", 20), Map.entry("ES", 24),
            Map.entry("FI", 18), Map.entry("FO", 18), Map.entry("FR", 27), Map.entry("GB", 22), Map.entry("GI", 23),
            Map.entry("GL", 18), Map.entry("GR", 27), Map.entry("HR", 21), Map.entry("HU", 28), Map.entry("IE", 22),
            Map.entry("IL", 23), Map.entry("IS", 26), Map.entry("IT", 27), Map.entry("KW", 30), Map.entry("KZ", 20),
            Map.entry("LB", 28), Map.entry("LI", 21), Map.entry("LT", 20), Map.entry("LU", 20), Map.entry("LV", 21),
            Map.entry("MC", 27), Map.entry("ME", 22), Map.entry("MK", 19), Map.entry("MT", 31), Map.entry("MU", 30),
            Map.entry("NL", 18), Map.entry("NO", 15), Map.entry("PK", 24), Map.entry("PL", 28), Map.entry("PS", 29),
            Map.entry("PT", 25), Map.entry("QA", 29), Map.entry("RO", 24), Map.entry("RS", 22), Map.entry("SA", 24),
            Map.entry("SE", 24), Map.entry("SI", 19), Map.entry("SK", 24), Map.entry("SM", 27), Map.entry("TN", 24),
            Map.entry("TR", 26), Map.entry("UA", 29), Map.entry("VA", 22), Map.entry("XK", 20));

    @Override
    public Entity entity() {
        return Entity.IBAN;
    }

    @Override
    public void find(String text, List<Finding> out) {
        Matcher m = CANDIDATE.matcher(text);
        while (m.find()) {
            String iban = m.group().replace(" ", "");
            Integer length = LENGTHS.get(iban.substring(0, 2));
            if (length != null && iban.length() == length && mod97(iban) == 1) {
                out.add(new Finding(Entity.IBAN, m.start(), m.end(), "iban-" + iban.substring(0, 2).toLowerCase()));
            }
        }
    }

    /** ISO 7064 mod 97-10 over the rearranged IBAN, digit by digit so no big integer is needed. */
    static int mod97(String iban) {
        String rearranged = iban.substring(4) + iban.substring(0, 4);
        int rest = 0;
        for (int i = 0; i < rearranged.length(); i++) {
            char c = rearranged.charAt(i);
            int v = Character.isDigit(c) ? c - '0' : c - 'A' + 10;
            rest = v >= 10 ? (rest * 100 + v) % 97 : (rest * 10 + v) % 97;
        }
        return rest;
    }
}
