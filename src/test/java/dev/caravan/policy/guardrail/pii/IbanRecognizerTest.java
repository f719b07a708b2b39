package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class IbanRecognizerTest {
    @Test
    void aContiguousIbanIsFound() {
        assertThat(found("IBAN DE89370400440532013000.")).containsExactly("IBAN:iban-de:DE89370400440532013000");
    }

    @Test
    void anIbanInGroupsOfFourIsOneFinding() {
        assertThat(found("to FR14 2004 1010 0505 0001 3M02 606 thanks"))
                .containsExactly("IBAN:iban-fr:FR14 2004 1010 0505 0001 3M02 606");
    }

    @Test
    void anIbanWithWrongCheckDigitsIsNotAnIban() {
        assertThat(found("DE88370400440532013000")).isEmpty();
    }

    @Test
    void anIbanOfTheWrongLengthForItsCountryIsNotAnIban() {
        assertThat(found("NL91ABNA04171643001")).isEmpty();
    }

    @Test
    void anUnlistedCountryIsNotGuessed() {
        assertThat(found("XX89370400440532013000")).isEmpty();
    }
}
