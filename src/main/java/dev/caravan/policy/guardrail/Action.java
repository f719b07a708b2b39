package dev.caravan.policy.guardrail;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What a guard does with what it finds ({@code guardrails.policies.*.pii.input|output}, {@code injection.input}).
 * Config names are the contract.
 */
public enum Action {
    /** Replace the finding with its label: {@code [EMAIL]}. */
    REDACT("redact"),
    /** Keep the last four characters, star the rest: {@code ****-****-****-1111}. */
    MASK("mask"),
    /** Input only: the provider gets a placeholder ({@code <EMAIL_1>}), the client the original back. */
    DEIDENTIFY("deidentify"),
    /** Refuse: 400 {@code guardrail_blocked} naming the guard and the entity, never the text. */
    BLOCK("block"),
    /** Let it through; log it (without the text) and count it. */
    ALERT("alert"),
    /** Do nothing. */
    OFF("off");

    private final String configName;

    Action(String configName) {
        this.configName = configName;
    }

    public String configName() {
        return configName;
    }

    /** The action a config file names; case-insensitive (the loader has already read YAML's bare off as "off"). */
    public static Action named(String name) {
        String wanted = name.trim().toLowerCase(Locale.ROOT);
        for (Action a : values()) {
            if (a.configName.equals(wanted)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown guardrail action '" + name + "'; known: "
                + Arrays.stream(values()).map(Action::configName).collect(Collectors.joining(", ")));
    }
}
