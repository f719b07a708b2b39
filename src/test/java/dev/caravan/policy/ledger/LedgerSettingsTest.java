package dev.caravan.policy.ledger;

import dev.caravan.core.ExchangeKeys;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where the ledger lives and how it writes, from the environment and the properties; and the ledger switched off. */
class LedgerSettingsTest {

    @Test
    void theDefaultsAreAnH2FileUnderDataWithAHundredThousandRowQueue() {
        LedgerSettings settings = LedgerSettings.defaults();
        assertThat(settings.enabled()).isTrue();
        assertThat(settings.dataDir()).isEqualTo(Path.of("data"));
        assertThat(settings.postgres()).isFalse();
        assertThat(settings.jdbcUrl()).startsWith("jdbc:h2:file:").contains("caravan;DB_CLOSE_ON_EXIT=FALSE");
        assertThat(settings.queueCapacity()).isEqualTo(100_000);
        assertThat(settings.batchSize()).isEqualTo(500);
        assertThat(settings.flushInterval()).isEqualTo(Duration.ofMillis(200));
    }

    @Test
    void aPropertyWinsOverItsEnvironmentVariable() {
        Map<String, String> env = Map.of(
                "CARAVAN_DB_URL", "jdbc:postgresql://db:5432/caravan",
                "CARAVAN_DB_USER", "caravan",
                "CARAVAN_DB_PASSWORD", "from-env",
                "CARAVAN_LEDGER_BATCH_SIZE", "100",
                "CARAVAN_LEDGER_QUEUE_CAPACITY", "5000");
        Map<String, String> properties = Map.of(
                "caravan.db.password", "from-properties",
                "caravan.ledger.batchSize", "250",
                "caravan.ledger.flushInterval", "1s");
        LedgerSettings settings = LedgerSettings.fromEnvironment(env::get, properties::get);
        assertThat(settings.postgres()).isTrue();
        assertThat(settings.jdbcUrl()).isEqualTo("jdbc:postgresql://db:5432/caravan");
        assertThat(settings.dbUser()).isEqualTo("caravan");
        assertThat(settings.dbPassword()).isEqualTo("from-properties");
        assertThat(settings.batchSize()).isEqualTo(250);
        assertThat(settings.queueCapacity()).isEqualTo(5000);
        assertThat(settings.flushInterval()).isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void passwordsStayOutOfItsText() {
        LedgerSettings settings = LedgerSettings.fromEnvironment(Map.of(
                "CARAVAN_DB_URL", "jdbc:postgresql://db/caravan?user=u&password=hunter2&ssl=true",
                "CARAVAN_DB_PASSWORD", "swordfish")::get, name -> null);
        assertThat(settings.toString()).doesNotContain("hunter2").doesNotContain("swordfish")
                .contains("password=***&ssl=true");
    }

    @Test
    void aUrlForAnotherDatabaseIsRefused() {
        assertThatThrownBy(() -> LedgerSettings.fromEnvironment(
                Map.of("CARAVAN_DB_URL", "jdbc:mysql://db/caravan")::get, name -> null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("jdbc:postgresql:");
        assertThatThrownBy(() -> LedgerSettings.fromEnvironment(
                Map.of("CARAVAN_LEDGER_BATCH_SIZE", "lots")::get, name -> null))
                .hasMessageContaining("caravan.ledger.batchSize");
    }

    @Test
    void aLedgerSwitchedOffOpensNothingAndRecordsNothing(@TempDir Path dir) {
        LedgerSettings settings = LedgerSettings.fromEnvironment(Map.of(
                "CARAVAN_LEDGER_ENABLED", "false", "CARAVAN_DATA_DIR", dir.resolve("data").toString())::get,
                name -> null);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (Ledger ledger = Ledger.open(settings, registry);
             ThroughThePolicies gateway = new ThroughThePolicies(ledger.policy())) {
            gateway.request(asked -> asked.setProperty(ExchangeKeys.REQUEST_ID, "req_1"),
                    ended -> ended.setProperty(ExchangeKeys.COST_NANOS, 5L));
            ledger.windowOpened("key", "k", LedgerContract.HOUR, System.currentTimeMillis());
            assertThat(ledger.currentWindow("key", "k", LedgerContract.HOUR, System.currentTimeMillis())).isEmpty();
        }
        assertThat(dir.resolve("data")).doesNotExist();
        assertThat(registry.getMeters()).isEmpty();
    }
}
