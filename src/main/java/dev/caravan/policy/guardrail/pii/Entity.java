package dev.caravan.policy.guardrail.pii;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The kinds of personal data and secrets the guardrail can find. Config names are the contract
 * ({@code guardrails.policies.*.pii.entities}); labels are what a redaction writes in place of a finding.
 * Declared from most to least specific: at equal length, an earlier entity wins an overlap.
 */
public enum Entity {
    /** Provider API keys, private-key blocks, JWTs: pattern plus entropy or structure. */
    SECRET("secret"),
    /** IBAN: country length table and mod-97. */
    IBAN("iban"),
    /** Payment card: issuer prefix and Luhn. */
    CARD("card"),
    /** US social security number, dashed or spaced, area/group/serial rules. */
    SSN("ssn"),
    /** local@domain.tld. */
    EMAIL("email"),
    /** IPv4 (every range, loopback and private too: they identify hosts) and IPv6. */
    IP("ip"),
    /** Phone numbers valid for their region (libphonenumber). */
    PHONE("phone");

    private final String configName;

    Entity(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    /** What a redaction writes: {@code [EMAIL]}. */
    public String label() {
        return "[" + name() + "]";
    }

    /** The entity a config file names; case-insensitive, unknown names are a config error. */
    public static Entity named(String name) {
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        for (Entity e : values()) {
            if (e.configName.equals(wanted)) {
                return e;
            }
        }
        throw new IllegalArgumentException("unknown pii entity '" + name + "'; known: "
                + Arrays.stream(values()).map(Entity::configName).collect(Collectors.joining(", ")));
    }
}
