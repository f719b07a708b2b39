package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CardRecognizerTest {
    @Test
    void aGroupedVisaNumberIsOneCardFinding() {
        assertThat(found("card 4111 1111 1111 1111 exp 12/27")).containsExactly("CARD:visa:4111 1111 1111 1111");
    }

    @Test
    void anAmexInItsFourSixFiveGroupsIsACard() {
        assertThat(found("amex 3782-822463-10005")).containsExactly("CARD:amex:3782-822463-10005");
    }

    @Test
    void aCardNumberThatFailsLuhnIsNotACard() {
        assertThat(found("4111 1111 1111 1112")).isEmpty();
    }

    @Test
    void aLuhnValidNumberWithNoKnownIssuerIsNotACard() {
        assertThat(CardRecognizer.luhn("1234567812345670")).isTrue();
        assertThat(found("id 1234567812345670")).isEmpty();
    }

    @Test
    void mixedOrIrregularGroupingIsNotACard() {
        assertThat(found("4111-1111 1111-1111 and 41 11111111 111111")).isEmpty();
    }

    @Test
    void aCardInsideALongerNumberOrDecimalIsNotACard() {
        assertThat(found("41111111111111110 and 4111111111111111.50 and ORD-4111111111111111")).isEmpty();
    }

    @Test
    void issuersAreNamedByPrefixAndLength() {
        assertThat(CardRecognizer.issuer("5555555555554444")).isEqualTo("mastercard");
        assertThat(CardRecognizer.issuer("2223003122003222")).isEqualTo("mastercard");
        assertThat(CardRecognizer.issuer("6011111111111117")).isEqualTo("discover");
        assertThat(CardRecognizer.issuer("3530111333300000")).isEqualTo("jcb");
        assertThat(CardRecognizer.issuer("30569309025904")).isEqualTo("diners");
        assertThat(CardRecognizer.issuer("6200000000000005")).isEqualTo("unionpay");
        assertThat(CardRecognizer.issuer("4222222222222")).as("13-digit Visa is retired").isNull();
    }
}
