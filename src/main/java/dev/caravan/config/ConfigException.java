package dev.caravan.config;

import java.util.List;

/** A config file that cannot be used; {@link #problems()} says why, one line each, without secrets. */
public class ConfigException extends Exception {
    private final List<String> problems;

    public ConfigException(String source, List<String> problems) {
        super(source + " is invalid: " + String.join("; ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
