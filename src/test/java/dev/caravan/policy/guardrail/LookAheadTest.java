package dev.caravan.policy.guardrail;

import static dev.caravan.policy.guardrail.StreamFixture.ALL_PII;
import static org.assertj.core.api.Assertions.assertThat;

import dev.caravan.policy.guardrail.pii.Entity;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.regex.Pattern;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LookAheadTest {

    @Test
    void proseIsReleasedAtOnceButForItsTrailingPartialWord() {
        LookAhead buffer = LookAhead.checking(ALL_PII, Action.REDACT);
        assertThat(buffer.push("Hello there, how are ")).isIn("Hello there, how are", "Hello there, how are ");
        assertThat(buffer.held()).isZero();

        LookAhead chunked = LookAhead.checking(ALL_PII, Action.REDACT);
        StringBuilder released = new StringBuilder();
        String text = "Hello there, how are you doing today? Fine, thanks.";
        for (int i = 0; i < text.length(); i += 4) {
            released.append(chunked.push(text.substring(i, Math.min(text.length(), i + 4))));
            String sofar = text.substring(0, Math.min(text.length(), i + 4));
            String partialWord = sofar.substring(sofar.lastIndexOf(' ') + 1);
            assertThat(chunked.held()).as("held after %s", sofar).isEqualTo(partialWord.length());
        }
        assertThat(released.append(chunked.finish()).toString()).isEqualTo(text);
    }

    @Test
    void aHitIsReleasedTransformedOnceItCanNoLongerGrow() {
        LookAhead buffer = LookAhead.checking(ALL_PII, Action.REDACT);
        assertThat(buffer.push("write jane@exam")).isEqualTo("write ");
        assertThat(buffer.push("ple.com")).isEmpty();
        assertThat(buffer.push(" today")).isEqualTo("[EMAIL] ");
        assertThat(buffer.finish()).isEqualTo("today");
        assertThat(buffer.position()).isEqualTo("write jane@example.com today".length());
    }

    @Test
    void finishReleasesAndTransformsEverythingHeld() {
        LookAhead buffer = LookAhead.checking(ALL_PII, Action.MASK);
        assertThat(buffer.push("card 4111 1111 1111 1111")).isEqualTo("card ");
        assertThat(buffer.finish()).isEqualTo("**** **** **** 1111");
        assertThat(buffer.held()).isZero();
    }

    @Test
    void aStreamCutAnywhereComesOutExactlyAsTheWholeTextWould() {
        List<String> answers = List.of(
                "Hi Jane (jane.doe@example.com, +44 20 7946 0958). Refund card 4111 1111 1111 1111 to "
                        + "DE89 3704 0044 0532 0130 00; server 10.0.0.5 logged it, ssn 078-05-1120.",
                "Call (212) 456-7890 or write bob@y.org.\nCard:4111-1111-1111-1111, version 1.2.3.4 is fine.",
                "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7s\nq2Lw==\n-----END RSA PRIVATE KEY-----\nthanks",
                "Numbers 2024 and 15 000 and 212 456 7890 4455 6677 are not PII; NASA IS GREAT; fe80::1 is an ip.",
                "About Project Falcon: the codename project falcon stays internal, jane@x.com knows.");
        ContentCheck withDeny = new ContentCheck(StreamFixture.DETECTOR, EnumSet.allOf(Entity.class),
                List.of(Pattern.compile("(?i)project \\w+")));
        Random random = new Random(42);
        for (String answer : answers) {
            for (TextCheck check : List.of(ALL_PII, withDeny)) {
                for (Action action : List.of(Action.REDACT, Action.MASK)) {
                    streamsLikeTheWhole(answer, check, action, random);
                }
            }
        }
    }

    private static void streamsLikeTheWhole(String answer, TextCheck check, Action action, Random random) {
        String whole = Redaction.apply(answer, check.scan(answer), action);
        assertThat(whole).isNotEqualTo(answer);
        for (int trial = 0; trial < 40; trial++) {
            LookAhead buffer = LookAhead.checking(check, action);
            StringBuilder streamed = new StringBuilder();
            for (int i = 0; i < answer.length(); ) {
                int next = Math.min(answer.length(), i + 1 + random.nextInt(9));
                streamed.append(buffer.push(answer.substring(i, next)));
                i = next;
            }
            streamed.append(buffer.finish());
            assertThat(streamed.toString()).as("trial %d, %s, of %s", trial, action, answer).isEqualTo(whole);
        }
    }

    @Test
    void aVeryLongTokenNeverGrowsTheBufferPastTheBound() {
        Random random = new Random(7);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        StringBuilder token = new StringBuilder("eyJ");
        while (token.length() < 5000) {
            token.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        String text = "token " + token + " end";
        LookAhead buffer = LookAhead.checking(ALL_PII, Action.REDACT);
        StringBuilder released = new StringBuilder();
        int most = 0;
        for (int i = 0; i < text.length(); i += 7) {
            released.append(buffer.push(text.substring(i, Math.min(text.length(), i + 7))));
            most = Math.max(most, buffer.held());
        }
        released.append(buffer.finish());
        assertThat(most).isLessThanOrEqualTo(ALL_PII.maxHold());
        assertThat(released.toString()).isEqualTo(text);
    }

    @Test
    void aKeyBlockWithoutItsEndStaysWithinTheBoundAndItsStartIsRedacted() {
        Random random = new Random(3);
        String base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        StringBuilder block = new StringBuilder("-----BEGIN PRIVATE KEY-----");
        for (int line = 0; line < 120; line++) { // 7.8 KB of key lines and no END: larger than the bound
            block.append('\n');
            for (int i = 0; i < 64; i++) {
                block.append(base64.charAt(random.nextInt(base64.length())));
            }
        }
        LookAhead buffer = LookAhead.checking(ALL_PII, Action.REDACT);
        StringBuilder released = new StringBuilder();
        int most = 0;
        for (int i = 0; i < block.length(); i += 16) {
            released.append(buffer.push(block.substring(i, Math.min(block.length(), i + 16))));
            most = Math.max(most, buffer.held());
        }
        released.append(buffer.finish());
        assertThat(most).isLessThanOrEqualTo(ALL_PII.maxHold());
        assertThat(released.toString()).startsWith("[SECRET]").doesNotContain("BEGIN");
    }

    @Test
    void aHitCrossingTheBoundIsReleasedWholeAndTransformed() {
        // a check that holds everything and finds one hit: the bound forces a release inside the hit
        TextCheck holdAll = new TextCheck() {
            @Override
            public List<Hit> scan(String text) {
                int at = text.indexOf("SECRET");
                return at < 0 ? List.of() : List.of(new Hit(at, at + 6, "deny", "pattern-1"));
            }

            @Override
            public int holdFrom(CharSequence text) {
                return 0;
            }

            @Override
            public int maxHold() {
                return 10;
            }
        };
        LookAhead buffer = LookAhead.checking(holdAll, Action.REDACT);
        List<String> out = new ArrayList<>();
        for (String piece : List.of("abcSE", "CRETxyzuvw")) {
            out.add(buffer.push(piece));
        }
        assertThat(out).containsExactly("", "abc[REDACTED]");
        assertThat(buffer.held()).isEqualTo(6);
        assertThat(buffer.finish()).isEqualTo("xyzuvw");
    }

    @Test
    void restoringHoldsAPlaceholderSplitAcrossPiecesAndNothingElse() {
        Placeholders p = new Placeholders();
        p.deidentify("jane@x.com", ALL_PII.scan("jane@x.com"));
        LookAhead buffer = LookAhead.restoring(p, false);
        assertThat(buffer.push("Mail <EM")).isEqualTo("Mail ");
        assertThat(buffer.push("AIL_")).isEmpty();
        assertThat(buffer.push("1> now, a<b")).isEqualTo("jane@x.com now, a<b");
        assertThat(buffer.push(" <B")).isEqualTo(" ");
        assertThat(buffer.push("R>")).isEqualTo("<BR>");
        assertThat(buffer.finish()).isEmpty();
    }
}
