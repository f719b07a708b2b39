package dev.caravan.policy.guardrail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class RedactionTest {

    @Test
    void redactWritesTheLabelOfEachHit() {
        String text = "mail jane@x.com, card 4111 1111 1111 1111, codename falcon";
        List<Hit> hits = List.of(new Hit(5, 15, "pii", "email"), new Hit(22, 41, "pii", "card"),
                new Hit(52, 58, "deny", "pattern-1"));
        assertThat(Redaction.apply(text, hits, Action.REDACT))
                .isEqualTo("mail [EMAIL], card [CARD], codename [REDACTED]");
    }

    @Test
    void maskKeepsTheLastFourLettersOrDigitsAndEverySeparator() {
        assertThat(Redaction.apply("4111 1111 1111 1111", List.of(new Hit(0, 19, "pii", "card")), Action.MASK))
                .isEqualTo("**** **** **** 1111");
        assertThat(Redaction.apply("ssn 078-05-1120.", List.of(new Hit(4, 15, "pii", "ssn")), Action.MASK))
                .isEqualTo("ssn ***-**-1120.");
        assertThat(Redaction.apply("jane@x.com", List.of(new Hit(0, 10, "pii", "email")), Action.MASK))
                .isEqualTo("****@x.com");
    }

    @Test
    void maskNeverShowsMoreThanHalfOfAShortSpan() {
        assertThat(Redaction.apply("abc", List.of(new Hit(0, 3, "deny", "pattern-1")), Action.MASK)).isEqualTo("**c");
        assertThat(Redaction.apply("10.0.0.5", List.of(new Hit(0, 8, "pii", "ip")), Action.MASK)).isEqualTo("**.*.0.5");
    }

    @Test
    void actionsThatDoNotRewriteLeaveTheTextAsItIs() {
        List<Hit> hits = List.of(new Hit(0, 4, "pii", "email"));
        for (Action a : List.of(Action.BLOCK, Action.ALERT, Action.OFF, Action.DEIDENTIFY)) {
            assertThat(Redaction.apply("jane", hits, a)).isEqualTo("jane");
        }
    }

    @Test
    void hitsInAnyOrderOrOverlappingAreWrittenOnce() {
        List<Hit> hits = List.of(new Hit(6, 9, "pii", "ip"), new Hit(0, 3, "pii", "email"), new Hit(1, 4, "pii", "card"));
        assertThat(Redaction.apply("abcdefghij", hits, Action.REDACT)).isEqualTo("[EMAIL][CARD]ef[IP]j");
    }

    @Test
    void aHitFromAnotherTextIsRefused() {
        assertThatThrownBy(() -> Redaction.apply("short", List.of(new Hit(2, 9, "pii", "email")), Action.REDACT))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
