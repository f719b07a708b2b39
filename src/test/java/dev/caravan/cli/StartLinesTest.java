package dev.caravan.cli;

import dev.caravan.config.ConfigLoader;
import dev.caravan.config.GatewayConfig;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The start line and the no-key warning, read off a loaded config (the child-JVM test sees them in the log). */
class StartLinesTest {

    private static final String MODELS = """
            providers:
              mock: { type: mock }
            models:
              - name: a
                deployments: [ { id: shared, provider: mock, model: m }, { provider: mock, model: n } ]
              - name: b
                deployments: [ { id: shared, provider: mock, model: m } ]
              - name: c
                deployments: [ { provider: mock, model: o } ]
            """;

    private static GatewayConfig load(String yaml) throws Exception {
        return new ConfigLoader(name -> null).parse("test", yaml);
    }

    @Test
    void theStartLineCountsModelsDistinctDeploymentsKeysAndSaysWhetherItReloads() throws Exception {
        GatewayConfig config = load(MODELS + """
                keys:
                  - { id: one, sha256: %s }
                  - { id: two, sha256: %s }
                """.formatted("a".repeat(64), "b".repeat(64)));
        assertThat(StartLines.summary(config, "0.0.0.0", "4000", true, "127.0.0.1", null))
                .isEqualTo("Caravan listening on 0.0.0.0:4000: 3 models, 3 deployments, 2 keys; reload on");
        assertThat(StartLines.summary(config, "127.0.0.1", "4100", false, "127.0.0.1", "9464"))
                .isEqualTo("Caravan listening on 127.0.0.1:4100: 3 models, 3 deployments, 2 keys; reload off; management on 127.0.0.1:9464");
        assertThat(StartLines.noKeyWarning(config, null)).isEmpty();
    }

    @Test
    void aGatewayWithNoKeyNoMasterKeyAndNoIssuerIsWarnedAbout() throws Exception {
        GatewayConfig none = load(MODELS);
        assertThat(StartLines.noKeyWarning(none, null)).contains(
                "no key can call this gateway: add keys to config/gateway.yaml or set CARAVAN_MASTER_KEY");
        assertThat(StartLines.noKeyWarning(none, "  ")).isPresent();
        assertThat(StartLines.noKeyWarning(none, "a-master-key")).isEmpty();
        assertThat(StartLines.noKeyWarning(load(MODELS + """
                auth:
                  oidc: { issuer: "https://login.example.com", audience: caravan }
                """), null)).isEmpty();
    }
}
