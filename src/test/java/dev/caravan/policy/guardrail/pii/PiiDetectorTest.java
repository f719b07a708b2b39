package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PiiDetectorTest {
    private static final String PROMPT = "Hi, I'm Jane (jane.doe@example.com, +44 20 7946 0958). Please refund card "
            + "4111 1111 1111 1111 to DE89 3704 0044 0532 0130 00; my server 10.0.0.5 logged it.";

    @Test
    void findingsAreSortedByStartAndNeverOverlap() {
        List<Finding> findings = DetectorFixture.DETECTOR.find(PROMPT, EnumSet.allOf(Entity.class));
        assertThat(findings).extracting(Finding::entity)
                .containsExactly(Entity.EMAIL, Entity.PHONE, Entity.CARD, Entity.IBAN, Entity.IP);
        for (int i = 1; i < findings.size(); i++) {
            assertThat(findings.get(i).start()).isGreaterThanOrEqualTo(findings.get(i - 1).end());
        }
    }

    @Test
    void onlyTheRequestedEntitiesAreFound() {
        assertThat(DetectorFixture.DETECTOR.find(PROMPT, Set.of(Entity.IP))).extracting(Finding::kind)
                .containsExactly("ipv4");
        assertThat(DetectorFixture.DETECTOR.find(PROMPT, Set.of())).isEmpty();
    }

    @Test
    void theLongerOfTwoOverlappingFindingsWins() {
        // An IPv4 literal as an email domain is part of the (longer) email, not a separate IP.
        assertThat(found("root@mail.10.0.0.5.example.com")).containsExactly("EMAIL:email:root@mail.10.0.0.5.example.com");
    }

    @Test
    void anAllowedWordIsNeverFlaggedWhateverItsCase() {
        PiiDetector detector = new PiiDetector(Set.of("Support@Example.com"));
        assertThat(found(detector, "write support@example.com or jane@example.com"))
                .containsExactly("EMAIL:email:jane@example.com");
    }

    @Test
    void entitiesAreNamedInConfigAndLabelledForRedaction() {
        assertThat(Entity.named("Email")).isEqualTo(Entity.EMAIL);
        assertThat(Entity.named("secret").label()).isEqualTo("[SECRET]");
        assertThatThrownBy(() -> Entity.named("passport")).hasMessageContaining("secret, iban, card");
    }

    @Test
    void aFindingCarriesOffsetsNotTheMatchedText() {
        Finding f = DetectorFixture.DETECTOR.find("ssn 123-45-6789", Set.of(Entity.SSN)).get(0);
        assertThat(f.toString()).doesNotContain("6789");
    }

    @Test
    void measuresFindOverOneAndSixtyFourKilobytes() {
        StringBuilder kb = new StringBuilder(PROMPT);
        while (kb.length() < 1024) {
            kb.append(" The deployment in us-east-1 on m5.large runs v1.2.3 since 2026-12-01T10:00:00Z.");
        }
        String oneKb = kb.substring(0, 1024);
        String big = (oneKb + " ").repeat(64);
        Set<Entity> all = EnumSet.allOf(Entity.class);
        PiiDetector detector = DetectorFixture.DETECTOR;
        for (int i = 0; i < 300; i++) { // warm up the JIT before measuring
            detector.find(oneKb, all);
        }
        for (int i = 0; i < 10; i++) {
            detector.find(big, all);
        }
        int runs = 1000;
        long t0 = System.nanoTime();
        for (int i = 0; i < runs; i++) {
            detector.find(oneKb, all);
        }
        double perKb = (System.nanoTime() - t0) / 1e6 / runs;
        long t1 = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            detector.find(big, all);
        }
        double per64 = (System.nanoTime() - t1) / 1e6 / 20;
        System.out.printf("PiiDetector.find: 1 KB prompt %.3f ms, 64 KB text %.2f ms (%d findings)%n",
                perKb, per64, detector.find(big, all).size());
        assertThat(detector.find(big, all)).hasSize(64 * 5);
    }
}
