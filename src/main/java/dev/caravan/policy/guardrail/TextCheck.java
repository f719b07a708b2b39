package dev.caravan.policy.guardrail;

import java.util.List;

/**
 * What one guardrail policy looks for in a text part (its PII entities and its deny patterns). Stateless and
 * shared between threads; runs on the event loop, so it is bounded CPU work (about half a millisecond per KB).
 */
public interface TextCheck {

    /** Non-overlapping hits, sorted by start. */
    List<Hit> scan(String text);

    /**
     * For a text that is still growing (a stream): the first index from which text yet to come could still complete
     * a hit that starts here, so everything before it can be released now. {@code text.length()} when nothing needs
     * holding; never more than {@link #maxHold()} characters before the end, unless a hit in progress is longer.
     */
    int holdFrom(CharSequence text);

    /** The most characters a stream is ever held back for this check (its look-ahead bound). */
    int maxHold();
}
