package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Set;
import org.junit.jupiter.api.Test;

class PhoneRecognizerTest {
    @Test
    void anInternationalNumberIsFoundInAnyRegionsFormat() {
        assertThat(found("Ring +44 20 7946 0958 or +81 3-3224-9999"))
                .containsExactly("PHONE:international:+44 20 7946 0958", "PHONE:international:+81 3-3224-9999");
    }

    @Test
    void aFormattedNationalNumberIsReadInTheDefaultRegion() {
        assertThat(found("call (212) 456-7890")).containsExactly("PHONE:national-us:(212) 456-7890");
    }

    @Test
    void theDefaultRegionIsConfigurable() {
        PiiDetector german = new PiiDetector(Set.of(), "DE");
        assertThat(found(german, "Ruf an: 030 901820")).containsExactly("PHONE:national-de:030 901820");
    }

    @Test
    void anUnknownRegionIsAConfigError() {
        assertThatThrownBy(() -> new PiiDetector(Set.of(), "XX")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aBareDigitRunIsAnIdNotAPhone() {
        assertThat(found("Order #2125550123 and epoch 2125550123")).isEmpty();
    }

    @Test
    void timestampsVersionsAndOrderNumbersAreNotPhones() {
        assertThat(found("2026-12-01T10:00:00Z, 2026-12-01 10:00:00, v10.15.7, ORD-212-456-7890")).isEmpty();
    }

    @Test
    void aRunOfMoreThanFifteenDigitsIsNotAPhoneBecauseE164AllowsFifteen() {
        assertThat(found("ref 212 456 7890 4455 6677")).isEmpty();
    }
}
