package dev.caravan.cost;

import dev.caravan.TestGateway;
import dev.caravan.config.ConfigException;
import dev.caravan.config.ConfigLoader;
import dev.caravan.config.GatewayConfig;
import dev.caravan.config.KeyConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.time.Instant;
import java.util.Map;

import static dev.caravan.cost.CostFixtures.sha;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** The cost-control config: the issue's block loads as written; each bad value is refused naming its field. */
class CostConfigTest {

    private final ConfigLoader loader = new ConfigLoader(name -> "x");

    static final String CONTRACT = """
            providers:
              openai: { type: openai, apiKey: "${env:OPENAI_API_KEY}" }
            teams:
              search: { budget: { usd: 100, period: 30d, alertAt: 80 }, limits: { rpm: 600, tpm: 200000 }, models: [gpt-4o-mini] }
            keys:
              - { id: search-prod, sha256: "%s", team: search, role: user, limits: { rpm: 60, tpm: 20000 }, budget: { usd: 5, period: 1d }, models: [gpt-4o-mini], expires: 2027-06-30 }
            models:
              - name: gpt-4o-mini
                limits: { rpm: 3000, tpm: 1000000 }
                deployments:
                  - { provider: openai, model: gpt-4o-mini, price: { input: 0.15, output: 0.60, cachedInput: 0.075 } }
                  - { id: from-the-table, provider: openai, model: gpt-4o-mini-2024-07-18 }
                  - { id: unpriced, provider: openai, model: some-private-model }
            """.formatted("a".repeat(64));

    @Test
    void theIssuesConfigBlockLoadsAsWritten() throws Exception {
        GatewayConfig config = loader.parse("test", CONTRACT);
        var team = config.team("search").orElseThrow();
        assertThat(team.limits().rpm()).isEqualTo(600);
        assertThat(team.limits().tpm()).isEqualTo(200_000);
        assertThat(team.budget().limitNanos()).isEqualTo(100_000_000_000L);
        assertThat(team.budget().alertAtNanos()).isEqualTo(80_000_000_000L);
        assertThat(team.budget().period().text()).isEqualTo("30d");
        KeyConfig key = config.keysBySha256().get("a".repeat(64));
        assertThat(key.limits().rpm()).isEqualTo(60);
        assertThat(key.budget().limitNanos()).isEqualTo(5_000_000_000L);
        assertThat(key.expiresAt()).isEqualTo(Instant.parse("2027-07-01T00:00:00Z"));
        var model = config.model("gpt-4o-mini").orElseThrow();
        assertThat(model.limits().rpm()).isEqualTo(3000);
        assertThat(model.deployments().get(0).price().cachedInput()).isEqualTo(0.075);
        assertThat(model.deployments().get(1).price().source()).as("a dated name takes its family's price").isEqualTo("prices.yaml");
        assertThat(model.deployments().get(1).price().output()).isEqualTo(0.60);
        assertThat(model.deployments().get(2).price()).isNull();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "budget: { usd: -5, period: 1d }|keys[0].budget.usd",
            "budget: { usd: 5, period: 2w }|period",
            "budget: { usd: 5, period: 1d, alertAt: 9 }|keys[0].budget.alertAt",
            "team: nobody|keys[0].team: team 'nobody' is not defined under teams",
            "limits: { rpm: -1 }|rpm",
            "expires: next-tuesday|keys[0].expires",
    })
    void aBadValueIsRefusedNamingItsField(String field, String named) {
        String yaml = """
                providers:
                  mock: { type: mock }
                models:
                  - name: m
                    deployments: [ { provider: mock, model: m } ]
                keys:
                  - { id: k, sha256: "%s", %s }
                """.formatted("b".repeat(64), field);
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> loader.parse("test", yaml));
        assertThat(String.join("\n", e.problems())).contains(named);
    }

    @Test
    void anUnparseablePriceIsRefusedNamingItsField() {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> loader.parse("test", """
                providers:
                  mock: { type: mock }
                models:
                  - name: m
                    deployments: [ { provider: mock, model: m, price: { input: cheap, output: 1 } } ]
                """));
        assertThat(String.join("\n", e.problems())).contains("price").contains("input");
    }

    @Test
    void aBadBudgetInAReloadIsRefusedAndTheRunningConfigKeepsServing() throws Exception {
        String good = """
                providers:
                  mock: { type: mock }
                models:
                  - name: m
                    deployments: [ { provider: mock, model: m } ]
                keys:
                  - { id: k, sha256: "%s", budget: { usd: 5, period: 1d } }
                """.formatted(sha("k-reload"));
        try (TestGateway gateway = TestGateway.start(good)) {
            Files.writeString(gateway.configFile(), good.replace("usd: 5", "usd: -5"));
            TestGateway.eventually(() -> gateway.metric("caravan_config_reload_total{kind=\"config\",result=\"failure\"}") >= 1,
                    "the refused reload is counted");
            assertThat(CostFixtures.chat(gateway, "k-reload", "m").statusCode()).isEqualTo(200);
        }
    }
}
