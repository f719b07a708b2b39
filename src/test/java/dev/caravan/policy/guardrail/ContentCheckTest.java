package dev.caravan.policy.guardrail;

import static dev.caravan.policy.guardrail.StreamFixture.ALL_PII;
import static dev.caravan.policy.guardrail.StreamFixture.DETECTOR;
import static org.assertj.core.api.Assertions.assertThat;

import dev.caravan.policy.guardrail.pii.Entity;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class ContentCheckTest {

    /** What holdFrom keeps back of a text. */
    private static String held(TextCheck check, String text) {
        return text.substring(check.holdFrom(text));
    }

    @Test
    void scanNamesPiiByEntityAndDenyPatternsByPosition() {
        ContentCheck check = new ContentCheck(DETECTOR, Set.of(Entity.EMAIL),
                List.of(Pattern.compile("falcon"), Pattern.compile("(?i)project \\w+")));
        String text = "Write jane@x.com about Project Falcon and falcon.";
        assertThat(check.scan(text)).containsExactly(
                new Hit(6, 16, "pii", "email"), new Hit(23, 37, "deny", "pattern-2"), new Hit(42, 48, "deny", "pattern-1"));
    }

    @Test
    void overlappingHitsAreMergedTheLongerWinning() {
        ContentCheck check = new ContentCheck(DETECTOR, Set.of(Entity.EMAIL), List.of(Pattern.compile("jane"),
                Pattern.compile("mail jane@x\\.com now")));
        assertThat(check.scan("mail jane@x.com now")).containsExactly(new Hit(0, 19, "deny", "pattern-2"));
        ContentCheck shorter = new ContentCheck(DETECTOR, Set.of(Entity.EMAIL), List.of(Pattern.compile("jane")));
        assertThat(shorter.scan("mail jane@x.com now")).containsExactly(new Hit(5, 15, "pii", "email"));
    }

    @Test
    void onlyTheConfiguredEntitiesAreFound() {
        ContentCheck cards = new ContentCheck(DETECTOR, Set.of(Entity.CARD), List.of());
        assertThat(cards.scan("jane@x.com 4111 1111 1111 1111")).extracting(Hit::entity).containsExactly("card");
    }

    @Test
    void proseIsHeldByNoMoreThanItsTrailingPartialWord() {
        assertThat(held(ALL_PII, "Hello there, how are ")).isEmpty();
        assertThat(held(ALL_PII, "Hello there, how ar")).isEqualTo("ar");
        assertThat(held(ALL_PII, "Write to jane.doe@exa")).isEqualTo("jane.doe@exa");
        assertThat(held(ALL_PII, "In 2024 we shipped ")).isEmpty();
        assertThat(held(ALL_PII, "NASA IS GREAT")).isEqualTo("GREAT");
    }

    @Test
    void theDigitGroupsOfACardPhoneIbanOrSsnStillGrowingAreHeld() {
        assertThat(held(ALL_PII, "Card 4111 1111 11")).isEqualTo("4111 1111 11");
        assertThat(held(ALL_PII, "Card 4111 1111 ")).isEqualTo("4111 1111 ");
        assertThat(held(ALL_PII, "call (212) 456-")).isEqualTo("(212) 456-");
        assertThat(held(ALL_PII, "ring +44 20 7946 ")).isEqualTo("+44 20 7946 ");
        assertThat(held(ALL_PII, "pay DE89 3704 0044 0532 ")).isEqualTo("DE89 3704 0044 0532 ");
        assertThat(held(ALL_PII, "ssn 078 05 ")).isEqualTo("078 05 ");
        assertThat(held(ALL_PII, "card:4111 1111 ")).isEqualTo("4111 1111 ");
    }

    @Test
    void aWordThatCannotBeAGroupEndsTheEntityBeforeIt() {
        assertThat(held(ALL_PII, "Card 4111 1111 1111 1111, thanks")).isEqualTo("thanks");
        assertThat(held(ALL_PII, "Card 4111 1111 1111 1111, ")).isEmpty();
        assertThat(held(ALL_PII, "Card 4111 1111\n")).isEmpty();
        assertThat(held(ALL_PII, "Card 4111 1111\nAB")).isEqualTo("AB");
    }

    @Test
    void onlyWordsWithinTheLongestGroupedEntityAreHeld() {
        String digits = "1234 ".repeat(20); // 100 chars of digit groups: only the last 48 can still be a card
        assertThat(held(ALL_PII, digits).length()).isLessThanOrEqualTo(ContentCheck.MAX_GROUPED_SPAN);
    }

    @Test
    void withoutMultiWordEntitiesDigitGroupsAreNotHeld() {
        ContentCheck emails = new ContentCheck(DETECTOR, Set.of(Entity.EMAIL), List.of());
        assertThat(held(emails, "Card 4111 1111 ")).isEmpty();
    }

    @Test
    void aPrivateKeyBlockIsHeldUntilItsEndLine() {
        String begin = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7s\nq2Lw==\n";
        assertThat(held(ALL_PII, "key:\n-----BEGIN RSA ")).isEqualTo("-----BEGIN RSA ");
        assertThat(held(ALL_PII, begin)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        assertThat(held(ALL_PII, begin + "-----END RSA PRIVATE KEY-----")).startsWith("-----BEGIN");
        assertThat(held(ALL_PII, begin + "-----END RSA PRIVATE KEY-----\n")).isEmpty();
        assertThat(held(ALL_PII, "-----BEGIN CERTIFICATE-----\nMIIB\n")).isEmpty();
    }

    @Test
    void denyPatternsHoldOnlyWhatCouldStillBeginAMatchAndAMatchStillGrowing() {
        ContentCheck deny = new ContentCheck(DETECTOR, Set.of(), List.of(Pattern.compile("secret-\\w+")), 16);
        String prose = "a plain sentence that is long enough to hold ";
        assertThat(held(deny, prose)).isEmpty(); // nothing in it can begin "secret-"
        assertThat(held(deny, "the word sec")).isEqualTo("sec");
        assertThat(held(deny, "keep it secret")).isEqualTo("secret");
        assertThat(held(deny, "keep it secret-")).isEqualTo("secret-");
        assertThat(held(deny, "keep it secrets ")).isEmpty(); // "secrets" can no longer become "secret-..."
        String growing = "see secret-" + "x".repeat(30);
        assertThat(held(deny, growing)).isEqualTo("secret-" + "x".repeat(30));
    }

    @Test
    void nothingIsHeldWhenNothingIsChecked() {
        ContentCheck none = new ContentCheck(DETECTOR, Set.of(), List.of());
        assertThat(held(none, "jane@exa")).isEmpty();
    }

    @Test
    void holdingNeverReachesFurtherBackThanTheBound() {
        String token = "x".repeat(10_000);
        assertThat(held(ALL_PII, token)).hasSize(ALL_PII.maxHold());
        assertThat(ALL_PII.maxHold()).isEqualTo(ContentCheck.MAX_HOLD);
        ContentCheck cards = new ContentCheck(DETECTOR, EnumSet.of(Entity.CARD), List.of());
        assertThat(held(cards, "a " + token)).hasSize(ContentCheck.MAX_HOLD);
    }
}
