package dev.caravan.policy.guardrail.pii;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** Runs the public detector with every entity on and reads back what each finding covers. */
final class DetectorFixture {
    static final PiiDetector DETECTOR = new PiiDetector(Set.of());

    private DetectorFixture() {
    }

    /** "ENTITY:kind:covered text" for every finding, in order. */
    static List<String> found(String text) {
        return found(DETECTOR, text);
    }

    static List<String> found(PiiDetector detector, String text) {
        return detector.find(text, EnumSet.allOf(Entity.class)).stream()
                .map(f -> f.entity() + ":" + f.kind() + ":" + text.substring(f.start(), f.end()))
                .toList();
    }
}
