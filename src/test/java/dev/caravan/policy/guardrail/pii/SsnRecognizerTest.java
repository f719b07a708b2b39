package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SsnRecognizerTest {
    @Test
    void aDashedOrSpacedSsnIsFound() {
        assertThat(found("SSN 123-45-6789, spouse 536 90 4399"))
                .containsExactly("SSN:us-ssn:123-45-6789", "SSN:us-ssn:536 90 4399");
    }

    @Test
    void nineBareDigitsAreNotAnSsn() {
        assertThat(found("ref 123456789")).isEmpty();
    }

    @Test
    void neverIssuedAreasGroupsAndSerialsAreNotSsns() {
        assertThat(found("000-12-3456 666-12-3456 900-12-3456 999-12-3456 123-00-4567 123-45-0000")).isEmpty();
    }

    @Test
    void mixedSeparatorsAreNotAnSsn() {
        assertThat(found("123-45 6789")).isEmpty();
    }
}
