package dev.caravan.policy.guardrail.pii;

import static dev.caravan.policy.guardrail.pii.DetectorFixture.found;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class EmailRecognizerTest {
    @Test
    void anAddressInASentenceIsFoundWithoutTheFullStopAfterIt() {
        assertThat(found("Write to jane.doe@example.com.")).containsExactly("EMAIL:email:jane.doe@example.com");
    }

    @Test
    void aTopLevelDomainNeedsTwoLetters() {
        assertThat(found("a@b.c and a@b.c1 and a@localhost")).isEmpty();
    }

    @Test
    void aLocalPartWithADoubledOrTrailingDotIsNotAnAddress() {
        assertThat(found("a..b@example.com")).noneMatch(s -> s.startsWith("EMAIL:email:a..b"));
        assertThat(found("ab.@example.com")).noneMatch(s -> s.startsWith("EMAIL:email:ab."));
    }

    @Test
    void anSshRemoteIsALoginNotAMailbox() {
        assertThat(found("git clone git@github.com:caravan/caravan.git")).isEmpty();
    }

    @Test
    void packageScopesAndDecoratorsAreNotAddresses() {
        assertThat(found("npm i @types/node@18.11.9, then @Override")).isEmpty();
    }
}
