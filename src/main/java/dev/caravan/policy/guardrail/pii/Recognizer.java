package dev.caravan.policy.guardrail.pii;

import java.util.List;

/** One entity type's detector: a candidate pattern plus the validator that makes it more than a regex. */
interface Recognizer {
    Entity entity();

    /** Adds every validated finding in {@code text} to {@code out}; overlaps are resolved by the caller. */
    void find(String text, List<Finding> out);

    /** A letter, digit or underscore: a match touching one is mid-word. */
    static boolean isWordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }
}
