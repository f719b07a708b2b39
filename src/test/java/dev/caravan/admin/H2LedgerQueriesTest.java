package dev.caravan.admin;

import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

/** The admin API's ledger queries on the default database, an H2 file (a fresh folder per test). */
class H2LedgerQueriesTest extends LedgerQueriesContract {

    @TempDir
    Path dir;

    @Override
    LedgerSettings settings() {
        return new LedgerSettings(true, dir.resolve("data"), null, null, null, 10, 10, Duration.ofMillis(50));
    }
}
