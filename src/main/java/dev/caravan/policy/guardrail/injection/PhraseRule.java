package dev.caravan.policy.guardrail.injection;

/**
 * A rule that looks for attack phrases in one lower-case reading of a text ({@link Folded}). Stateless: its
 * patterns are compiled once and shared by every thread.
 */
interface PhraseRule {

    /** The rule's name in a {@link InjectionDetector.Verdict} and in logs: {@code instruction-override}. */
    String name();

    /** Whether the reading holds the rule's phrase in a place where it is not merely quoted. */
    boolean matches(Reading reading);
}
