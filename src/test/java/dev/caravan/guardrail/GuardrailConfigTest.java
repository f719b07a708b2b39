package dev.caravan.guardrail;

import dev.caravan.config.ConfigException;
import dev.caravan.config.ConfigLoader;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.GuardrailConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The guardrails' config: the issue's block loads as written; choices per team and key; bad values named. */
class GuardrailConfigTest {

    private final ConfigLoader loader = new ConfigLoader(name -> "x");

    static final String BASE = """
            providers:
              mock: { type: mock }
            models:
              - name: m
                deployments: [ { provider: mock, model: m } ]
            teams:
              legal: { guardrails: strict }
              open: { guardrails: off }
              sales: {}
            keys:
              - { id: k, sha256: "%s", team: legal }
              - { id: own, sha256: "%s", team: sales, guardrails: strict }
              - { id: none, sha256: "%s", guardrails: "none" }
              - { id: solo, sha256: "%s" }
            """.formatted("a".repeat(64), "b".repeat(64), "c".repeat(64), "d".repeat(64));

    static final String ISSUE_BLOCK = """
            guardrails:
              default: standard                     # the policy applied where a team or key names none; omit for none
              policies:
                standard:
                  pii:
                    entities: [email, phone, card, iban, ssn, ip, secret]
                    input: deidentify
                    output: redact
                  injection: { input: block, threshold: 0.8 }
                  deny: [ "(?i)internal project \\\\w+" ]
                  webhook: { url: "http://guard:8080/check", timeout: 300ms, onError: block }
                strict:
                  pii: { input: block, output: block }
            """;

    @Test
    void theIssuesConfigBlockLoadsAsWritten() throws Exception {
        GuardrailConfig g = loader.parse("test", BASE + ISSUE_BLOCK).guardrails();
        GuardrailConfig.Guard standard = g.policies().get("standard");
        assertThat(standard.pii().entities()).containsExactlyInAnyOrder("email", "phone", "card", "iban", "ssn", "ip", "secret");
        assertThat(standard.pii().input()).isEqualTo("deidentify");
        assertThat(standard.pii().output()).isEqualTo("redact");
        assertThat(standard.injection().input()).isEqualTo("block");
        assertThat(standard.injection().threshold()).isEqualTo(0.8);
        assertThat(standard.deny()).containsExactly("(?i)internal project \\w+");
        assertThat(standard.webhook().url().toString()).isEqualTo("http://guard:8080/check");
        assertThat(standard.webhook().timeout()).isEqualTo(Duration.ofMillis(300));
        assertThat(standard.webhook().onError()).isEqualTo("block");
    }

    @Test
    void aKeyChoosesOverItsTeamAndTheTeamOverTheDefault() throws Exception {
        GuardrailConfig g = loader.parse("test", BASE + ISSUE_BLOCK).guardrails();
        assertThat(g.forCall("k", "legal").name()).isEqualTo("strict");
        assertThat(g.forCall("own", "sales").name()).isEqualTo("strict");
        assertThat(g.forCall("solo", null).name()).isEqualTo("standard");
        assertThat(g.forCall("x", "open")).isNull();
        assertThat(g.forCall("none", null)).isNull();
        assertThat(g.any()).isTrue();
    }

    @Test
    void withoutAGuardrailsBlockNothingApplies() throws Exception {
        GatewayConfig config = loader.parse("test", """
                providers:
                  mock: { type: mock }
                models:
                  - name: m
                    deployments: [ { provider: mock, model: m } ]
                """);
        assertThat(config.guardrails().any()).isFalse();
        assertThat(config.guardrails().forCall("k", null)).isNull();
    }

    @Test
    void bareOffIsOffAndEntitiesDefaultToAll() throws Exception {
        GuardrailConfig g = loader.parse("test", BASE.replace("legal: { guardrails: strict }", "legal: {}")
                .replace("guardrails: strict", "guardrails: off") + """
                guardrails:
                  policies:
                    p: { pii: { input: off, output: mask } }
                """).guardrails();
        assertThat(g.policies().get("p").pii().input()).isEqualTo("off");
        assertThat(g.policies().get("p").pii().entities()).hasSize(7);
        assertThat(g.any()).isFalse(); // no default, and nobody names p
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "guardrails: { default: missing, policies: { p: {} } }|guardrails.default",
            "guardrails: { policies: { p: { pii: { entities: [email, passport] } } } }|entities",
            "guardrails: { policies: { p: { pii: { input: shred } } } }|input",
            "guardrails: { policies: { p: { pii: { output: deidentify } } } }|guardrails.policies.p.pii.output",
            "guardrails: { policies: { p: { deny: [ \"(unclosed\" ] } } }|guardrails.policies.p.deny[0]",
            "guardrails: { policies: { p: { injection: { input: block, threshold: 1.5 } } } }|threshold",
            "guardrails: { policies: { p: { webhook: { url: \"ftp://x/check\" } } } }|url",
            "guardrails: { policies: { p: { webhook: { url: \"http://x/check\", onError: maybe } } } }|onError",
            "guardrails: { policies: { p: { webhook: { url: \"http://x/check\", timeout: forever } } } }|timeout",
            "guardrails: { policies: { p: { colour: red } } }|colour",
    })
    void aBadValueIsRefusedNamingTheField(String block, String field) {
        ConfigException e = catchThrowableOfType(() -> loader.parse("test", BASE.replace("guardrails: strict", "guardrails: off")
                .replace("legal: { guardrails: off }", "legal: {}") + block + "\n"), ConfigException.class);
        assertThat(e).as(block).isNotNull();
        assertThat(String.join("; ", e.problems())).contains(field);
    }

    @Test
    void aTeamNamingAnUndefinedPolicyIsRefused() {
        ConfigException e = catchThrowableOfType(() -> loader.parse("test", BASE + """
                guardrails:
                  policies:
                    standard: {}
                """), ConfigException.class);
        assertThat(String.join("; ", e.problems())).contains("teams.legal.guardrails", "strict", "defined: standard");
    }
}
