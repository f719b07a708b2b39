package dev.caravan.responses;

import dev.caravan.policy.ledger.LedgerSettings;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** The stored responses in the gateway's default database, an H2 file under the data folder (a fresh one per test). */
class H2SqlResponseStoreTest extends SqlResponseStoreContract {

    @TempDir
    Path dir;

    @Override
    LedgerSettings settings() {
        return LedgerSettings.fromEnvironment(name -> null, name -> name.equals("caravan.dataDir")
                ? dir.resolve("data").toString() : null);
    }

    @Override
    void dropDatabase() {
        // the folder goes with the test
    }
}
